"""On-call page and API: who is on call, hand-offs and gaps from the on-call file, silences
created (with a mandatory expiry) and expired — audited, and muting the notifier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from soc.db.models import AuditEntry
from soc.db.notify import Silence
from soc.db.session import session_scope
from soc.notify import oncall
from soc.triage import oncall as service
from tests.soc.web.conftest import Web

ONCALL_YML = """
timezone: Asia/Ho_Chi_Minh
schedules:
  primary:
    layers:
      - {name: daily, start: "2026-11-01 08:00", rotation: 1d, participants: [an, binh]}
  office:
    layers:
      - {name: office, start: "2026-11-01 08:00", rotation: 7d, participants: [chi], hours: "08:00-17:00"}
policies:
  default:
    levels:
      - {delay: 0m, targets: ["schedule:primary"]}
      - {delay: 15m, targets: ["user:lead", "role:admin"]}
"""


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    w = Web(tmp_path_factory.mktemp("web-oncall"))
    (w.settings.data_dir / "oncall.yml").write_text(ONCALL_YML, encoding="utf-8")
    yield w
    w.store.close()


def future(hours: int) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize("name", ["admin", "analyst", "oncall"])
def test_soc_roles_see_who_is_on_call(web: Web, name: str) -> None:
    data = web.client().get("/api/v1/oncall", headers=web.api(name)).json()
    schedules = {s["name"]: s for s in data["schedules"]}
    assert set(schedules) == {"office", "primary"}
    assert schedules["primary"]["person"] in ("an", "binh")
    handoffs = schedules["primary"]["handoffs"]
    assert handoffs
    assert handoffs[0]["person"] != schedules["primary"]["person"]
    local = datetime.fromisoformat(handoffs[0]["at"]).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (local.hour, local.minute) == (8, 0)
    assert schedules["office"]["gaps"]  # nights are not covered
    assert schedules["primary"]["gaps"] == []
    policy = next(p for p in data["policies"] if p["name"] == "default")
    assert policy["levels"][0]["now"] == [schedules["primary"]["person"]]
    assert policy["levels"][1]["now"] == ["lead", "role:admin"]
    page = web.login(name).get("/oncall")
    assert page.status_code == 200
    assert "primary" in page.text


def test_handoffs_are_found_to_the_minute() -> None:
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    layer = oncall.Layer("x", datetime(2026, 11, 1, 8, 7, tzinfo=zone), timedelta(hours=6), ("a", "b"))
    schedule = oncall.Schedule("s", (layer,))
    start = datetime(2026, 11, 2, 0, 0, tzinfo=zone)
    found = service.handoffs(schedule, start, start + timedelta(days=1), ())
    assert [(h.at.astimezone(zone).strftime("%H:%M"), h.person) for h in found] == [
        ("02:07", "b"), ("08:07", "a"), ("14:07", "b"), ("20:07", "a"),
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["officer_a", "officer_b", "appraiser", "approver", "outsider"])
def test_others_are_refused(web: Web, name: str) -> None:
    assert web.client().get("/api/v1/oncall", headers=web.api(name)).status_code == 403
    body = {"level": "low", "reason": "x", "expires_at": future(1)}
    assert web.client().post("/api/v1/oncall/silences", json=body, headers=web.api(name)).status_code == 403
    if name != "outsider":
        assert web.login(name).get("/oncall").status_code == 403


def test_a_silence_needs_an_expiry_a_reason_and_a_matcher(web: Web) -> None:
    h = web.api("oncall")
    url = "/api/v1/oncall/silences"
    assert web.client().post(url, json={"level": "low", "reason": "x"}, headers=h).status_code == 422
    assert web.client().post(url, json={"reason": "x", "expires_at": future(1)}, headers=h).status_code == 400
    body = {"level": "low", "reason": " ", "expires_at": future(1)}
    assert web.client().post(url, json=body, headers=h).status_code == 400
    body = {"level": "low", "reason": "x", "expires_at": future(-1)}
    assert web.client().post(url, json=body, headers=h).status_code == 400
    body = {"level": "low", "reason": "x", "expires_at": future(24 * 40)}
    assert web.client().post(url, json=body, headers=h).status_code == 400
    body = {"agency": "so-x", "reason": "x", "expires_at": future(1)}
    assert web.client().post(url, json=body, headers=h).status_code == 400


def test_create_and_expire_a_silence_from_the_page(web: Web) -> None:
    browser = web.login("oncall")
    created = browser.post(
        "/oncall/silences",
        {"agency": "so-a", "rule_id": "r-ssh-brute", "reason": "patching web servers", "expires_in": "4"},
    )
    assert created.status_code == 303
    page = browser.get("/oncall")
    assert "patching web servers" in page.text
    with session_scope(web.db) as s:
        silence = s.scalar(select(Silence).where(Silence.reason == "patching web servers"))
        assert silence is not None
        assert silence.matchers == {"agency": "so-a", "rule_id": "r-ssh-brute"}
        assert silence.author == "oncall"
        assert timedelta(hours=3, minutes=59) < silence.expires_at - silence.starts_at <= timedelta(hours=4)
        silence_id = silence.id
    assert browser.post(f"/oncall/silences/{silence_id}/expire").status_code == 303
    assert browser.post(f"/oncall/silences/{silence_id}/expire").status_code == 400
    with session_scope(web.db) as s:
        silence = s.get(Silence, silence_id)
        assert silence is not None
        assert silence.expires_at <= datetime.now(UTC)
        trail = s.scalars(
            select(AuditEntry.action).where(
                AuditEntry.target_type == "silence", AuditEntry.target_id == str(silence_id)
            )
        ).all()
    assert trail == ["silence.create", "silence.expire"]


def test_create_a_silence_with_a_token_and_list_it(web: Web) -> None:
    body = {"level": "low", "kind": "maintenance", "reason": "night maintenance", "expires_at": future(2)}
    answer = web.client().post("/api/v1/oncall/silences", json=body, headers=web.api("analyst"))
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["active"] is True
    assert made["matchers"] == {"level": "low"}
    listed = web.client().get("/api/v1/oncall/silences", headers=web.api("admin")).json()
    assert made["id"] in [s["id"] for s in listed]
    done = web.client().post(f"/api/v1/oncall/silences/{made['id']}/expire", headers=web.api("admin"))
    assert done.json()["active"] is False
    missing = web.client().post("/api/v1/oncall/silences/999999/expire", headers=web.api("admin"))
    assert missing.status_code == 404


def test_a_broken_oncall_file_is_shown_not_a_crash(tmp_path_factory: pytest.TempPathFactory) -> None:
    w = Web(tmp_path_factory.mktemp("web-oncall-broken"))
    try:
        (w.settings.data_dir / "oncall.yml").write_text("schedules: {x: {layers: []}}\n", encoding="utf-8")
        data = w.client().get("/api/v1/oncall", headers=w.api("oncall")).json()
        assert data["problems"]
        assert [p["name"] for p in data["policies"]] == ["default"]
        assert w.login("oncall").get("/oncall").status_code == 200
    finally:
        w.store.close()


def test_an_override_changes_who_is_on_call_and_is_audited(web: Web) -> None:
    before = web.client().get("/api/v1/oncall", headers=web.api("analyst")).json()
    primary = next(s for s in before["schedules"] if s["name"] == "primary")
    body = {"schedule": "primary", "username": "oncall", "start_at": future(-1), "end_at": future(2),
            "reason": "covering for a sick colleague"}  # fmt: skip
    assert (
        web.client().post("/api/v1/oncall/overrides", json=body, headers=web.api("officer_a")).status_code
        == 403
    )
    bad = body | {"username": "nobody-here"}
    assert (
        web.client().post("/api/v1/oncall/overrides", json=bad, headers=web.api("oncall")).status_code == 400
    )
    made = web.client().post("/api/v1/oncall/overrides", json=body, headers=web.api("oncall"))
    assert made.status_code == 201, made.text
    after = web.client().get("/api/v1/oncall", headers=web.api("analyst")).json()
    now_primary = next(s for s in after["schedules"] if s["name"] == "primary")
    assert now_primary["person"] == "oncall"
    assert now_primary["overridden"] is True
    assert primary["person"] != "oncall"
    ended = web.login("analyst").post(f"/oncall/overrides/{made.json()['id']}/expire")
    assert ended.status_code == 303
    again = web.client().get("/api/v1/oncall", headers=web.api("analyst")).json()
    assert next(s for s in again["schedules"] if s["name"] == "primary")["person"] == primary["person"]
    with session_scope(web.db) as s:
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.target_type == "oncall_override")
        ).all()
    assert actions == ["oncall_override.create", "oncall_override.expire"]
