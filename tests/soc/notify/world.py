"""A small world for notification tests: a migrated SQLite app DB, on-call people, alerts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from soc.alerts.writer import write_alerts
from soc.db import accounts, migrate
from soc.db.session import make_engine, session_scope
from soc.notify import oncall
from soc.notify.service import NotifyService

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 10:00 in Cần Thơ
SECRET = "test-secret-key-0123456789"
CONFIG: dict[str, Any] = {
    "group": {"wait": "30s", "repeat": "4h", "resolve_after": "2h"},
    "schedules": {
        "primary": {
            "layers": [{"start": "2026-11-23 09:00", "rotation": "7d", "participants": ["an", "binh"]}]
        }
    },
    "policies": {
        "default": {
            "ack_timeout": "30m",
            "repeat": 0,
            "levels": [
                {"delay": "0m", "targets": ["schedule:primary"]},
                {"delay": "10m", "targets": ["user:lead"]},
            ],
        }
    },
    "routes": [{"levels": ["low", "informational"], "digest": True}],
    "quiet_hours": {"start": "22:00", "end": "06:30", "levels": ["medium"]},
    "digest": {"at": "08:00", "targets": ["user:lead"]},
}


def make_db(tmp: Path) -> Engine:
    url = f"sqlite:///{tmp / 'app.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    with session_scope(db) as s:
        accounts.add_agency(s, "syt", "Sở Y tế", actor="test")
        people = [("an", "vi", "oncall"), ("binh", "en", "oncall"), ("lead", "en", "admin")]
        for name, locale, role in people:
            accounts.add_user(
                s, username=name, password="correct horse battery", email=f"{name}@example.vn",
                full_name=name.title(), locale=locale, roles=[(role, None)], actor="test",
            )  # fmt: skip
    return db


def service(config: dict[str, Any] | None = None) -> NotifyService:
    cfg = oncall.parse(config or CONFIG)
    return NotifyService(cfg, secret_key=SECRET, base_url="http://soc.test", domain="soc.example.vn")


def add_alerts(
    db: Engine, n: int, *, rule: str = "ssh-brute", agency: str | None = "syt", level: str = "high",
    at: datetime = T0, status: str = "new",
) -> list[str]:  # fmt: skip
    rows: list[dict[str, Any]] = []
    for i in range(n):
        alert_id = hashlib.sha256(f"{rule}{agency}{at}{i}".encode()).hexdigest()
        rows.append({
            "id": alert_id, "rule_id": rule, "rule_version": "v1", "rule_title": "Dò mật khẩu SSH",
            "level": level, "tags": ["attack.t1110"], "agency": agency, "host": f"web-{i}",
            "user_name": "root", "source_ip": "203.0.113.9", "group_key": {}, "first_at": at, "last_at": at,
            "count": 1, "events": [{"index": "e", "id": str(i), "original": f"Failed password for root {i}"}],
            "window_start": at - timedelta(minutes=5), "window_end": at, "backfill": False, "status": status,
            "suppression_id": None, "created_at": at,
        })  # fmt: skip
    with session_scope(db) as s:
        write_alerts(s, rows, at)
    return [r["id"] for r in rows]


def add_standard_actors(db: Engine) -> None:
    """The house's permission actors: analyst (city SOC), officer_a (agency A = syt), officer_b
    (agency B = stp), outsider (no role); plus a city-wide appraiser, who is not SOC staff."""
    with session_scope(db) as s:
        accounts.add_agency(s, "stp", "Sở Tư pháp", actor="test")
        people: list[tuple[str, list[tuple[str, str | None]]]] = [
            ("analyst", [("soc_analyst", None)]),
            ("officer_a", [("agency_officer", "syt")]),
            ("officer_b", [("agency_officer", "stp")]),
            ("outsider", []),
            ("appraiser", [("appraiser", None)]),
        ]
        for name, roles in people:
            accounts.add_user(
                s, username=name, password="correct horse battery", email=f"{name}@example.vn",
                full_name=name.title(), locale="en", roles=roles, actor="test",
            )  # fmt: skip
