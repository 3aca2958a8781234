"""The port-scan indicator, with Zeek's scan.zeek thresholds and meanings.

A *port scan* is one source opening connections to at least `ports` distinct ports of one host;
an *address scan* is one source opening connections to the same port on at least `hosts`
distinct hosts; both within `window_seconds` of packet time. Each (source, target) pair is
reported once per window, so a long scan is one event per 5 minutes rather than a flood.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from collectors.sensor.conn import iso
from collectors.sensor.packets import Packet

DATASET = "network.scan"


@dataclass
class ScanDetector:
    ports: int = 15
    hosts: int = 25
    window_seconds: float = 300.0
    _by_host: dict[tuple[str, str], dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    _by_port: dict[tuple[str, int], dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    _reported: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, p: Packet) -> list[dict[str, Any]]:
        out = []
        ports = self._by_host[(p.src, p.dst)]
        ports[p.dport] = p.ts
        self._prune(ports, p.ts)
        if len(ports) >= self.ports and self._first((p.src, f"port:{p.dst}"), p.ts):
            out.append(self._event(p, "port_scan", sorted(ports), [p.dst], ports))
        hosts = self._by_port[(p.src, p.dport)]
        hosts[p.dst] = p.ts
        self._prune(hosts, p.ts)
        if len(hosts) >= self.hosts and self._first((p.src, f"host:{p.dport}"), p.ts):
            out.append(self._event(p, "address_scan", [p.dport], sorted(hosts), hosts))
        return out

    def expire(self, now: float) -> None:
        """Forget sources quiet for a whole window, so a long capture's memory stays bounded."""
        window = self.window_seconds
        for key in [k for k, seen in self._by_host.items() if now - max(seen.values(), default=0) > window]:
            del self._by_host[key]
        for port_key in [
            k for k, seen in self._by_port.items() if now - max(seen.values(), default=0) > window
        ]:
            del self._by_port[port_key]
        for done in [k for k, at in self._reported.items() if now - at > window]:
            del self._reported[done]

    def _prune(self, seen: dict[Any, float], now: float) -> None:
        for k in [k for k, ts in seen.items() if now - ts > self.window_seconds]:
            del seen[k]

    def _first(self, key: tuple[str, str], now: float) -> bool:
        last = self._reported.get(key)
        if last is not None and now - last < self.window_seconds:
            return False
        self._reported[key] = now
        return True

    def _event(
        self, p: Packet, action: str, ports: list[int], hosts: list[str], seen: dict[Any, float]
    ) -> dict[str, Any]:
        start = min(seen.values())
        what = (
            f"{len(ports)} ports of {hosts[0]}"
            if action == "port_scan"
            else f"port {ports[0]} on {len(hosts)} hosts"
        )
        return {
            "@timestamp": iso(p.ts),
            "event": {
                "kind": "alert",
                "category": ["network", "intrusion_detection"],
                "type": ["info"],
                "action": action,
                "dataset": DATASET,
                "start": iso(start),
                "end": iso(p.ts),
            },
            "message": f"{p.src} touched {what} within {int(self.window_seconds)} s",
            "source": {"ip": p.src},
            "destination": {"ip": hosts[0]} if len(hosts) == 1 else {},
            # no ECS name for the probed set: it stays in the dataset's namespace (network.scan)
            "network": {"transport": p.proto, "scan": {"ports": ports[:100], "hosts": hosts[:100]}},
        }
