"""Start-up order: the sink's client is built before any source reads, and the first delivery uses it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Self

from collectors import settings
from collectors.checkpoints import Checkpoints
from collectors.pipeline import Pipeline
from collectors.sinks.base import Delivery, Spooled
from collectors.sources.base import Emit, Record
from tests.collectors.fake_sink import FakeSink

CONFIG = """
data_dir: {data}
host: web01
heartbeat_seconds: 0
sources:
  net: {{type: syslog_udp, address: "127.0.0.1:0"}}
sinks:
  engine: {{type: opensearch, url: "https://engine:9200", api_key: abc}}
"""


class Source:
    """Emits three records once started, and remembers how many clients the sink had built by then."""

    def __init__(self, sink: Counting) -> None:
        self.sink = sink
        self.clients_at_start: int | None = None

    def run(self, emit: Emit, stop: threading.Event, checkpoints: Checkpoints) -> None:
        self.clients_at_start = self.sink.clients
        emit([Record("net:1", i, i + 1, b"<38>hello %d" % i) for i in range(3)])
        stop.wait()


class Counting(FakeSink):
    def __init__(self, fail_first_connect: bool = False) -> None:
        self.clients = 0
        self.fail_first_connect = fail_first_connect
        self.stored: list[str] = []

    def connect(self) -> Self:
        if self.fail_first_connect:
            self.fail_first_connect = False
            raise OSError("CA file unreadable")
        time.sleep(0.2)  # a CA bundle loading: a source started alongside would read meanwhile
        self.clients += 1
        return self

    def post(self, docs: list[Spooled]) -> Delivery:
        self.stored += [d.id for d in docs]
        return Delivery(created=len(docs))


def run_until_stored(tmp_path: Path, sink: Counting) -> Source:
    (tmp_path / "c.yml").write_text(CONFIG.format(data=tmp_path / "data"))
    config = settings.load(tmp_path / "c.yml")
    config.sink = sink  # type: ignore[assignment]
    source = Source(sink)
    config.sources = {"net": source}  # type: ignore[dict-item]
    pipeline = Pipeline(config)
    runner = threading.Thread(target=pipeline.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while len(sink.stored) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    pipeline.stop.set()
    runner.join(20)
    return source


def test_the_sink_client_exists_before_a_source_reads_and_is_the_one_delivering(tmp_path: Path) -> None:
    sink = Counting()
    source = run_until_stored(tmp_path, sink)
    assert source.clients_at_start == 1
    assert len(sink.stored) == 3
    assert sink.clients == 1  # the first delivery used it rather than building another


def test_a_client_that_cannot_be_built_early_is_built_again_by_the_sink_thread(tmp_path: Path) -> None:
    sink = Counting(fail_first_connect=True)
    run_until_stored(tmp_path, sink)
    assert len(sink.stored) == 3  # delivered all the same, with the client the sink thread built
    assert sink.clients == 1
