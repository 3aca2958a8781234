"""A real service on SQLite with the standard actors of the authorisation matrix.

Actors: admin, analyst (soc_analyst, city-wide), oncall (city-wide), officer_a and officer_b
(agency_officer of so-a / so-b), appraiser, approver and outsider (no role at all). Each can sign
in through the real login form (`web.login(name)`) or use an API token (`web.api(name)`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from soc import settings as settings_mod
from soc.db import accounts, migrate, tokens
from soc.db.detection import Alert
from soc.db.session import make_engine, session_scope
from soc.settings import Settings
from soc.store.sqlite import SqliteStore
from soc.web.app import create_app
from soc.web.limiter import LoginLimiter

PASSWORD = "correct horse battery staple"
ACTORS: dict[str, list[tuple[str, str | None]]] = {
    "admin": [("admin", None)],
    "analyst": [("soc_analyst", None)],
    "oncall": [("oncall", None)],
    "officer_a": [("agency_officer", "so-a")],
    "officer_b": [("agency_officer", "so-b")],
    "appraiser": [("appraiser", None)],
    "approver": [("approver", None)],
    "outsider": [],
}
T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


_TEMPLATE: tuple[Path, dict[str, str]] | None = None


def _template() -> tuple[Path, dict[str, str]]:
    """Migrate and create the actors once per test session (argon2 hashing and migrations take
    seconds); each Web gets its own copy of the resulting SQLite file."""
    global _TEMPLATE
    if _TEMPLATE is None:
        folder = Path(tempfile.mkdtemp(prefix="soc-web-template-"))
        url = f"sqlite:///{folder / 'soc.db'}"
        migrate.upgrade(url)
        db = make_engine(url)
        raw_tokens: dict[str, str] = {}
        with session_scope(db) as s:
            accounts.add_agency(s, "so-a", "Sở A", actor="test")
            accounts.add_agency(s, "so-b", "Sở B", actor="test")
            for name, roles in ACTORS.items():
                user = accounts.add_user(
                    s, username=name, password=PASSWORD, email=f"{name}@example.vn", full_name=name.title(),
                    locale="en", roles=roles, actor="test",
                )  # fmt: skip
                raw, _ = tokens.create(s, name=f"{name} api", kind="api", user_id=user.id, actor="test")
                raw_tokens[name] = raw
        with db.connect() as conn:  # fold the WAL into the file before copying it
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        _TEMPLATE = folder / "soc.db", raw_tokens
    return _TEMPLATE


class Web:
    def __init__(self, tmp: Path) -> None:
        self.settings: Settings = settings_mod.load(environ={}, data_dir=tmp, secret_key="k" * 40)
        template, raw_tokens = _template()
        shutil.copyfile(template, tmp / "soc.db")
        self.db: Engine = make_engine(self.settings.resolved_database_url)
        self.store = SqliteStore(tmp / "events.db")
        self.store.ensure_schema()
        self.tokens: dict[str, str] = dict(raw_tokens)
        self.app = create_app(self.settings, store=self.store, db=self.db)
        # Tests sign in many times from one address; test_login checks the real limit.
        self.app.state.login_limiter = LoginLimiter(attempts=1_000_000)

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def login(self, username: str, password: str = PASSWORD) -> Session:
        client = self.client()
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        answer = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1), "next": "/"},
        )
        assert answer.status_code == 303, answer.text
        return Session(client)

    def api(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def add_alert(self, agency: str | None, *, n: int = 0, **fields: Any) -> str:
        """An alert as the detector writes it; returns its id."""
        at = fields.pop("first_at", T0 + timedelta(minutes=n))
        row = {
            "id": fields.pop("id", f"alert-{agency}-{n}"), "rule_id": "r-ssh-brute", "rule_version": "1",
            "rule_title": "SSH brute force", "level": "high", "agency": agency, "host": f"web{n % 3}",
            "user_name": "root", "source_ip": "203.0.113.9", "first_at": at, "last_at": at,
            "window_start": at, "window_end": at, "created_at": at,
            "events": [{"index": "x", "id": f"e{n}", "original": f"Failed password for root #{n}"}],
        } | fields  # fmt: skip
        with session_scope(self.db) as s:
            s.add(Alert(**row))
        return str(row["id"])


class Session:
    """A signed-in browser: cookies plus the CSRF token the pages carry."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        me = client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        self.csrf: str = me.json()["csrf_token"]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """A form post carrying the CSRF token, as the pages do."""
        return self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kw)

    def post_json(self, url: str, body: Any, **kw: Any) -> Any:
        return self.client.post(url, json=body, headers={"X-CSRF-Token": self.csrf}, **kw)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    w = Web(tmp_path)
    yield w
    w.store.close()
