"""Audit log: admins only, newest first, filters, keyset pages, hash-chain verification."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from soc.db import audit
from soc.db.session import session_scope
from tests.soc.web.conftest import Web


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    w = Web(tmp_path_factory.mktemp("web-audit"))
    with session_scope(w.db) as s:
        for n in range(7):
            audit.record(s, actor="analyst", action="rule.disable", target_type="rule", target_id=f"r{n}",
                         detail={"reason": f"why {n}"})  # fmt: skip
    yield w
    w.store.close()


def test_admin_sees_newest_first_with_the_chain_checked(web: Web) -> None:
    data = web.client().get("/api/v1/audit", headers=web.api("admin")).json()
    ids = [e["id"] for e in data["entries"]]
    assert ids == sorted(ids, reverse=True)
    assert data["entries"][0]["target_id"] == "r6"
    assert data["chain"]["ok"] is True
    assert data["chain"]["problems"] == []
    page = web.login("admin").get("/audit")
    assert page.status_code == 200
    assert "rule.disable" in page.text
    assert "Intact" in page.text


def test_filters_and_keyset_pages(web: Web) -> None:
    h = web.api("admin")
    first = web.client().get("/api/v1/audit?action=rule.&limit=3&verify=false", headers=h).json()
    assert [e["target_id"] for e in first["entries"]] == ["r6", "r5", "r4"]
    assert first["chain"] is None
    second = web.client().get(f"/api/v1/audit?action=rule.&limit=3&before={first['next_before']}", headers=h)
    assert [e["target_id"] for e in second.json()["entries"]] == ["r3", "r2", "r1"]
    last = web.client().get(
        f"/api/v1/audit?action=rule.&limit=3&before={second.json()['next_before']}", headers=h
    )
    assert [e["target_id"] for e in last.json()["entries"]] == ["r0"]
    assert last.json()["next_before"] is None
    users = web.client().get("/api/v1/audit?target_type=user&actor=test", headers=h).json()["entries"]
    assert users
    assert all(e["target_type"] == "user" for e in users)
    assert all(e["actor"] == "test" for e in users)
    nothing = web.client().get("/api/v1/audit?actor=nobody", headers=h).json()["entries"]
    assert nothing == []
    later = web.client().get("/api/v1/audit?since=2099-01-01T00:00", headers=h).json()["entries"]
    assert later == []
    page = web.login("admin").get("/audit?action=rule.*")
    assert page.status_code == 200
    assert "why 6" in page.text


def test_a_bad_time_is_a_400(web: Web) -> None:
    assert web.client().get("/api/v1/audit?since=yesterday", headers=web.api("admin")).status_code == 400


@pytest.mark.parametrize(
    "name", ["analyst", "oncall", "officer_a", "officer_b", "appraiser", "approver", "outsider"]
)
def test_only_admins_read_the_audit_log(web: Web, name: str) -> None:
    assert web.client().get("/api/v1/audit", headers=web.api(name)).status_code == 403
    if name != "outsider":
        assert web.login(name).get("/audit").status_code == 403


def test_a_tampered_chain_is_reported(tmp_path_factory: pytest.TempPathFactory) -> None:
    w = Web(tmp_path_factory.mktemp("web-audit-tampered"))
    try:
        with w.db.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_update"))
            conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE id = 2"))
        data = w.client().get("/api/v1/audit", headers=w.api("admin")).json()
        assert data["chain"]["ok"] is False
        assert any("entry 2" in p for p in data["chain"]["problems"])
        assert "broken" in w.login("admin").get("/audit").text
    finally:
        w.store.close()
