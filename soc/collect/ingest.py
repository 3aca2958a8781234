"""HTTP intake for collectors: NDJSON in, per-line outcome out, after the store accepted the batch.

The agency always comes from the collector's token, never from the payload. A line that is not
JSON is still kept, as a generic event carrying `event.original` and `error.message`; a document
the store refuses is quarantined there and reported by line. The collector may drop its copy only
after this answers 200.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from soc import ecs
from soc.store.base import EventStore


class IngestRefused(Exception):
    """The whole request is refused: `status` is the HTTP status, `reason` says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Outcome:
    lines: int = 0
    created: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "accepted": self.created + self.duplicates,
            "created": self.created,
            "duplicates": self.duplicates,
            "rejected": len(self.errors),
            "errors": self.errors,
            "warnings": self.warnings,
        }


def decode_body(body: bytes, encoding: str | None, *, max_bytes: int) -> bytes:
    """Undo gzip/deflate transfer compression without letting a small bomb grow past max_bytes."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "deflate"):
        raise IngestRefused(415, f"unsupported Content-Encoding '{encoding}' (use gzip or none)")
    wbits = 16 + zlib.MAX_WBITS if enc == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise IngestRefused(400, f"body is not valid {enc}: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise IngestRefused(413, f"decompressed body is larger than {max_bytes} bytes")
    # Only a complete single stream is accepted: a cut-off body, a second gzip member or trailing
    # bytes would otherwise be answered 200 with events missing, and the collector would drop them.
    if not inflater.eof or inflater.unused_data:
        raise IngestRefused(400, f"body is not one complete {enc} stream (cut off, or more than one member)")
    return out


def parse_lines(body: bytes, *, max_line_bytes: int, now: datetime) -> tuple[list[Any], list[int], Outcome]:
    """Split NDJSON into documents; returns docs, their 1-based line numbers, and warnings so far."""
    outcome = Outcome()
    docs: list[Any] = []
    numbers: list[int] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        if len(line) > max_line_bytes:
            raise IngestRefused(
                400,
                f"line {number} is {len(line)} bytes, over the limit of {max_line_bytes}; "
                "split or truncate it",
            )
        outcome.lines += 1
        try:
            docs.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            text = line.decode("utf-8", errors="replace")
            docs.append(_unparsed(text, str(exc), now))
            outcome.warnings.append({"line": number, "reason": f"not JSON, kept as a generic event: {exc}"})
        numbers.append(number)
    return docs, numbers, outcome


def _unparsed(text: str, problem: str, now: datetime) -> dict[str, Any]:
    return {
        "@timestamp": ecs.format_time(now),
        "message": text,
        "event": {"original": text, "dataset": "soc.unparsed", "kind": "event"},
        "error": {"message": f"invalid JSON: {problem}"},
        "tags": ["_jsonparsefailure"],
    }


def ingest(store: EventStore, body: bytes, *, agency: str, max_line_bytes: int) -> Outcome:
    now = datetime.now(UTC)
    docs, numbers, outcome = parse_lines(body, max_line_bytes=max_line_bytes, now=now)
    if not docs:
        return outcome
    result = store.write(docs, agency=agency, now=now)
    outcome.created, outcome.duplicates = result.created, result.duplicates
    outcome.errors = [{"line": numbers[e.position], "reason": e.reason} for e in result.errors]
    return outcome
