"""Server time of the alert list at 100k alerts in SQLite (issue 6: a page in under 300 ms).

    .venv/bin/python -m bench.alert_list [--alerts 100000] [--rounds 7] [--db DIR] [--index proposed]

Writes the alerts (20 agencies, 40 rules, five levels, every status; two months of first_at;
about 40 % closed) into a migrated SQLite app database, then renders pages through the real app
with TestClient, signed in as a city-wide analyst and as one agency's officer: the default page
(grouped by rule, with the first 50 of the flat list), a filtered page, a page 200 pages deep via
the keyset cursor, the host grouping, and the sorts by severity and count. Prints the median and
the slowest of `--rounds` renders per page and the ratio to the 300 ms limit. `--db` keeps the
database between runs (written once); `--index proposed` adds the covering index proposed for
migration 0006 (`--index existing`, the default, drops it again).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from soc import settings as settings_mod
from soc.db import accounts, migrate
from soc.db.detection import Alert
from soc.db.session import make_engine, session_scope
from soc.store.sqlite import SqliteStore
from soc.web.app import create_app

LIMIT_MS = 300.0
PASSWORD = "correct horse battery staple"  # noqa: S105 - the bench's own throwaway users
T0 = datetime(2026, 9, 27, tzinfo=UTC)
AGENCIES = [f"so-{i:02d}" for i in range(20)]
LEVELS = ("critical", "high", "medium", "low", "informational")
STATUSES = ["new"] * 30 + ["acknowledged"] * 10 + ["in_progress"] * 15 + ["closed"] * 40 + ["suppressed"] * 5


def fill(db_url: str, n: int) -> None:
    rng = random.Random(6)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        for code in AGENCIES:
            accounts.add_agency(s, code, f"Sở {code[-2:]}", actor="bench")
        accounts.add_user(s, username="analyst", password=PASSWORD, email="a@example.vn", full_name="Analyst",
                          locale="vi", roles=[("soc_analyst", None)], actor="bench")  # fmt: skip
        accounts.add_user(s, username="officer", password=PASSWORD, email="o@example.vn", full_name="Officer",
                          locale="vi", roles=[("agency_officer", AGENCIES[3])], actor="bench")  # fmt: skip
    rows: list[dict[str, Any]] = []
    for i in range(n):
        rule = rng.randrange(40)
        at = T0 + timedelta(seconds=i * 60 * 86400 / n, milliseconds=rng.randrange(1000))
        status = rng.choice(STATUSES)
        rows.append({
            "id": f"{i:08d}{rng.getrandbits(96):024x}", "rule_id": f"r-{rule:02d}", "rule_version": "1",
            "rule_title": f"Rule number {rule}", "level": LEVELS[rule % 5], "tags": ["attack.t1110"],
            "agency": AGENCIES[rng.randrange(len(AGENCIES))], "host": f"web{rng.randrange(300)}",
            "user_name": rng.choice(["root", "admin", "backup", "www-data", None]),
            "source_ip": f"203.0.113.{rng.randrange(256)}", "group_key": {}, "first_at": at, "last_at": at,
            "count": 1 + rng.randrange(20), "window_start": at, "window_end": at, "backfill": False,
            "status": status, "suppression_id": None, "created_at": at + timedelta(seconds=30),
            "assignee": rng.choice([None, None, "analyst"]) if status != "new" else None,
            "resolution": "false_positive" if status == "closed" else None,
            "events": [{"index": "soc-system.auth", "id": f"e{i}", "original": f"Failed password #{i}"}],
        })  # fmt: skip
        if len(rows) == 5000:
            with session_scope(engine) as s:
                s.execute(insert(Alert), rows)
            rows = []
    if rows:
        with session_scope(engine) as s:
            s.execute(insert(Alert), rows)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


PROPOSED_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_alerts_triage_cover "
    "ON alerts (status, created_at, level, count, agency, rule_id, host, id)"
)
"""The index proposed for migration 0006: covers grouped counts, the severity and count sorts and
the status filter, so those read the index only and never the alert rows."""


def set_index(db_url: str, wanted: bool) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(PROPOSED_INDEX if wanted else "DROP INDEX IF EXISTS ix_alerts_triage_cover")
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def login(client: TestClient, username: str) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                         "csrf_token": token.group(1), "next": "/"})  # fmt: skip
    assert answer.status_code == 303, answer.text


def deep_cursor(client: TestClient, pages: int) -> str:
    url = "/api/v1/alerts?limit=50"
    cursor = ""
    for _ in range(pages):
        body = client.get(url).json()
        cursor = body["next_cursor"]
        assert cursor, "fewer pages than asked for"
        url = f"/api/v1/alerts?limit=50&cursor={cursor}"
    return cursor


def time_page(client: TestClient, url: str, rounds: int) -> tuple[float, float]:
    client.get(url)  # warm the caches once, as a running service would have them
    took = []
    for _ in range(rounds):
        began = time.perf_counter()
        answer = client.get(url)
        took.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    return statistics.median(took), max(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--index", choices=("existing", "proposed"), default="existing",
                        help="indexes of migration 0005 only, or with the one proposed for 0006")  # fmt: skip
    args = parser.parse_args()
    data = args.db or Path(tempfile.mkdtemp(prefix="soc-alert-bench-"))
    data.mkdir(parents=True, exist_ok=True)
    settings = settings_mod.load(environ={}, data_dir=data, secret_key="k" * 40)
    fresh = not (data / "soc.db").exists()
    if fresh:
        migrate.upgrade(settings.resolved_database_url)
        began = time.perf_counter()
        fill(settings.resolved_database_url, args.alerts)
        print(f"wrote {args.alerts:,} alerts in {time.perf_counter() - began:.1f} s")
    set_index(settings.resolved_database_url, args.index == "proposed")
    print(f"indexes: {args.index}")
    store = SqliteStore(data / "events.db")
    store.ensure_schema()
    app = create_app(settings, store=store)
    from soc.web.limiter import LoginLimiter

    app.state.login_limiter = LoginLimiter(attempts=1_000_000)
    print(f"{'who':8} {'page':44} {'median ms':>9} {'max ms':>7} {'ratio':>6}")
    for who in ("analyst", "officer"):
        client = TestClient(app, follow_redirects=False)
        login(client, who)
        cursor = deep_cursor(client, 200 if who == "analyst" else 20)
        deep = f"deep page via cursor ({200 if who == 'analyst' else 20} pages in)"
        pages = {
            "default (grouped by rule + first 50)": "/alerts",
            "flat list, first page": "/alerts?view=flat",
            "filtered: high, text 'web1', last 14 d": "/alerts?level=high&q=web1&since=2026-11-13T00:00&view=flat",  # noqa: E501
            "filtered: rule + assignee me": "/alerts?rule=r-07&assignee=me&status=all&view=flat",
            deep: f"/alerts?view=flat&cursor={cursor}",
            "grouped by host": "/alerts?by=host",
            "grouped by agency, all statuses": "/alerts?by=agency&status=all",
            "sorted by severity": "/alerts?view=flat&sort=severity",
            "sorted by count": "/alerts?view=flat&sort=count",
        }
        for name, url in pages.items():
            median, worst = time_page(client, url, args.rounds)
            print(f"{who:8} {name:44} {median:9.0f} {worst:7.0f} {median / LIMIT_MS:6.2f}")
    store.close()


if __name__ == "__main__":
    main()
