"""Resources two components must not share: files, ports, interfaces, the spool and checkpoints.

Each component claims what it uses (`resources()` of sources: `file:<glob>`, `udp:<host:port>`,
`tcp:<host:port>`, `interface:<name>`; the collector itself: its `data_dir`, where the spool and
the checkpoints live, and its metrics port). Two claims clash when
- two sources read the same files: equal globs, one glob matching the other, or a file on disk
  matched by both (each would tail it with its own reader: every line twice, checkpoints fought
  over);
- two listeners share a protocol and port on the same or a wildcard address (the second bind
  fails at run time, or with SO_REUSEADDR on UDP, steals part of the traffic);
- two captures use one interface with overlapping filters (every packet counted twice);
- two collectors share a data directory or one's lies inside another's (one spool, one
  checkpoint file for two writers: records acked by the wrong sink, offsets overwritten);
- a source reads the collector's own data directory (it would ship its spool back to itself).
Claims from several collector.yml files are checked together (`soc-collector validate --config
a.yml --config b.yml`), since collectors on one server clash the same way.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass
from itertools import combinations

WILDCARDS = {"", "0.0.0.0", "::", "*"}  # noqa: S104 - compared with, never bound


@dataclass(frozen=True)
class Claim:
    resource: str
    """`kind:value`: file:<glob>, udp:<host:port>, tcp:<host:port>, interface:<name>, state:<dir>."""
    owner: str
    """Who claims it, e.g. `sources.web` or `data_dir`."""
    where: str
    """`file:line` of the claim."""
    detail: str = ""
    """Extra context for the comparison (a capture's BPF filter)."""


def problems(claims: list[Claim]) -> list[str]:
    """One `file:line: …` line per clashing pair, reported at the later claim."""
    out = []
    for a, b in combinations(claims, 2):
        why = _clash(a, b)
        if why:
            out.append(f"{b.where}: {b.owner} {why} {a.owner} ({a.where})")
    return out


def _clash(a: Claim, b: Claim) -> str:
    kind_a, _, value_a = a.resource.partition(":")
    kind_b, _, value_b = b.resource.partition(":")
    kinds = {kind_a, kind_b}
    if kinds == {"file"} and _same_files(value_a, value_b):
        return "reads the same files as"
    if kind_a == kind_b and kind_a in ("udp", "tcp") and _same_port(value_a, value_b):
        return f"listens on the same {kind_a.upper()} port as"
    overlapping = not a.detail or not b.detail or a.detail == b.detail
    if kinds == {"interface"} and value_a == value_b and overlapping:
        return "captures the same packets (same interface, overlapping filter) as"
    if kinds == {"state"} and _nested(value_a, value_b):
        return "shares its spool and checkpoints with"
    if kinds == {"file", "state"}:
        pattern, state = (value_a, value_b) if kind_a == "file" else (value_b, value_a)
        if _reads_into(pattern, state):
            return (
                "reads the collector's own spool and checkpoints in"
                if kind_a == "state"
                else "has its spool and checkpoints read by"
            )
    return ""


def _same_files(a: str, b: str) -> bool:
    if a == b or _matches(a, b) or _matches(b, a):
        return True
    return bool(set(glob.glob(a)) & set(glob.glob(b)))


def _matches(path: str, pattern: str) -> bool:
    """Glob semantics (a wildcard never crosses `/`), unlike fnmatch on the whole path."""
    parts, wanted = os.path.abspath(path).split("/"), os.path.abspath(pattern).split("/")
    return len(parts) == len(wanted) and all(map(fnmatch.fnmatchcase, parts, wanted))


def _same_port(a: str, b: str) -> bool:
    host_a, _, port_a = a.rpartition(":")
    host_b, _, port_b = b.rpartition(":")
    if port_a != port_b or port_a == "0":  # port 0: the kernel picks a free one each time
        return False
    host_a, host_b = host_a.strip("[]"), host_b.strip("[]")
    return host_a == host_b or host_a in WILDCARDS or host_b in WILDCARDS


def _nested(a: str, b: str) -> bool:
    a, b = os.path.abspath(a), os.path.abspath(b)
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def _reads_into(pattern: str, directory: str) -> bool:
    base = os.path.abspath(directory)
    own = ("spool/seg-000000000001.log", "spool/ack", "checkpoints.json", "rejected.ndjson")
    return any(_matches(f"{base}/{name}", pattern) for name in own)
