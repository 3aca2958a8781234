"""Per-collector EPS cap with burst: delivery never exceeds it, and nothing is lost to it.

File sources pause (their checkpoint stays behind the file's end); network sources keep spooling
and their excess drains at the cap. The sink here is an in-memory recorder, so the rate is the
pipeline's own, not an engine's.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from collectors import settings
from collectors.pipeline import Pipeline
from collectors.ratelimit import RateLimit, TokenBucket
from collectors.sinks.base import Delivery, Spooled
from collectors.sources.base import Record
from tests.collectors.fake_sink import FakeSink

CONFIG = """
data_dir: {data}
host: web01
heartbeat_seconds: 0
rate_limit: {{events_per_second: {eps}, burst: {burst}}}
sources:
  app: {{type: file, paths: ["{log}"], poll_seconds: 0.02, batch_records: 200}}
  net: {{type: syslog_udp, address: "127.0.0.1:0"}}
sinks:
  engine: {{type: opensearch, url: "https://engine:9200", api_key: abc}}
"""


class Recorder(FakeSink):
    """A sink that accepts everything and remembers when each batch arrived."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, int]] = []
        self.ids: list[str] = []

    def post(self, docs: list[Spooled]) -> Delivery:
        self.batches.append((time.monotonic(), len(docs)))
        self.ids += [doc.id for doc in docs]
        return Delivery(created=len(docs))


def pipeline(tmp_path: Path, eps: int, burst: int, lines: int = 0) -> tuple[Pipeline, Recorder]:
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(b"Nov 27 09:00:00 web1 app[7]: line %d\n" % i for i in range(lines)))
    config_path = tmp_path / "c.yml"
    config_path.write_text(CONFIG.format(data=tmp_path / "data", log=log, eps=eps, burst=burst))
    config = settings.load(config_path)
    recorder = Recorder()
    config.sink = recorder  # type: ignore[assignment]
    return Pipeline(config), recorder


def start(target: object, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def wait_until(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_lets_a_full_bucket_go_at_once_then_refills_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(100.0, 50), clock=clock)
    assert bucket.delay(50) == 0
    assert bucket.take(50, threading.Event())
    assert bucket.delay(10) == pytest.approx(0.1)
    clock.now += 0.1
    assert bucket.delay(10) == pytest.approx(0)
    clock.now += 3600  # a long quiet spell fills the bucket only up to the burst
    bucket.take(10, threading.Event())
    assert bucket.tokens == pytest.approx(40)


def test_it_stops_waiting_for_tokens_when_asked_to_stop() -> None:
    bucket = TokenBucket(RateLimit(1.0, 1))
    stop = threading.Event()
    assert bucket.take(1, stop)
    stop.set()
    assert not bucket.take(1, stop)


def test_it_delivers_a_file_at_the_cap_and_loses_nothing(tmp_path: Path) -> None:
    pipe, sink = pipeline(tmp_path, eps=2000, burst=300, lines=3000)
    began = time.monotonic()
    thread = start(pipe.run)
    wait_until(lambda: len(sink.ids) >= 3000)
    elapsed = time.monotonic() - began
    pipe.stop.set()
    thread.join(10)
    assert len(set(sink.ids)) == len(sink.ids) == 3000
    assert max(n for _, n in sink.batches) <= 300
    assert elapsed >= (3000 - 300) / 2000 * 0.9  # the burst goes at once, the rest at the cap
    first, last = sink.batches[0][0], sink.batches[-1][0]
    assert (3000 - 300 - sink.batches[-1][1]) / (last - first) <= 2000 * 1.1


def test_it_pauses_a_file_source_once_a_burst_waits_undelivered(tmp_path: Path) -> None:
    pipe, sink = pipeline(tmp_path, eps=50, burst=400, lines=30_000)
    thread = start(pipe.run)
    wait_until(lambda: pipe.metrics.paused_seconds._value.get() > 0.3)
    size = (tmp_path / "app.log").stat().st_size
    [position] = pipe.checkpoints.positions.values()
    assert position.offset < size  # the rest waits in the file, not in the spool
    # the burst plus the one read (up to 256 KiB, ~6,600 of these lines) that found room
    assert pipe.backlog <= 400 + 7000
    pipe.stop.set()
    thread.join(10)
    assert len(sink.ids) < 30_000


def test_it_spills_network_records_to_the_spool_instead_of_waiting(tmp_path: Path) -> None:
    pipe, sink = pipeline(tmp_path, eps=1000, burst=100)
    emit = pipe.emitter("net")
    began = time.monotonic()
    for batch in range(10):
        emit([Record(f"syslog_udp:x:{batch}", i, i + 1, b"<38>hello %d" % i) for i in range(100)])
    assert time.monotonic() - began < 2  # never held back by the cap
    assert pipe.backlog == 1000
    deliver = start(pipe.deliver)
    wait_until(lambda: len(sink.ids) >= 1000)
    pipe.stop.set()
    deliver.join(10)
    assert len(set(sink.ids)) == 1000
    assert pipe.bucket is not None
    assert pipe.bucket.waited_seconds > 0.5


def test_it_reads_the_cap_with_a_default_burst_of_one_second(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    text = CONFIG.format(data=tmp_path, log=tmp_path / "x.log", eps=500, burst=1)
    path.write_text(text.replace(", burst: 1", ""))
    assert settings.load(path).rate_limit == RateLimit(500.0, 500)


def test_it_lists_bad_cap_settings_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        CONFIG.format(data=tmp_path, log=tmp_path / "x.log", eps=0, burst=2.5).replace(
            "burst: 2.5}", "burst: 2.5, bucket: 5}"
        )
    )
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(path)
    problems = caught.value.problems
    assert f"{path}:5: rate_limit.events_per_second: must be a number above 0, not 0" in problems
    assert f"{path}:5: rate_limit.burst: must be a whole number of events ≥ 1, not 2.5" in problems
    assert f"{path}:5: rate_limit: unknown option 'bucket' (known: events_per_second, burst)" in problems


def test_it_needs_a_rate_when_a_cap_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        CONFIG.format(data=tmp_path, log=tmp_path / "x.log", eps=1, burst=1).replace(
            "{events_per_second: 1, burst: 1}", "\n  burst: 10"
        )
    )
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(path)
    assert f"{path}:5: rate_limit: 'events_per_second' is required" in caught.value.problems
