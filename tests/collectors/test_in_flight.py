"""Several requests in flight: batches are acked in spool order, whatever order they come back in."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from collectors import pipeline as pipeline_module
from collectors import settings
from collectors.pipeline import Pipeline
from collectors.sinks.base import Delivery, Retry, Spooled
from collectors.sources.base import Record
from collectors.spool import Spool
from tests.collectors.fake_sink import FakeSink

CONFIG = """
data_dir: {data}
host: web01
heartbeat_seconds: 0
batch: {{events: 10, in_flight: {in_flight}}}
sources:
  net: {{type: syslog_udp, address: "127.0.0.1:0"}}
sinks:
  engine: {{type: opensearch, url: "https://engine:9200", api_key: abc}}
"""


class Gate(FakeSink):
    """A sink whose first request hangs until released (or fails first, when told to)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.release = threading.Event()
        self.posted: list[list[str]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def post(self, docs: list[Spooled]) -> Delivery:
        with self.lock:
            first = not self.posted
            self.posted.append([d.id for d in docs])
            if self.fail_first:
                self.fail_first -= 1
                raise Retry("engine answered 503")
        if first:
            self.release.wait(20)
        return Delivery(created=len(docs))


def pipeline(tmp_path: Path, sink: Gate, in_flight: int = 2) -> Pipeline:
    (tmp_path / "c.yml").write_text(CONFIG.format(data=tmp_path / "data", in_flight=in_flight))
    config = settings.load(tmp_path / "c.yml")
    config.sink = sink  # type: ignore[assignment]
    return Pipeline(config)


def fill(p: Pipeline, batches: int) -> None:
    emit = p.emitter("net")
    for b in range(batches):
        emit([Record(f"syslog_udp:{b}", i, i + 1, b"<38>hello %d" % i) for i in range(10)])


def wait_until(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_later_batch_back_first_is_not_acked_before_the_earlier_one(tmp_path: Path) -> None:
    sink = Gate()
    p = pipeline(tmp_path, sink)
    fill(p, 3)
    start = p.spool.acked
    deliver = threading.Thread(target=p.deliver, daemon=True)
    deliver.start()
    wait_until(lambda: len(sink.posted) >= 2)
    time.sleep(0.3)  # the second came back long ago; the first still hangs
    assert len(sink.posted) == 2  # two in flight, the third waits for room
    assert p.spool.acked == start  # the second is not acked past the first
    assert (tmp_path / "data" / "spool" / "ack").exists() is False
    assert p.backlog == 30
    sink.release.set()
    wait_until(lambda: p.backlog == 0)
    p.stop.set()
    deliver.join(10)
    assert p.backlog == 0
    assert len(sink.posted) == 3
    assert p.spool.pending_bytes == 0


def test_stopping_with_a_request_out_keeps_its_batch_for_the_next_start(tmp_path: Path) -> None:
    sink = Gate()
    p = pipeline(tmp_path, sink)
    fill(p, 3)
    deliver = threading.Thread(target=p.deliver, daemon=True)
    deliver.start()
    wait_until(lambda: len(sink.posted) >= 2)
    acked = p.spool.acked
    p.stop.set()
    sink.release.set()  # the first comes back after the stop: acked, and the second with it
    deliver.join(10)
    p.spool.close()
    again = Spool(tmp_path / "data" / "spool")
    assert again.acked != acked
    left = [f.split(b"\t", 1)[0].decode() for f in again.unacked()]
    sent = {i for batch in sink.posted for i in batch}
    assert len(left) == 10  # the third batch, never sent, is still there
    assert not sent & set(left)


def test_one_in_flight_still_delivers_everything_in_order(tmp_path: Path) -> None:
    sink = Gate(fail_first=1)
    sink.release.set()
    p = pipeline(tmp_path, sink, in_flight=1)
    fill(p, 4)
    deliver = threading.Thread(target=p.deliver, daemon=True)
    deliver.start()
    wait_until(lambda: p.backlog == 0)
    p.stop.set()
    deliver.join(10)
    ids = [i for batch in sink.posted[1:] for i in batch]
    assert len(ids) == len(set(ids)) == 40
    assert sink.posted[0] == sink.posted[1]  # the 503'd batch went again, whole


class Explodes(Gate):
    """A sink with a bug: its first request raises something no one planned for."""

    def post(self, docs: list[Spooled]) -> Delivery:
        with self.lock:
            self.posted.append([d.id for d in docs])
            if len(self.posted) == 1:
                raise RuntimeError("a bug in the sink")
        return Delivery(created=len(docs))


def test_delivery_that_fails_unforeseen_is_started_again_and_loses_nothing(
    tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr(pipeline_module, "RESTART_SECONDS", 0.05)
    sink = Explodes()
    p = pipeline(tmp_path, sink)
    fill(p, 3)
    runner = threading.Thread(target=p.run, daemon=True)
    runner.start()
    wait_until(lambda: p.backlog == 0)
    p.stop.set()
    runner.join(20)
    assert p.backlog == 0
    assert p.metrics.restarts.labels("sink")._value.get() == 1
    assert "component failed, restarting" in caplog.text
    assert "a bug in the sink" in caplog.text
    delivered = {i for batch in sink.posted[1:] for i in batch}
    assert len(delivered) == 30  # the failed batch was read again from the spool
