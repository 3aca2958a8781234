"""The service skeleton: health, metrics and the collector intake, over real SQLite parts."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from soc import settings as settings_mod
from soc.db import accounts, migrate, tokens
from soc.db.detection import Alert
from soc.db.session import make_engine, session_scope
from soc.store.base import scan
from soc.store.query import MatchAll
from soc.store.sqlite import SqliteStore
from soc.web.app import create_app


class Service:
    def __init__(self, tmp: Path) -> None:
        self.settings = settings_mod.load(
            environ={}, data_dir=tmp, ingest_max_body_bytes=64 * 1024, ingest_max_line_bytes=8 * 1024
        )
        migrate.upgrade(self.settings.resolved_database_url)
        self.db = make_engine(self.settings.resolved_database_url)
        self.store = SqliteStore(tmp / "events.db")
        self.store.ensure_schema()
        with session_scope(self.db) as s:
            a = accounts.add_agency(s, "so-a", "Sở A", actor="test")
            b = accounts.add_agency(s, "so-b", "Sở B", actor="test")
            self.token_a, _ = tokens.create(s, name="col a", kind="collector", agency_id=a.id, actor="test")
            self.token_b, _ = tokens.create(s, name="col b", kind="collector", agency_id=b.id, actor="test")
            self.api_token, _ = tokens.create(s, name="api", kind="api", scopes=["read"], actor="test")
            revoked, row = tokens.create(s, name="old", kind="collector", agency_id=a.id, actor="test")
            tokens.revoke(s, row.id, actor="test")
            self.revoked = revoked
        self.client = TestClient(create_app(self.settings, store=self.store, db=self.db))

    def post(self, body: bytes, token: str | None = None, **headers: str) -> dict[str, object]:
        auth = {"Authorization": f"Bearer {token or self.token_a}"}
        response = self.client.post("/api/v1/ingest", content=body, headers={**auth, **headers})
        return {"status": response.status_code, **response.json()}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path)
    yield svc
    svc.store.close()


def ndjson(*docs: object) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


def ev(n: int, **fields: object) -> dict[str, object]:
    return {"@timestamp": "2026-11-27T02:00:00Z", "message": f"line {n}", "log": {"offset": n}, **fields}


def test_it_reports_health_of_database_and_store(service: Service) -> None:
    response = service.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["store"]["backend"] == "sqlite"


def test_it_answers_503_when_the_store_is_down(service: Service) -> None:
    service.store.close()
    response = service.client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


def test_it_stores_events_under_the_tokens_agency_not_the_payloads(service: Service) -> None:
    answer = service.post(ndjson(ev(1, organization={"id": "so-b"}), ev(2)))
    assert answer == {
        "status": 200, "lines": 2, "accepted": 2, "created": 2, "duplicates": 0, "rejected": 0,
        "errors": [], "warnings": [],
    }  # fmt: skip
    agencies = {h.source["organization"]["id"] for h in scan(service.store, MatchAll(), agencies=None)}
    assert agencies == {"so-a"}


def test_it_counts_a_resent_batch_as_duplicates(service: Service) -> None:
    body = ndjson(ev(1), ev(2), ev(3))
    service.post(body)
    answer = service.post(body)
    assert (answer["created"], answer["duplicates"]) == (0, 3)
    assert service.store.count(MatchAll(), agencies=None) == 3


def test_it_keeps_lines_that_are_not_json_and_reports_rejected_ones(service: Service) -> None:
    body = ndjson(ev(1)) + b"<13>Nov 27 kernel: not json at all\n" + ndjson(ev(3, source={"ip": "999.0.0.1"}))
    answer = service.post(body)
    assert (answer["lines"], answer["created"], answer["rejected"]) == (3, 2, 1)
    assert answer["warnings"][0]["line"] == 2  # type: ignore[index]
    assert answer["errors"][0]["line"] == 3  # type: ignore[index]
    [kept] = [h.source for h in scan(service.store, MatchAll(), agencies=None, datasets=["soc.unparsed"])]
    assert kept["event"]["original"] == "<13>Nov 27 kernel: not json at all"
    assert kept["error"]["message"].startswith("invalid JSON")
    assert "999.0.0.1" in service.store.rejected(agencies=["so-a"])[0]["original"]


def test_it_accepts_gzip_bodies(service: Service) -> None:
    answer = service.post(gzip.compress(ndjson(ev(1), ev(2))), **{"Content-Encoding": "gzip"})
    assert answer["created"] == 2


@pytest.mark.parametrize(
    ("token", "status"),
    [("", 401), ("soc_not-a-real-token", 401), ("revoked", 401), ("api", 403)],
)
def test_it_refuses_requests_without_a_valid_collector_token(
    service: Service, token: str, status: int
) -> None:
    raw = {"revoked": service.revoked, "api": service.api_token}.get(token, token)
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    response = service.client.post("/api/v1/ingest", content=ndjson(ev(1)), headers=headers)
    assert response.status_code == status
    assert response.json()["error"]
    assert service.store.count(MatchAll(), agencies=None) == 0


def test_it_refuses_an_oversized_body_with_413(service: Service) -> None:
    body = ndjson(*[ev(i, message="x" * 1000) for i in range(80)])
    answer = service.post(body)
    assert answer["status"] == 413
    assert "limit" in str(answer["error"])


def test_it_refuses_a_gzip_bomb_with_413(service: Service) -> None:
    answer = service.post(gzip.compress(b" " * 10_000_000), **{"Content-Encoding": "gzip"})
    assert answer["status"] == 413


def test_it_refuses_an_oversized_line_with_400_naming_it(service: Service) -> None:
    answer = service.post(ndjson(ev(1), ev(2, message="y" * 9000)))
    assert answer["status"] == 400
    assert "line 2" in str(answer["error"])
    assert service.store.count(MatchAll(), agencies=None) == 0


def test_it_exposes_prometheus_metrics(service: Service) -> None:
    service.post(ndjson(ev(1)))
    text = service.client.get("/metrics").text
    assert 'soc_ingest_events_total{agency="so-a",outcome="created"} 1.0' in text
    assert 'soc_ingest_requests_total{status="200"} 1.0' in text


def test_it_shows_the_status_page_in_vietnamese_and_english(service: Service) -> None:
    service.post(ndjson(ev(1, event={"dataset": "system.auth"})))
    vi = service.client.get("/status?lang=vi").text
    en = service.client.get("/status", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert "Hệ thống giám sát an toàn thông tin" in vi
    assert "Sở A" in vi
    assert "SOC monitoring service" in en
    assert "system.auth" in en


def test_it_lists_latest_alerts_in_vietnam_time(service: Service) -> None:
    at = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    with session_scope(service.db) as s:
        s.add(
            Alert(
                id="a1", rule_id="r1", rule_version="v1", rule_title="SSH brute force", level="high",
                agency="so-a", host="web01", first_at=at, last_at=at, window_start=at, window_end=at,
            )
        )  # fmt: skip
    page = service.client.get("/status?lang=vi").text
    assert "SSH brute force" in page
    assert "27/11/2026 09:00:00 +0700" in page
    assert "Sở A" in page


@pytest.mark.parametrize("path", ["/status", "/metrics"])
def test_it_shows_data_pages_to_remote_readers_only_with_an_api_token(service: Service, path: str) -> None:
    remote = TestClient(service.client.app, client=("203.0.113.5", 40000))
    assert remote.get(path).status_code == 401
    collector = {"Authorization": f"Bearer {service.token_a}"}
    assert remote.get(path, headers=collector).status_code == 401
    assert remote.get(path, headers={"Authorization": f"Bearer {service.api_token}"}).status_code == 200


def test_it_does_not_trust_a_local_connection_that_came_through_a_proxy(service: Service) -> None:
    assert service.client.get("/status", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 401
    assert service.client.get("/api/docs").status_code == 404


def test_it_refuses_a_body_of_two_gzip_members_instead_of_dropping_the_second(service: Service) -> None:
    body = gzip.compress(ndjson(ev(1))) + gzip.compress(ndjson(ev(2)))
    answer = service.post(body, **{"Content-Encoding": "gzip"})
    assert answer["status"] == 400
    cut = gzip.compress(ndjson(ev(1), ev(2)))[:-6]
    assert service.post(cut, **{"Content-Encoding": "gzip"})["status"] == 400
    assert service.store.count(MatchAll(), agencies=None) == 0


def test_it_reports_a_broken_store_without_its_internals(service: Service) -> None:
    service.store.close()
    body = service.client.get("/healthz").json()
    assert body["checks"]["store"] == {"status": "error", "error": "StoreError"}
    assert str(service.store.path) not in str(body)
