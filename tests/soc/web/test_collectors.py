"""Collectors page and API: every reading role, agency officers limited to their agency."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from soc.db import tokens
from soc.db.models import Agency
from soc.db.session import session_scope
from tests.soc.web.conftest import Web


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    w = Web(tmp_path_factory.mktemp("web-collectors"))
    with session_scope(w.db) as s:
        ids = {a.code: a.id for a in s.scalars(select(Agency))}
        tokens.create(s, name="col-aaa", kind="collector", agency_id=ids["so-a"], actor="test")
        tokens.create(s, name="col-zzb", kind="collector", agency_id=ids["so-b"], actor="test")
    w.store.write([{"@timestamp": "2026-11-27T01:00:00Z", "agent": {"name": "host-zzb"}, "message": "x"}],
                  agency="so-b")  # fmt: skip
    w.add_alert("so-b", n=1, id="zzb-1")
    yield w
    w.store.close()


@pytest.mark.parametrize("name", ["admin", "analyst", "oncall"])
def test_city_wide_roles_see_every_agency(web: Web, name: str) -> None:
    page = web.login(name).get("/collectors")
    assert page.status_code == 200
    assert "col-aaa" in page.text
    assert "col-zzb" in page.text
    data = web.client().get("/api/v1/collectors", headers=web.api(name)).json()
    assert [a["code"] for a in data["agencies"]] == ["so-a", "so-b"]
    assert [c["name"] for c in data["collectors"]] == ["host-zzb"]
    b = data["agencies"][1]
    assert (b["events_24h"], b["open_alerts"], b["tokens"]) == (1, 1, 1)
    assert data["silent_after_seconds"] == 900


@pytest.mark.parametrize("query", ["", "?agency=so-b", "?agency=so-a"])
def test_officer_sees_only_own_agency(web: Web, query: str) -> None:
    page = web.login("officer_a").get(f"/collectors{query}")
    assert page.status_code == 200
    assert "zzb" not in page.text
    assert "Sở B" not in page.text
    answer = web.client().get(f"/api/v1/collectors{query}", headers=web.api("officer_a"))
    assert answer.status_code == 200
    assert "zzb" not in answer.text
    assert "so-b" not in answer.text


def test_officer_b_sees_own_collectors(web: Web) -> None:
    data = web.client().get("/api/v1/collectors", headers=web.api("officer_b")).json()
    assert [a["code"] for a in data["agencies"]] == ["so-b"]
    assert [t["name"] for t in data["tokens"]] == ["col-zzb"]


@pytest.mark.parametrize("name", ["outsider", "appraiser", "approver"])
def test_others_are_refused(web: Web, name: str) -> None:
    assert web.client().get("/api/v1/collectors", headers=web.api(name)).status_code == 403
    if name != "outsider":
        assert web.login(name).get("/collectors").status_code == 403


def test_anonymous_is_sent_to_login(web: Web) -> None:
    assert web.client().get("/collectors").status_code == 303
    assert web.client().get("/api/v1/collectors").status_code == 401
