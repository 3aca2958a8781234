"""The sensor: packets in, DNS, connection and scan events out.

Every packet goes through the raw-header fast path; only DNS payloads (port 53, UDP datagrams or
length-prefixed TCP messages reassembled per direction) are dissected by scapy. A packet whose
headers cannot be read is counted in `stats.malformed` and skipped: nothing a capture contains
may stop the sensor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from collectors.sensor import dns
from collectors.sensor.conn import Table, iso
from collectors.sensor.packets import Malformed, Packet, decode
from collectors.sensor.scan import ScanDetector

log = logging.getLogger(__name__)
DNS_PORT = 53
MAX_TCP_BUFFER = 128 * 1024
"""A DNS-over-TCP stream holding more unframed bytes than this is dropped as garbage."""
Frame = tuple[int, bytes, float]
"""(link type, frame bytes, capture time in seconds)."""


@dataclass
class Stats:
    packets: int = 0
    malformed: int = 0
    non_ip: int = 0
    dns_messages: int = 0
    dns_malformed: int = 0


@dataclass
class Sensor:
    conns: Table = field(default_factory=Table)
    scans: ScanDetector = field(default_factory=ScanDetector)
    expire_every_seconds: float = 1.0
    stats: Stats = field(default_factory=Stats)
    _streams: dict[tuple[str, int, str, int], tuple[int, bytearray]] = field(default_factory=dict)
    _next_expiry: float = 0.0
    _next_scan_expiry: float = 0.0

    def run(self, frames: Iterable[Frame]) -> Iterator[dict[str, Any]]:
        """All events of a capture, the open connections' summaries last."""
        for frame in frames:
            yield from self.packet(*frame)
        yield from self.finish()

    def packet(self, linktype: int, data: bytes, ts: float) -> list[dict[str, Any]]:
        self.stats.packets += 1
        try:
            p = decode(linktype, data, ts)
        except Malformed:
            self.stats.malformed += 1
            return []
        if p is None:
            self.stats.non_ip += 1
            return []
        out: list[dict[str, Any]] = []
        reply = p.proto == "udp" and p.sport == DNS_PORT and len(p.payload) > 2 and bool(p.payload[2] & 0x80)
        self.conns.add(p, from_responder=reply)
        for attempt in self.conns.new_attempts:
            out += self.scans.add(attempt)
        self.conns.new_attempts.clear()
        if DNS_PORT in (p.sport, p.dport) and p.payload:
            out += self._dns(p)
        if ts >= self._next_expiry:
            out += self.conns.expire(ts)
            if ts >= self._next_scan_expiry:
                self.scans.expire(ts)
                self._next_scan_expiry = ts + self.scans.window_seconds
            self._next_expiry = ts + self.expire_every_seconds
        return out

    def finish(self) -> Iterator[dict[str, Any]]:
        yield from self.conns.flush()
        self._streams.clear()

    def _dns(self, p: Packet) -> list[dict[str, Any]]:
        if p.proto == "udp":
            return [self._dns_event(p, p.payload)]
        if p.proto != "tcp":
            return []
        key = (p.src, p.sport, p.dst, p.dport)
        expected, buf = self._streams.get(key, (p.seq, bytearray()))
        if p.seq != expected:  # retransmission or a gap: resynchronise on this segment
            buf.clear()
        buf += p.payload
        self._streams[key] = ((p.seq + len(p.payload)) & 0xFFFFFFFF, buf)
        out = []
        while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
            size = int.from_bytes(buf[:2], "big")
            out.append(self._dns_event(p, bytes(buf[2 : 2 + size])))
            del buf[: 2 + size]
        if len(buf) > MAX_TCP_BUFFER:
            buf.clear()
        return out

    def _dns_event(self, p: Packet, msg: bytes) -> dict[str, Any]:
        self.stats.dns_messages += 1
        ev = dns.event(p, msg)
        ev["@timestamp"] = iso(p.ts)
        if "error" in ev:
            self.stats.dns_malformed += 1
        return ev
