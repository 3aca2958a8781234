"""The collector's sender: batching, and retrying until the SOC has accepted a batch."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from collectors.ship import ShipError, batches, ship


def test_it_batches_by_line_count_and_size() -> None:
    lines = [b"a" * 10 + b"\n"] * 5
    assert [first for first, _ in batches(lines, max_lines=2, max_bytes=1000)] == [1, 3, 5]
    sized = list(batches(lines, max_lines=100, max_bytes=25))
    assert [body.count(b"\n") for _, body in sized] == [2, 2, 1]


class Flaky:
    """A real HTTP server that fails the first `failures` requests with `status`."""

    def __init__(self, failures: int, status: int) -> None:
        self.failures, self.status = failures, status
        self.bodies: list[bytes] = []
        app = FastAPI()

        @app.post("/api/v1/ingest")
        async def ingest(request: Request) -> JSONResponse:
            body = await request.body()
            if self.failures > 0:
                self.failures -= 1
                return JSONResponse({"error": "store down"}, status_code=self.status)
            self.bodies.append(body)
            lines = body.count(b"\n")
            return JSONResponse({"lines": lines, "created": lines, "duplicates": 0, "rejected": 0,
                                 "errors": [], "warnings": []})  # fmt: skip

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Flaky:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def lines() -> list[bytes]:
    return [b'{"message": "%d"}\n' % i for i in range(5)]


def test_it_retries_until_the_soc_accepts(lines: list[bytes]) -> None:
    with Flaky(failures=2, status=503) as server:
        totals = ship(lines, url=f"http://127.0.0.1:{server.port}", token="t", max_lines=10)
    assert totals.created == 5
    assert server.bodies == [b"".join(lines)]


def test_it_gives_up_at_once_on_a_refusal(lines: list[bytes]) -> None:
    with Flaky(failures=1, status=401) as server, pytest.raises(ShipError, match="401"):
        ship(lines, url=f"http://127.0.0.1:{server.port}", token="t")
    assert server.bodies == []


def test_it_gives_up_after_the_last_retry(lines: list[bytes]) -> None:
    with Flaky(failures=10, status=503) as server, pytest.raises(ShipError, match="gave up after 2 attempts"):
        ship(lines, url=f"http://127.0.0.1:{server.port}", token="t", retries=1)
