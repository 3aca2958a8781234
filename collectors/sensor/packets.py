"""The raw-header fast path: link, IPv4/IPv6 and TCP/UDP headers read with `struct`, no scapy.

Full scapy dissection runs at a few thousand packets per second; connection summaries and the
scan indicator only need the 5-tuple, sizes and TCP flags, so every packet goes through
`decode` and only DNS payloads are handed to scapy.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

ETHERNET, RAW, LINUX_SLL, NULL, RAW_IPV4, RAW_IPV6 = 1, 101, 113, 0, 228, 229
_VLAN = (0x8100, 0x88A8)
_TCP, _UDP = 6, 17
_TRANSPORT = {_TCP: "tcp", _UDP: "udp", 1: "icmp", 58: "ipv6-icmp"}
_IP6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options (skipped to the transport)


class Malformed(ValueError):
    """A packet whose headers cannot be read; counted by the sensor, never fatal."""


@dataclass(slots=True)
class Packet:
    ts: float
    src: str
    dst: str
    proto: str
    sport: int
    dport: int
    ip_bytes: int
    """IP total length (header included), as Zeek counts `orig_ip_bytes`."""
    payload: bytes
    flags: int = 0
    """TCP flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16); 0 for other transports."""
    seq: int = 0


def decode(linktype: int, data: bytes, ts: float) -> Packet | None:
    """The packet's IP view, None for non-IP frames; raises `Malformed` for truncated headers."""
    try:
        ethertype, at = _link(linktype, data)
        if ethertype == 0x0800:
            return _ipv4(data, at, ts)
        if ethertype == 0x86DD:
            return _ipv6(data, at, ts)
        return None
    except (struct.error, IndexError, OSError) as exc:
        raise Malformed(str(exc)) from exc


def _link(linktype: int, data: bytes) -> tuple[int, int]:
    if linktype == ETHERNET:
        (ethertype,) = struct.unpack_from("!H", data, 12)
        at = 14
        while ethertype in _VLAN:
            (ethertype,) = struct.unpack_from("!H", data, at + 2)
            at += 4
        return ethertype, at
    if linktype == LINUX_SLL:
        return struct.unpack_from("!H", data, 14)[0], 16
    if linktype == NULL:
        family = struct.unpack_from("=I", data, 0)[0]
        return (0x0800 if family == 2 else 0x86DD), 4
    if linktype in (RAW, RAW_IPV4, RAW_IPV6, 12, 14):
        version = data[0] >> 4
        return (0x0800 if version == 4 else 0x86DD), 0
    raise Malformed(f"unsupported link type {linktype}")


def _ipv4(data: bytes, at: int, ts: float) -> Packet:
    ver_ihl, total, frag, proto = data[at], *struct.unpack_from("!H2xH1xB", data, at + 2)
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < 20 or total < ihl:
        raise Malformed("bad IPv4 header")
    src = socket.inet_ntop(socket.AF_INET, data[at + 12 : at + 16])
    dst = socket.inet_ntop(socket.AF_INET, data[at + 16 : at + 20])
    end = min(len(data), at + total)
    if frag & 0x1FFF:  # a later fragment: no transport header in it
        return Packet(ts, src, dst, _TRANSPORT.get(proto, str(proto)), 0, 0, total, b"")
    return _transport(data, at + ihl, end, proto, src, dst, total, ts)


def _ipv6(data: bytes, at: int, ts: float) -> Packet:
    if data[at] >> 4 != 6:
        raise Malformed("bad IPv6 header")
    (plen,) = struct.unpack_from("!H", data, at + 4)
    nxt = data[at + 6]
    src = socket.inet_ntop(socket.AF_INET6, data[at + 8 : at + 24])
    dst = socket.inet_ntop(socket.AF_INET6, data[at + 24 : at + 40])
    end = min(len(data), at + 40 + plen)
    pos = at + 40
    while nxt in _IP6_EXTENSIONS:
        nxt, size = data[pos], (data[pos + 1] + 1) * 8
        pos += size
    return _transport(data, pos, end, nxt, src, dst, 40 + plen, ts)


def _transport(
    data: bytes, at: int, end: int, proto: int, src: str, dst: str, size: int, ts: float
) -> Packet:
    name = _TRANSPORT.get(proto, str(proto))
    if proto == _TCP:
        sport, dport, seq, off_flags = struct.unpack_from("!HHI4xH", data, at)
        offset = (off_flags >> 12) * 4
        if offset < 20:
            raise Malformed("bad TCP header length")
        return Packet(ts, src, dst, name, sport, dport, size, data[at + offset : end], off_flags & 0x3F, seq)
    if proto == _UDP:
        sport, dport = struct.unpack_from("!HH", data, at)
        return Packet(ts, src, dst, name, sport, dport, size, data[at + 8 : end])
    return Packet(ts, src, dst, name, 0, 0, size, b"")
