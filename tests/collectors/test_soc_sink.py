"""Delivery through the service's real ingest endpoint (uvicorn + SQLite store), exactly once."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from collectors import settings
from collectors.pipeline import Pipeline
from soc import settings as settings_mod
from soc.db import accounts, migrate, tokens
from soc.db.session import make_engine, session_scope
from soc.store.query import MatchAll
from soc.store.sqlite import SqliteStore
from soc.web.app import create_app

N = 5000


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, str, SqliteStore]]:
    (tmp_path / "svc").mkdir()
    config = settings_mod.load(environ={}, data_dir=tmp_path / "svc")
    migrate.upgrade(config.resolved_database_url)
    db = make_engine(config.resolved_database_url)
    store = SqliteStore(tmp_path / "svc" / "events.db")
    store.ensure_schema()
    with session_scope(db) as s:
        agency = accounts.add_agency(s, "so-a", "Sở A", actor="test")
        token, _ = tokens.create(s, name="col", kind="collector", agency_id=agency.id, actor="test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(config, store=store, db=db)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", token, store
    server.should_exit = True
    thread.join(10)
    store.close()


def test_it_delivers_through_the_ingest_endpoint_exactly_once_even_when_resending(
    tmp_path: Path, service: tuple[str, str, SqliteStore]
) -> None:
    url, token, store = service
    (tmp_path / "token").write_text(token)
    (tmp_path / "logs").mkdir()
    with (tmp_path / "logs" / "auth.log").open("wb") as f:
        for i in range(N):
            f.write(b"Nov 27 09:00:00 web1 sshd[7]: Failed password for root from 10.0.0.%d port %d ssh2\n"
                    % (i % 250, 1000 + i))  # fmt: skip
    (tmp_path / "collector.yml").write_text(f"""
data_dir: {tmp_path / "data"}
host: web1
heartbeat_seconds: 0
sources:
  auth: {{type: file, paths: ["{tmp_path / "logs" / "*.log"}"], poll_seconds: 0.05}}
sinks:
  soc: {{type: soc, url: "{url}", token_file: "{tmp_path / "token"}"}}
""")
    for attempt in range(2):  # the second run re-sends everything: the service must see duplicates
        if attempt:
            shutil.rmtree(tmp_path / "data")
        pipeline = Pipeline(settings.load(tmp_path / "collector.yml"))
        thread = threading.Thread(target=pipeline.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        sent = pipeline.metrics.events_out
        while time.monotonic() < deadline:
            done = sent.labels("soc", "created")._value.get() + sent.labels("soc", "duplicate")._value.get()
            if done >= N:
                break
            time.sleep(0.2)
        pipeline.stop.set()
        thread.join(15)
        assert done == N
    assert store.count(MatchAll(), agencies=["so-a"]) == N
    assert sent.labels("soc", "duplicate")._value.get() == N
