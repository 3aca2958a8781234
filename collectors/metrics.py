"""The collector's Prometheus metrics (own registry, so several pipelines can live in one process)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

if TYPE_CHECKING:
    from collectors.pipeline import Pipeline
    from collectors.spool import Spool


class Metrics:
    def __init__(self, spool: Spool) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.spool = spool
        self.events_in = Counter("soc_collector_events_in", "Records read, by source", ["source"], registry=r)
        self.bytes_in = Counter("soc_collector_bytes_in", "Bytes read, by source", ["source"], registry=r)
        self.events_out = Counter(
            "soc_collector_events_out",
            "Events delivered, by sink and outcome",
            ["sink", "outcome"],
            registry=r,
        )
        self.events_unparsed = Counter(
            "soc_collector_events_unparsed",
            "Records no parser understood, by source (shipped as generic events with error.message)",
            ["source"],
            registry=r,
        )
        self.heartbeats = Counter("soc_collector_heartbeats", "Heartbeat events spooled", registry=r)
        self.retries = Counter("soc_collector_retries", "Batches sent again", ["sink"], registry=r)
        self.spool_bytes = Gauge("soc_collector_spool_bytes", "Bytes waiting in the spool", registry=r)
        self.drops = Counter("soc_collector_dropped_events", "Events dropped (always 0: none is)", registry=r)
        Gauge(
            "soc_collector_spool_full_waits", "Times a writer waited for a full spool", registry=r
        ).set_function(lambda: spool.full_waits)
        Gauge(
            "soc_collector_spool_corrupt_frames", "Spool frames skipped for a bad checksum", registry=r
        ).set_function(lambda: spool.corrupt_frames)
        self.restarts = Counter(
            "soc_collector_restarts",
            "Components started again after an unforeseen failure",
            ["component"],
            registry=r,
        )
        self.paused_seconds = Counter(
            "soc_collector_paused_seconds", "Time file sources waited under the EPS cap", registry=r
        )

    def watch_rate_limit(self, pipeline: Pipeline) -> None:
        r = self.registry
        Gauge(
            "soc_collector_backlog_events", "Events spooled and not yet delivered", registry=r
        ).set_function(lambda: pipeline.backlog)
        Gauge(
            "soc_collector_rate_limited_seconds", "Time delivery waited for the EPS cap", registry=r
        ).set_function(lambda: pipeline.bucket.waited_seconds if pipeline.bucket else 0.0)

    def serve(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"spool_bytes": self.spool.pending_bytes, "dropped": 0}
        for metric in (self.events_in, self.events_out, self.events_unparsed):
            for sample in next(iter(metric.collect())).samples:
                if sample.name.endswith("_total"):
                    label = "_".join(sample.labels.values())
                    out[f"{sample.name.removeprefix('soc_collector_').removesuffix('_total')}_{label}"] = (
                        sample.value
                    )
        return out
