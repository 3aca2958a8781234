"""The opensearch sink's `_bulk` bodies, read off the network seam (httpx's transport).

Events are prepared as they are spooled (`OpenSearchSink.prepare`) and delivery splices
`event.ingested` into their JSON; what reaches the engine must be exactly what parsing the
document and stamping it at delivery gives, for every kind of event, and for frames spooled by a
version that prepared nothing.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from collectors import settings
from collectors.parsers import parse_one, record
from collectors.parsers.base import Context
from collectors.pipeline import Pipeline, _split
from collectors.sinks import opensearch
from collectors.sinks.base import Spooled
from collectors.sinks.opensearch import Bulk, OpenSearchSink
from collectors.sources.base import Record
from soc.ecs import dataset_slug, parse_time

NOW = datetime(2026, 11, 28, 8, 30, 1, 250000, tzinfo=UTC)
LINES = [
    b"Nov 27 09:00:01 web01 sshd[42]: Failed password for root from 203.0.113.9 port 22 ssh2",
    b"Dec 31 23:59:59 web01 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id",
    b"<38>1 2026-11-27T01:02:03.5+07:00 web01 sshd 42 - - Accepted publickey for bob from ::1 port 22 ssh2",
    (
        '{"@timestamp":"2026-11-26T23:30:00+07:00","event":{"ingested":"1999-01-01T00:00:00Z","hash":"x",'
        '"dataset":"app.audit"},"organization":{"name":"Sở TT&TT"},"message":"json line"}'
    ).encode(),
    b'{"@timestamp":"not a date","message":"json line with a bad time"}',
    b"\xff\xfe garbage nobody parses",
    b'Jan  1 00:00:00 web01 weird-prog: "quotes" \\ and \xc3\xa9 end }}',
]
CONFIG = """
data_dir: {data}
host: web01
sources:
  auth: {{type: file, paths: ["/var/log/auth.log"]}}
transforms:
  p: {{type: parse, inputs: [auth], format: auto, timezone: Asia/Ho_Chi_Minh, year: 2026}}
sinks:
  engine: {{type: opensearch, url: "{url}", agency: "{agency}", index_prefix: soc}}
"""


def pipeline(
    tmp_path: Path, *, url: str = "https://engine.example.vn:9200", agency: str = "ct-stp"
) -> Pipeline:
    (tmp_path / "c.yml").write_text(CONFIG.format(data=tmp_path / "data", url=url, agency=agency))
    return Pipeline(settings.load(tmp_path / "c.yml"))


class Engine:
    """Answers `_bulk` like the engine, with a chosen status per item; keeps what it was sent."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = statuses or []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        lines = self.body(request).splitlines()
        items = []
        for n in range(len(lines) // 2):
            status = self.statuses[n] if n < len(self.statuses) else 201
            result: dict[str, Any] = {"status": status}
            if status >= 400 and status != 409:
                result["error"] = {"type": "mapper_parsing_exception", "reason": f"item {n}"}
            items.append({"create": result})
        return httpx.Response(200, json={"errors": True, "items": items})

    @staticmethod
    def body(request: httpx.Request) -> bytes:
        raw = request.content
        return gzip.decompress(raw) if request.headers.get("content-encoding") == "gzip" else raw

    def sent(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        lines = self.body(self.requests[-1]).splitlines()
        return [(orjson.loads(a), orjson.loads(d)) for a, d in zip(lines[::2], lines[1::2], strict=True)]


def bulk(p: Pipeline, engine: Engine) -> Bulk:
    sink = p.config.sink
    assert isinstance(sink, OpenSearchSink)
    return Bulk(sink, httpx.Client(transport=httpx.MockTransport(engine)))


def reference(doc: dict[str, Any], doc_id: str, agency: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the engine must get for an event: stamped at delivery, routed by day and dataset."""
    doc = orjson.loads(orjson.dumps(doc))
    doc["event"]["ingested"], doc["event"]["hash"] = "2026-11-28T08:30:01.250Z", doc_id
    doc["organization"] = {**doc.get("organization", {}), "id": agency}
    at = parse_time(doc["@timestamp"])
    index = f"soc-events-{agency}.{dataset_slug(doc['event']['dataset'])}-{at:%Y.%m.%d}"
    return {"create": {"_index": index, "_id": doc_id}}, doc


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opensearch, "_now", lambda: NOW)


def frames(p: Pipeline) -> list[bytes]:
    """Spool frames of LINES, collected at one moment (as the emitter does for a batch)."""
    out, offset = [], 0
    now = datetime.now(UTC)
    for line in LINES:
        rec = Record("auth:fp", offset, offset + len(line) + 1, line, "/var/log/auth.log")
        out.append(p._frame("auth", rec, now))
        offset += len(line) + 1
    return out


def test_spliced_documents_are_the_documents_stamped_at_delivery(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    spooled = [_split(f) for f in frames(p)]
    assert all(doc.route for doc in spooled)
    engine = Engine()
    outcome = bulk(p, engine).send(spooled)
    assert outcome.created == len(LINES)
    expected = []
    for doc in spooled:
        plain = orjson.loads(doc.document)
        plain["event"].pop("hash")
        org = plain.pop("organization")
        del org["id"]
        if org:
            plain["organization"] = org  # the line's own organization fields stay
        expected.append(reference(plain, doc.id, "ct-stp"))
    got = engine.sent()
    assert got == expected
    jsonl = got[3][1]
    assert jsonl["organization"] == {"name": "Sở TT&TT", "id": "ct-stp"}
    assert jsonl["event"]["ingested"] == "2026-11-28T08:30:01.250Z"
    assert got[3][0]["create"]["_index"] == "soc-events-ct-stp.app.audit-2026.11.26"


def test_frames_spooled_without_a_route_are_delivered_the_same(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    new = [_split(f) for f in frames(p)]
    engine = Engine()
    bulk(p, engine).send(new)
    today = engine.sent()
    # the frame of a version that prepared nothing: `id TAB key TAB end` NEWLINE the event
    used = p._contexts[("auth", "/var/log/auth.log")]
    ctx = Context(timezone=used.timezone, year=used.year, host=used.host, path=used.path, now=used.now)
    old = []
    for doc, line in zip(new, LINES, strict=True):
        ev = parse_one(record(line, 0), ctx, "auto")
        ev["log"]["offset"] = orjson.loads(doc.document)["log"]["offset"]
        p._stamp(ev, doc.id)
        old.append(_split(f"{doc.id}\tauth:fp\t1\n".encode() + orjson.dumps(ev)))
    assert all(doc.route == "" for doc in old)
    bulk(p, engine).send(old)
    assert engine.sent() == today


def test_each_item_counts_as_created_duplicate_retried_or_rejected(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    spooled = [_split(f) for f in frames(p)][:4]
    outcome = bulk(p, Engine([201, 409, 429, 400])).send(spooled)
    assert (outcome.created, outcome.duplicates, outcome.retry) == (1, 1, [2])
    assert outcome.rejected == [(3, "mapper_parsing_exception: item 3")]


@pytest.mark.parametrize(
    ("url", "gzipped"),
    [("http://127.0.0.1:9200", False), ("http://localhost:9200", False), ("http://[::1]:9200", False),
     ("https://engine.example.vn:9200", True), ("https://10.0.0.5:9200", True)],
)  # fmt: skip
def test_bodies_are_gzipped_unless_the_engine_is_on_this_machine(
    tmp_path: Path, url: str, gzipped: bool
) -> None:
    p = pipeline(tmp_path, url=url)
    engine = Engine()
    bulk(p, engine).send([_split(f) for f in frames(p)])
    assert (engine.requests[-1].headers.get("content-encoding") == "gzip") is gzipped
    assert len(engine.sent()) == len(LINES)


def test_an_event_without_an_event_object_is_routed_at_delivery(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    sink = p.config.sink
    odd = {"@timestamp": "2026-11-27T02:00:00.000Z", "event": "not an object", "message": "m"}
    assert sink.prepare(odd, "id1") == ""
    engine = Engine()
    bulk(p, engine).send([Spooled("id1", orjson.dumps(odd), "")])
    action, doc = engine.sent()[0]
    assert action["create"]["_index"] == "soc-events-ct-stp.generic-2026.11.27"
    assert doc["event"] == "not an object"
    assert doc["organization"] == {"id": "ct-stp"}
