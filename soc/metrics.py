"""Prometheus metrics of one service instance (a registry per app, so tests do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingest_requests = Counter(
            "soc_ingest_requests", "Ingest requests by HTTP status.", ["status"], registry=self.registry
        )
        self.ingest_events = Counter(
            "soc_ingest_events",
            "Events received, by agency and outcome (created, duplicate, rejected, unparsed).",
            ["agency", "outcome"],
            registry=self.registry,
        )
        self.ingest_bytes = Counter("soc_ingest_bytes", "Request bytes received.", registry=self.registry)
        self.ingest_seconds = Histogram(
            "soc_ingest_seconds", "Time to store one ingest request.", registry=self.registry
        )
