"""DNS messages to ECS `dns.*` events, modelled on Zeek's dns.log, dissected by scapy.

Client and server are told apart by the QR flag, never by packet order or port: a response's
sender is the server, so `source.*` is always the client and `destination.*` the server, as in
Zeek's `id.orig_*`/`id.resp_*`. Answers are rendered the way Zeek renders them (`TXT 19 text`,
`RRSIG 5 signer`, names lower-cased without the final dot) so that rules written against Zeek
match. The question name is first walked by a strict reader (label lengths, backward pointers
only, 255 bytes) that also reads the header and question; scapy dissects only the answers.
A message that fails the walk is emitted marked malformed, whatever scapy would make of it.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from scapy.config import conf
from scapy.layers.dns import DNS, dnsqtypes

from collectors.sensor.packets import Packet

conf.logLevel = logging.ERROR  # scapy warns on every decompression loop; we count them instead
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
DATASET = "network.dns"


def read_question(msg: bytes) -> tuple[str | None, tuple[str, int] | None]:
    """(why the message is malformed or None, (first question's name, qtype) or None).

    The strict walk that guards scapy also yields the question, so queries and answer-less
    replies never need scapy at all: that is most of the DNS speed-up.
    """
    if len(msg) < 12:
        return "message shorter than a DNS header", None
    if struct.unpack_from("!H", msg, 4)[0] == 0:
        return None, None
    pos, length, hops, end = 12, 0, 0, 0
    labels: list[bytes] = []
    while True:
        if pos >= len(msg):
            return "name runs past the end of the message", None
        size = msg[pos]
        if size == 0:
            end = end or pos + 1
            break
        if size & 0xC0 == 0xC0:
            if pos + 1 >= len(msg):
                return "truncated compression pointer", None
            target = ((size & 0x3F) << 8) | msg[pos + 1]
            if target >= pos or hops > 64:
                return "compression pointer does not point backwards", None
            end = end or pos + 2
            pos, hops = target, hops + 1
            continue
        if size & 0xC0:
            return f"invalid label type {size >> 6}", None
        length += size + 1
        if length > 255:
            return "name longer than 255 bytes", None
        labels.append(msg[pos + 1 : pos + 1 + size])
        pos += size + 1
    if end + 4 > len(msg):
        return "question runs past the end of the message", None
    return None, (_name(b".".join(labels)), struct.unpack_from("!H", msg, end)[0])


def event(pkt: Packet, msg: bytes) -> dict[str, Any]:
    """One `network.dns` event for one DNS message; malformed ones carry `error.message`."""
    problem, question = read_question(msg)
    qr = bool(msg[2] & 0x80) if len(msg) > 2 else False
    sender, receiver = (pkt.src, pkt.sport), (pkt.dst, pkt.dport)
    client, server = (receiver, sender) if qr else (sender, receiver)
    ev: dict[str, Any] = {
        "event": {"kind": "event", "category": ["network"], "type": ["protocol"], "dataset": DATASET},
        "network": {"transport": pkt.proto, "protocol": "dns", "bytes": pkt.ip_bytes},
        "source": {"ip": client[0], "port": client[1]},
        "destination": {"ip": server[0], "port": server[1]},
        "dns": {"type": "answer" if qr else "query"},
    }
    if len(msg) >= 2:
        ev["dns"]["id"] = struct.unpack_from("!H", msg, 0)[0]
    if problem is None:
        _header(ev["dns"], msg, question)
        if qr and struct.unpack_from("!H", msg, 6)[0]:
            try:
                # authority and additional records (EDNS OPT, glue) are not reported: zeroing
                # their counts keeps scapy from dissecting them, a large share of its time
                _answers(ev["dns"], DNS(msg[:8] + b"\x00\x00\x00\x00" + msg[12:]))
            except Exception as exc:  # scapy raises many types on hostile input; none may escape
                problem = f"undecodable DNS message: {type(exc).__name__}: {exc}"
    if problem is not None:
        ev["error"] = {"message": problem}
        ev["tags"] = ["malformed"]
    return ev


def _header(out: dict[str, Any], msg: bytes, question: tuple[str, int] | None) -> None:
    (bits,) = struct.unpack_from("!H", msg, 2)
    names = (("AA", 10), ("TC", 9), ("RD", 8), ("RA", 7), ("AD", 5), ("CD", 4))
    out["header_flags"] = [name for name, bit in names if bits >> bit & 1]
    opcode = bits >> 11 & 0xF
    out["op_code"] = "QUERY" if opcode == 0 else str(opcode)
    if question is not None:
        out["question"] = {"name": question[0], "type": _qtype(question[1])}
    if out["type"] == "answer":
        out["response_code"] = RCODES.get(bits & 0xF, str(bits & 0xF))


def _answers(out: dict[str, Any], d: DNS) -> None:
    answers = [_answer(rr) for rr in (d.an or [])]
    if answers:
        out["answers"] = answers
        resolved = [a["data"] for a in answers if a["type"] in ("A", "AAAA")]
        if resolved:
            out["resolved_ip"] = resolved


def _answer(rr: Any) -> dict[str, Any]:
    kind = _qtype(int(rr.type))
    return {"name": _name(rr.rrname), "type": kind, "ttl": int(rr.ttl), "data": _data(kind, rr)}


def _data(kind: str, rr: Any) -> str:
    if kind == "RRSIG":
        return f"RRSIG {int(rr.typecovered)} {_name(rr.signersname)}"
    rdata = rr.rdata
    if kind in ("TXT", "SPF"):
        strings = rdata if isinstance(rdata, list) else _strings(bytes(rdata))
        return " ".join(f"{kind} {len(s)} {s.decode('utf-8', 'replace')}" for s in strings)
    if isinstance(rdata, bytes) and kind in ("CNAME", "NS", "PTR", "DNAME"):
        return _name(rdata)
    if isinstance(rdata, bytes):
        return rdata.decode("utf-8", "replace")
    return str(rdata)


def _strings(raw: bytes) -> list[bytes]:
    """RFC 1035 character-strings (length byte + text), as scapy leaves SPF rdata."""
    out, pos = [], 0
    while pos < len(raw):
        size = raw[pos]
        out.append(raw[pos + 1 : pos + 1 + size])
        pos += size + 1
    return out


def _name(raw: Any) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.rstrip(".").lower()


def _qtype(code: int) -> str:
    return str(dnsqtypes.get(code, code))
