"""End to end against the real OpenSearch node: every line written is stored exactly once.

The engine goes away (a relay in front of it closes), the collector process is SIGKILLed, files
rotate under load, the spool fills: afterwards the stored documents are counted and compared
with the lines written, one by one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors import settings
from collectors.pipeline import Pipeline
from tests.collectors.engine import Relay, stored

pytestmark = pytest.mark.engine
N = 20_000


def config_text(tmp: Path, url: str, prefix: str, **extra: str) -> str:
    spool = extra.get("spool", "")
    return f"""
data_dir: {tmp / "data"}
host: test-host
heartbeat_seconds: 0
{spool}
sources:
  app:
    type: file
    paths: ["{tmp / "logs" / "app.log*"}"]
    rotate_wait_seconds: 0.5
    poll_seconds: 0.05
transforms:
  parse_app:
    type: parse
    inputs: [app]
    format: syslog
    timezone: UTC
sinks:
  engine:
    type: opensearch
    url: {url}
    index_prefix: {prefix}
    agency: so-a
"""


@pytest.fixture
def setup(tmp_path: Path, opensearch_url: str) -> Iterator[tuple[Path, str, Relay]]:
    (tmp_path / "logs").mkdir()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    relay = Relay(opensearch_url)
    yield tmp_path, prefix, relay
    relay.down()


def line(i: int) -> bytes:
    return b"Nov 27 09:00:00 web1 app[7]: line %d\n" % i


def write_lines(path: Path, numbers: range, pause_every: int = 0) -> None:
    with path.open("ab") as f:
        for i in numbers:
            f.write(line(i))
            if pause_every and i % pause_every == 0:
                f.flush()
                time.sleep(0.01)


def wait_for(url: str, prefix: str, expected: int, timeout: float = 90) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    docs = stored(url, prefix)
    while len(docs) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        docs = stored(url, prefix)
    return docs


def assert_exactly_once(docs: list[dict[str, object]], expected: range) -> None:
    """Says which lines are missing, unexpected or stored more than once (a diff of 20,000-line sets
    is cut off in CI's log before it says anything)."""
    messages = Counter(str(d["message"]) for d in docs)
    wanted = {f"line {i}" for i in expected}
    missing = sorted(wanted - messages.keys())
    unexpected = sorted(messages.keys() - wanted)
    repeated = sorted(m for m, n in messages.items() if n > 1)
    wrong = (
        f"{len(docs)} stored for {len(expected)} lines; missing {len(missing)}: {missing[:10]}; "
        f"unexpected {len(unexpected)}: {unexpected[:10]}; more than once {len(repeated)}: {repeated[:10]}"
    )
    assert not missing, wrong
    assert not unexpected, wrong
    assert not repeated, wrong
    assert len({d["event"]["id"] for d in docs}) == len(expected)  # type: ignore[index]


def run_in_thread(tmp: Path) -> tuple[Pipeline, threading.Thread]:
    pipeline = Pipeline(settings.load(tmp / "collector.yml"))
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    return pipeline, thread


def test_it_stores_every_line_once_across_an_engine_outage(
    setup: tuple[Path, str, Relay], opensearch_url: str
) -> None:
    tmp, prefix, relay = setup
    (tmp / "collector.yml").write_text(config_text(tmp, relay.url, prefix))
    log = tmp / "logs" / "app.log"
    pipeline, thread = run_in_thread(tmp)
    write_lines(log, range(N // 2))
    time.sleep(0.5)
    relay.down()
    write_lines(log, range(N // 2, N))
    time.sleep(3)
    relay.up()
    docs = wait_for(opensearch_url, prefix, N)
    pipeline.stop.set()
    thread.join(15)
    assert_exactly_once(docs, range(N))
    assert pipeline.metrics.retries.labels("engine")._value.get() >= 1


def test_it_stores_every_line_once_when_the_collector_is_killed_again_and_again(
    setup: tuple[Path, str, Relay], opensearch_url: str
) -> None:
    tmp, prefix, _ = setup
    (tmp / "collector.yml").write_text(config_text(tmp, opensearch_url, prefix))
    log = tmp / "logs" / "app.log"
    writer = threading.Thread(target=write_lines, args=(log, range(N), 500))
    writer.start()
    command = [sys.executable, "-m", "collectors", "run", "--config", str(tmp / "collector.yml")]
    for kill in range(10):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.6 + 0.1 * (kill % 3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    writer.join()
    output = tmp / "collector.log"
    with output.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            docs = wait_for(opensearch_url, prefix, N)
            # the killed runs may have shipped everything already: let this one start up and say so
            deadline = time.monotonic() + 30
            while "Collector running" not in output.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(15)
    assert_exactly_once(docs, range(N))
    said = output.read_text()
    assert "Collector running" in said
    assert "HTTP Request" not in said, "one log line per _bulk request buries the collector's own"


def test_it_loses_nothing_when_files_rotate_under_load(
    setup: tuple[Path, str, Relay], opensearch_url: str
) -> None:
    tmp, prefix, _ = setup
    (tmp / "collector.yml").write_text(config_text(tmp, opensearch_url, prefix))
    log = tmp / "logs" / "app.log"
    pipeline, thread = run_in_thread(tmp)
    step = N // 5
    for part in range(5):
        write_lines(log, range(part * step, (part + 1) * step), pause_every=1000)
        if part % 2 == 0:  # rename + create
            os.rename(log, tmp / "logs" / f"app.log.{part}")
        else:  # copytruncate
            rotated = tmp / "logs" / f"app.log.{part}"
            rotated.write_bytes(log.read_bytes())
            with log.open("r+b") as f:
                f.truncate(0)
    docs = wait_for(opensearch_url, prefix, N)
    pipeline.stop.set()
    thread.join(15)
    assert_exactly_once(docs, range(N))


def test_it_applies_backpressure_when_the_spool_is_full_and_loses_nothing(
    setup: tuple[Path, str, Relay], opensearch_url: str
) -> None:
    tmp, prefix, relay = setup
    spool = "spool:\n  max_bytes: 200000"
    (tmp / "collector.yml").write_text(config_text(tmp, relay.url, prefix, spool=spool))
    relay.down()
    write_lines(tmp / "logs" / "app.log", range(N))
    pipeline, thread = run_in_thread(tmp)
    deadline = time.monotonic() + 30  # parsing the first batches takes longer on a busy machine
    while pipeline.spool.full_waits == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    # bounded: the limit plus at most the one batch (2,000 records of ~2 KB) that found it not yet full
    assert pipeline.spool.pending_bytes <= 200000 + 2000 * 2500
    assert pipeline.spool.full_waits > 0
    assert pipeline.checkpoints.positions  # and the file source is paused part way, not done
    [position] = pipeline.checkpoints.positions.values()
    assert position.offset < (tmp / "logs" / "app.log").stat().st_size
    relay.up()
    docs = wait_for(opensearch_url, prefix, N)
    pipeline.stop.set()
    thread.join(15)
    assert_exactly_once(docs, range(N))
