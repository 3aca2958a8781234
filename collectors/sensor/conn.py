"""Connection summaries modelled on Zeek's conn.log, kept from raw headers only.

The originator is the sender of the first packet seen, except that a first SYN-ACK or DNS
response means we missed the request and its receiver originated. States are Zeek's:
S0 (attempt, no reply), REJ (attempt rejected by RST), S1 (established, not closed),
SF (closed normally), RSTO/RSTR (aborted by originator/responder), SH (SYN then FIN, no
reply), OTH (no SYN seen). A closed connection is reported after `linger_seconds` (late ACKs
stay in it), an idle one after the transport's inactivity timeout (Zeek: TCP 5 min, UDP
1 min), the rest when the capture ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.sensor.packets import Packet

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
DATASET = "network.conn"
Key = tuple[str, int, str, int, str]


@dataclass(slots=True)
class Conn:
    key: Key
    """(orig ip, orig port, resp ip, resp port, transport)."""
    start: float
    last: float
    orig_packets: int = 0
    orig_bytes: int = 0
    resp_packets: int = 0
    resp_bytes: int = 0
    history: set[str] = field(default_factory=set)
    closed_at: float | None = None

    def state(self) -> str:
        h = self.history
        if self.key[4] != "tcp":
            return "SF" if self.resp_packets and self.orig_packets else ("S0" if self.orig_packets else "OTH")
        if "S" not in h:
            return "OTH"
        established = "H" in h
        if "r" in h:
            return "RSTR" if established else "REJ"
        if "R" in h:
            return "RSTO" if established else "S0"
        if established:
            return "SF" if ("F" in h and "f" in h) else "S1"
        return "SH" if "F" in h else "S0"

    def to_event(self) -> dict[str, Any]:
        src, sport, dst, dport, proto = self.key
        duration = max(0.0, self.last - self.start)
        return {
            "@timestamp": iso(self.start),
            "event": {
                "kind": "event",
                "category": ["network"],
                "type": ["connection", "end"],
                "dataset": DATASET,
                "start": iso(self.start),
                "end": iso(self.last),
                "duration": round(duration * 1e6) * 1000,  # captures keep microseconds
            },
            "source": {"ip": src, "port": sport, "bytes": self.orig_bytes, "packets": self.orig_packets},
            "destination": {"ip": dst, "port": dport, "bytes": self.resp_bytes, "packets": self.resp_packets},
            "network": {
                "transport": proto,
                "bytes": self.orig_bytes + self.resp_bytes,
                "packets": self.orig_packets + self.resp_packets,
            },
            # the name the detection pipeline maps Sigma's Zeek `conn_state` to
            "zeek": {"conn": {"state": self.state()}},
        }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Table:
    tcp_timeout: float = 300.0
    udp_timeout: float = 60.0
    linger_seconds: float = 5.0
    conns: dict[Key, Conn] = field(default_factory=dict)
    new_attempts: list[Packet] = field(default_factory=list)
    """Packets that opened a connection (TCP SYN or first UDP datagram), for the scan indicator."""

    def add(self, p: Packet, from_responder: bool = False) -> None:
        """Counts `p`; `from_responder` says a first packet was a reply (a DNS response)."""
        fwd: Key = (p.src, p.sport, p.dst, p.dport, p.proto)
        conn = self.conns.get(fwd)
        orig = True
        if conn is None:
            rev: Key = (p.dst, p.dport, p.src, p.sport, p.proto)
            conn = self.conns.get(rev)
            orig = False
        if conn is None:
            orig = not (p.flags & SYN and p.flags & ACK) and not from_responder
            key = fwd if orig else (p.dst, p.dport, p.src, p.sport, p.proto)
            conn = self.conns[key] = Conn(key, p.ts, p.ts)
            if (p.proto == "tcp" and p.flags & SYN and not p.flags & ACK) or p.proto != "tcp":
                self.new_attempts.append(p)
        conn.last = max(conn.last, p.ts)
        if orig:
            conn.orig_packets += 1
            conn.orig_bytes += p.ip_bytes
        else:
            conn.resp_packets += 1
            conn.resp_bytes += p.ip_bytes
        if p.proto == "tcp":
            self._flags(conn, p.flags, orig, p.ts)

    def _flags(self, conn: Conn, flags: int, orig: bool, ts: float) -> None:
        h = conn.history
        if flags & SYN:
            h.add("S" if orig and not flags & ACK else "h" if not orig and flags & ACK else "s")
        if flags & ACK and orig and "h" in h:
            h.add("H")  # the originator acknowledged the SYN-ACK: established
        if flags & FIN:
            h.add("F" if orig else "f")
        if flags & RST:
            h.add("R" if orig else "r")
        if ("F" in h and "f" in h) or flags & RST:
            conn.closed_at = conn.closed_at or ts

    def expire(self, now: float) -> Iterator[dict[str, Any]]:
        """Events for connections closed or idle long enough at packet time `now`."""
        done = []
        for key, c in self.conns.items():
            idle = self.tcp_timeout if key[4] == "tcp" else self.udp_timeout
            if (c.closed_at is not None and now - c.closed_at >= self.linger_seconds) or now - c.last >= idle:
                done.append(key)
        for key in done:
            yield self.conns.pop(key).to_event()

    def flush(self) -> Iterator[dict[str, Any]]:
        for conn in sorted(self.conns.values(), key=lambda c: c.start):
            yield conn.to_event()
        self.conns.clear()
