"""Enrolment end to end over real TLS: the service (uvicorn with a certificate from a test CA made
with the openssl CLI), `soc collectors enroll|list|revoke` and `soc-collector enroll`."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy import Engine

from collectors import settings as collector_settings
from collectors.cli import main as collector_cli
from soc import settings as settings_mod
from soc.cli import cli as soc_cli
from soc.collect import enroll as service
from soc.db import accounts, migrate
from soc.db.session import make_engine, session_scope
from soc.store.base import EventStore
from soc.store.query import MatchAll
from soc.web.app import create_app
from tests.conftest import make_store
from tests.pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("enrol-pki"), "Enrol Test CA")


@dataclass
class Soc:
    url: str
    env: dict[str, str]
    db: Engine
    store: EventStore
    ca: Path


@pytest.fixture(params=["sqlite", "elasticsearch"])
def soc(tmp_path: Path, pki: Path, request: pytest.FixtureRequest) -> Iterator[Soc]:
    """The service over TLS, its events in SQLite or in the secured Elasticsearch node (API key)."""
    data = tmp_path / "soc"
    data.mkdir()
    config = settings_mod.load(environ={}, data_dir=data)
    migrate.upgrade(config.resolved_database_url)
    db = make_engine(config.resolved_database_url)
    stores = make_store(request.param, request, tmp_path)
    store = next(stores)
    with session_scope(db) as s:
        accounts.add_agency(s, "so-a", "Sở A", actor="test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(config, store=store, db=db)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="error",
            ssl_certfile=str(pki / "server.pem"), ssl_keyfile=str(pki / "server.key"),
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.02)
    yield Soc(f"https://localhost:{port}", {"SOC_DATA_DIR": str(data)}, db, store, pki / "ca.pem")
    server.should_exit = True
    thread.join(10)
    next(stores, None)  # the store's own teardown: indices dropped, closed
    db.dispose()


def issue(soc: Soc, name: str = "web01") -> str:
    result = CliRunner().invoke(
        soc_cli, ["collectors", "enroll", "--agency", "so-a", "--name", name], env=soc.env
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def enrol(soc: Soc, token: str, out: Path, *extra: str) -> tuple[int, str]:
    args = ["enroll", "--url", soc.url, "--token", token, "--host", "web01.so-a", "--out-dir", str(out)]
    result = CliRunner().invoke(collector_cli, [*args, *extra])
    return result.exit_code, result.output


def ingest(soc: Soc, token: str) -> httpx.Response:
    line = b'{"@timestamp":"2026-11-27T01:00:00Z","message":"hello","event":{"dataset":"system.auth"}}\n'
    with httpx.Client(verify=ssl.create_default_context(cafile=soc.ca)) as client:
        return client.post(
            f"{soc.url}/api/v1/ingest", content=line, headers={"Authorization": f"Bearer {token}"}
        )


def test_it_enrols_writes_a_ready_config_and_refuses_the_collector_once_revoked(
    soc: Soc, tmp_path: Path
) -> None:
    out = tmp_path / "etc"
    code, output = enrol(soc, issue(soc), out, "--ca-file", str(soc.ca), "--data-dir", str(tmp_path / "d"))
    assert code == 0, output
    assert "for agency so-a" in output
    for name in ("collector.yml", "token"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    config = collector_settings.load(out / "collector.yml")  # the real validator accepts it
    assert config.sink_name == "soc"
    token = (out / "token").read_text().strip()
    assert ingest(soc, token).status_code == 200
    soc.store.refresh()
    assert soc.store.count(MatchAll(), agencies=["so-a"]) == 1  # stored under the enrolled agency

    listed = CliRunner().invoke(soc_cli, ["collectors", "list"], env=soc.env)
    assert "web01.so-a" in listed.output
    assert "active" in listed.output
    token_id = next(line.split()[0] for line in listed.output.splitlines() if "web01.so-a" in line)
    revoked = CliRunner().invoke(soc_cli, ["collectors", "revoke", token_id], env=soc.env)
    assert revoked.exit_code == 0, revoked.output
    refused = ingest(soc, token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unknown, revoked or expired token"


def test_it_refuses_a_replayed_enrolment_token(soc: Soc, tmp_path: Path) -> None:
    raw = issue(soc)
    assert enrol(soc, raw, tmp_path / "one", "--ca-file", str(soc.ca))[0] == 0
    code, output = enrol(soc, raw, tmp_path / "two", "--ca-file", str(soc.ca))
    assert code != 0
    assert "refused the enrolment (401): enrolment token already used" in output
    assert not (tmp_path / "two").exists()


def test_it_refuses_an_expired_enrolment_token(soc: Soc, tmp_path: Path) -> None:
    with session_scope(soc.db) as s:
        agency = accounts.require_agency(s, "so-a")
        raw, row = service.issue(s, agency, name="web02", actor="test", ttl=timedelta(minutes=1))
        row.expires_at = row.expires_at - timedelta(minutes=2)
    code, output = enrol(soc, raw, tmp_path / "out", "--ca-file", str(soc.ca))
    assert code != 0
    assert "enrolment token expired at" in output


def test_it_refuses_a_server_it_cannot_verify_and_keeps_the_token_usable(
    soc: Soc, tmp_path: Path, pki: Path
) -> None:
    raw = issue(soc)
    code, output = enrol(soc, raw, tmp_path / "out", "--ca-file", str(pki / "other.pem"))
    assert code != 0
    assert "over verified TLS" in output
    assert "CERTIFICATE_VERIFY_FAILED" in output
    code, output = enrol(soc, raw, tmp_path / "out")  # system CAs do not know the test CA either
    assert code != 0
    assert "CERTIFICATE_VERIFY_FAILED" in output
    assert enrol(soc, raw, tmp_path / "out", "--ca-file", str(soc.ca))[0] == 0


def test_it_refuses_plain_http(soc: Soc, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        collector_cli,
        [
            "enroll",
            "--url",
            soc.url.replace("https", "http"),
            "--token",
            issue(soc),
            "--out-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0
    assert "enrolment needs https://" in result.output


def test_it_refuses_to_overwrite_an_existing_config(soc: Soc, tmp_path: Path) -> None:
    (tmp_path / "collector.yml").write_text("keep me")
    code, output = enrol(soc, issue(soc), tmp_path, "--ca-file", str(soc.ca))
    assert code != 0
    assert "already exist" in output
    assert (tmp_path / "collector.yml").read_text() == "keep me"
