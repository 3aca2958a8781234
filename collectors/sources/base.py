"""What a source hands on: records with the identity and byte range they came from."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Record:
    """One log record: `data` are its raw bytes, `offset`/`end` its byte range in `source`.

    `source` is a stable identity (a file's content fingerprint, a listener's address) so that the
    event id derived from (host, source, offset) is the same every time the record is re-read.
    """

    source: str
    offset: int
    end: int
    data: bytes
    path: str | None = None
    flags: tuple[str, ...] = ()
    checkpoint: str | None = None
    """Key under which `end` is checkpointed once durable; None for sources that cannot resume."""


Emit = Callable[[list[Record]], None]
"""Hands records on; returns only when they are durable (blocks while the spool is full)."""
Stop = threading.Event
