"""A live service for the browser tests: uvicorn on a free loopback port in a thread, over the
`Web` fixture's app, with the demo attack scenario written for two agencies and real detection run
over it (so the pages show real alerts with real matched events)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn

from soc.detect.service import detector_for
from tests.soc.web.conftest import Web


def seed_scenario(web: Web) -> int:
    """The bundled demo events for so-a, and the same attack on so-b's own hosts; returns the
    number of alerts detection raised."""
    lines = resources.files("soc.demo").joinpath("events.ndjson").read_bytes().splitlines()
    docs: list[dict[str, Any]] = [orjson.loads(line) for line in lines if line.startswith(b"{")]
    web.store.write(docs, agency="so-a")
    other = orjson.loads(orjson.dumps(docs).replace(b"sotttt", b"zzb-sotnmt").replace(b"web01", b"zzb-web01"))
    web.store.write(other, agency="so-b")
    detector = detector_for(web.settings, web.store, web.db)
    return sum(report.alerts for report in detector.run_all())


@contextmanager
def serve(web: Web) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(web.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the live service stopped while starting"
        assert time.monotonic() < deadline, "the live service did not start in 20 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def require_chromium() -> None:
    """Debian's Chromium drives the browser tests; under CI=true its absence fails the run."""
    if not Path(CHROMIUM).exists():
        message = "Debian chromium is not installed (bash deploy/dev.sh test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
