"""Alert pages and API over HTTP: agency isolation on every route, CSRF, history, 409 on a stale
change, bulk and group actions, suppress similar, and the notification group resolving."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from soc.db import accounts
from soc.db.detection import Alert, Suppression
from soc.db.notify import AlertGroup, OutboxMessage
from soc.db.session import session_scope
from soc.db.triage import AlertComment, AlertTransition
from soc.notify import grouping
from soc.notify.oncall import OncallConfig
from soc.notify.service import NotifyService

from .conftest import PASSWORD, T0, Web


@pytest.fixture
def alerts(web: Web) -> Web:
    for n in range(3):
        web.add_alert("so-a", n=n)
    web.add_alert("so-b", n=0, host="secret-b", rule_id="r-b", rule_title="Only in B")
    return web


def status_of(web: Web, alert_id: str) -> str:
    with session_scope(web.db) as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None
        return alert.status


# ---------------------------------------------------------------- isolation


def test_officer_lists_only_own_agency_in_page_groups_and_api(alerts: Web) -> None:
    officer = alerts.login("officer_a")
    body = officer.get("/alerts").text
    assert "alert-so-a-1" in body
    assert "secret-b" not in body
    assert "Only in B" not in body
    api = officer.get("/api/v1/alerts?status=all").json()
    assert {a["agency"] for a in api["items"]} == {"so-a"}
    for by in ("rule", "agency", "host"):
        groups = officer.get(f"/api/v1/alerts/groups?by={by}&status=all").json()
        assert "r-b" not in {g["key"] for g in groups}
        assert "so-b" not in {g["key"] for g in groups}
        assert "secret-b" not in {g["key"] for g in groups}
        assert sum(g["count"] for g in groups) == 3


def test_officer_asking_for_another_agency_gets_nothing(alerts: Web) -> None:
    officer = alerts.login("officer_a")
    assert officer.get("/api/v1/alerts?agency=so-b&status=all").json()["items"] == []
    assert officer.get("/api/v1/alerts/groups?agency=so-b").json() == []
    assert officer.get("/api/v1/alerts?q=secret-b").json()["items"] == []
    assert officer.get("/api/v1/alerts?rule=r-b").json()["items"] == []
    page = officer.get("/alerts?agency=so-b").text
    assert "secret-b" not in page
    assert "0 alert(s) match" in page


def test_detail_of_another_agency_is_404_as_page_and_api(alerts: Web) -> None:
    officer = alerts.login("officer_a")
    assert officer.get("/alerts/alert-so-b-0").status_code == 404
    assert officer.get("/alerts/alert-so-a-0").status_code == 200
    headers = alerts.api("officer_a")
    client = alerts.client()
    assert client.get("/api/v1/alerts/alert-so-b-0", headers=headers).status_code == 404
    assert client.get("/api/v1/alerts/alert-so-b-0/comments", headers=headers).status_code == 404
    assert client.get("/api/v1/alerts/no-such-alert", headers=headers).status_code == 404


def test_comments_on_another_agency_are_refused_without_writing(alerts: Web) -> None:
    officer = alerts.login("officer_a")
    assert officer.post("/alerts/alert-so-b-0/comments", {"body": "hi"}).status_code == 404
    assert officer.post_json("/api/v1/alerts/alert-so-b-0/comments", {"body": "hi"}).status_code == 404
    assert officer.post("/alerts/alert-so-a-0/comments", {"body": "our backup job"}).status_code == 303
    with session_scope(alerts.db) as s:
        assert [(c.alert_id, c.author) for c in s.scalars(select(AlertComment))] == [
            ("alert-so-a-0", "officer_a")
        ]


def test_bulk_with_a_foreign_id_is_refused_and_touches_nothing(alerts: Web) -> None:
    with session_scope(alerts.db) as s:
        accounts.add_user(
            s, username="oncall_a", password=PASSWORD, email="oa@example.vn", full_name="On-call A",
            locale="en", roles=[("oncall", "so-a")], actor="test",
        )  # fmt: skip
    oncall_a = alerts.login("oncall_a")
    answer = oncall_a.post_json(
        "/api/v1/alerts/bulk", {"action": "acknowledge", "alert_ids": ["alert-so-a-0", "alert-so-b-0"]}
    )
    assert answer.status_code == 404
    form = oncall_a.post(
        "/alerts/bulk", {"action": "acknowledge", "alert_ids": ["alert-so-a-1", "alert-so-b-0"]}
    )
    assert form.status_code == 404
    assert status_of(alerts, "alert-so-a-0") == "new"
    assert status_of(alerts, "alert-so-a-1") == "new"
    assert status_of(alerts, "alert-so-b-0") == "new"
    with session_scope(alerts.db) as s:
        assert s.scalar(select(AlertTransition)) is None


def test_officers_cannot_triage_or_suppress_and_outsiders_see_nothing(alerts: Web) -> None:
    officer = alerts.login("officer_a")
    assert (
        officer.post("/alerts/bulk", {"action": "acknowledge", "alert_ids": ["alert-so-a-0"]}).status_code
        == 403
    )
    assert officer.post("/alerts/alert-so-a-0/status", {"action": "acknowledge"}).status_code == 403
    assert officer.get("/alerts/alert-so-a-0/suppress").status_code == 403
    assert officer.post("/alerts/alert-so-a-0/suppress", {"reason": "x"}).status_code == 403
    assert status_of(alerts, "alert-so-a-0") == "new"
    outsider = alerts.client()
    headers = alerts.api("outsider")
    assert outsider.get("/api/v1/alerts", headers=headers).status_code == 403
    assert outsider.get("/api/v1/alerts/alert-so-a-0", headers=headers).status_code == 403
    assert outsider.get("/api/v1/alerts").status_code == 401


def test_suppress_on_another_agency_is_404(alerts: Web) -> None:
    with session_scope(alerts.db) as s:
        accounts.add_user(
            s, username="analyst_a", password=PASSWORD, email="aa@example.vn", full_name="Analyst A",
            locale="en", roles=[("soc_analyst", None)], actor="test",
        )  # fmt: skip
    analyst = alerts.login("analyst")
    assert analyst.get("/alerts/no-such/suppress").status_code == 404
    body = {"fields": {"host.name": "x"}, "reason": "r", "expires_at": (T0 + timedelta(days=1)).isoformat()}
    assert analyst.post_json("/api/v1/alerts/no-such/suppress", body).status_code == 404


# ---------------------------------------------------------------- CSRF, history, conflicts


def test_a_form_post_without_the_csrf_token_is_refused(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    bare = analyst.client.post("/alerts/bulk", data={"action": "acknowledge", "alert_ids": ["alert-so-a-0"]})
    assert bare.status_code == 403
    wrong = analyst.client.post(
        "/alerts/alert-so-a-0/status", data={"action": "acknowledge", "csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    assert (
        analyst.client.post(
            "/api/v1/alerts/bulk", json={"action": "acknowledge", "alert_ids": ["x"]}
        ).status_code
        == 403
    )
    assert status_of(alerts, "alert-so-a-0") == "new"


def test_history_shows_who_when_from_to_and_why(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    assert analyst.post("/alerts/alert-so-a-0/status", {"action": "acknowledge"}).status_code == 303
    closed = analyst.post(
        "/alerts/alert-so-a-0/status",
        {"action": "close", "resolution": "false_positive", "reason": "vulnerability scanner of the SOC"},
    )
    assert closed.status_code == 303
    page = analyst.get("/alerts/alert-so-a-0").text
    history = page[page.index('id="history-h"') :]
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d \+07:00</td>\s*<td>analyst</td>", history)
    assert "Acknowledged → Closed" in history
    assert "— → False positive" in history
    assert "vulnerability scanner of the SOC" in history
    api = analyst.get("/api/v1/alerts/alert-so-a-0").json()
    assert [(t["actor"], t["field"], t["from_value"], t["to_value"]) for t in api["transitions"]] == [
        ("analyst", "status", "new", "acknowledged"),
        ("analyst", "status", "acknowledged", "closed"),
        ("analyst", "resolution", None, "false_positive"),
    ]
    assert api["transitions"][1]["reason"] == "vulnerability scanner of the SOC"


def test_a_stale_change_gets_409_and_changes_nothing(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    oncall = alerts.login("oncall")
    version = analyst.get("/api/v1/alerts/alert-so-a-0").json()["version"]
    assert oncall.post_json("/api/v1/alerts/alert-so-a-0/actions", {"action": "start"}).status_code == 200
    stale = analyst.post(
        "/alerts/alert-so-a-0/status",
        {"action": "close", "resolution": "benign", "reason": "x", "version": version},
    )
    assert stale.status_code == 409
    assert "changed by oncall" in stale.text
    api = analyst.post_json(
        "/api/v1/alerts/alert-so-a-0/actions",
        {"action": "close", "resolution": "benign", "reason": "x", "version": version},
    )
    assert api.status_code == 409
    assert "reload" in api.json()["error"]
    bulk = analyst.post(
        "/alerts/bulk",
        {"action": "acknowledge", "alert_ids": ["alert-so-a-0"], "version.alert-so-a-0": version},
    )
    assert bulk.status_code == 409
    assert status_of(alerts, "alert-so-a-0") == "in_progress"


# ---------------------------------------------------------------- list, bulk, detail


def test_the_list_is_grouped_by_rule_with_counts_chart_and_links(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    page = analyst.get("/alerts?level=high").text
    assert '<img src="/dashboard/charts/alerts-over-time.svg?level=high"' in page
    groups = page[page.index('class="alert-groups"') : page.index('id="list-h"')]
    assert "SSH brute force" in groups
    assert re.search(r'<td class="n">3</td>', groups)
    assert "rule=r-ssh-brute" in groups
    assert 'action="/incidents/escalate"' in page or 'formaction="/incidents/escalate"' in page
    flat = analyst.get("/alerts?view=flat").text
    assert 'class="alert-groups"' not in flat


def test_pages_follow_the_cursor_to_the_end(web: Web) -> None:
    for n in range(120):
        web.add_alert("so-a" if n % 2 else "so-b", n=n)
    analyst = web.login("analyst")
    seen: list[str] = []
    url = "/api/v1/alerts?limit=50"
    while url:
        body = analyst.get(url).json()
        seen += [a["id"] for a in body["items"]]
        url = f"/api/v1/alerts?limit=50&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert len(seen) == len(set(seen)) == 120
    html = analyst.get("/alerts?view=flat").text
    nxt = re.search(r'href="(/alerts\?[^"]*cursor=[^"]+)" rel="next"', html)
    assert nxt
    assert analyst.get(nxt.group(1).replace("&amp;", "&")).status_code == 200
    assert analyst.get("/api/v1/alerts?cursor=garbage").status_code == 400


def test_the_group_link_from_the_email_lists_its_alerts(alerts: Web) -> None:
    with session_scope(alerts.db) as s:
        grouping.on_new_alerts(s, ["alert-so-a-0", "alert-so-a-1"], T0)
        public_id = s.scalar(select(AlertGroup.public_id))
    analyst = alerts.login("analyst")
    items = analyst.get(f"/api/v1/alerts?group={public_id}").json()["items"]
    assert sorted(a["id"] for a in items) == ["alert-so-a-0", "alert-so-a-1"]
    assert analyst.get(f"/alerts?group={public_id}").status_code == 200
    officer_b = alerts.login("officer_b")
    assert officer_b.get(f"/api/v1/alerts?group={public_id}").json()["items"] == []


def test_bulk_acknowledge_assign_and_close_by_form_and_api(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    ids = ["alert-so-a-0", "alert-so-a-1"]
    done = analyst.post(
        "/alerts/bulk", {"action": "acknowledge", "alert_ids": ids, "next": "/alerts?view=flat"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/alerts?view=flat&done=2&skipped=0"
    assigned = analyst.post_json(
        "/api/v1/alerts/bulk", {"action": "assign", "alert_ids": ids, "assignee": "officer_a"}
    )
    assert assigned.json()["changed"] == ids
    refused = analyst.post_json(
        "/api/v1/alerts/bulk", {"action": "assign", "alert_ids": ids, "assignee": "officer_b"}
    )
    assert refused.status_code == 400
    assert "cannot see" in refused.json()["error"]
    closed = analyst.post_json(
        "/api/v1/alerts/bulk",
        {
            "action": "close",
            "alert_ids": [*ids, "alert-so-a-2"],
            "resolution": "duplicate",
            "reason": "same attack",
        },
    )
    assert sorted(closed.json()["changed"]) == sorted([*ids, "alert-so-a-2"])
    mine = alerts.login("officer_a").get("/api/v1/alerts?assignee=me&status=all").json()["items"]
    assert sorted(a["id"] for a in mine) == ids


def test_act_on_a_whole_group_with_the_list_filters(alerts: Web) -> None:
    alerts.add_alert("so-a", n=7, rule_id="r-other", rule_title="Other rule")
    analyst = alerts.login("analyst")
    confirm = analyst.get("/alerts/bulk?by=rule&key=r-ssh-brute&agency=so-a")
    assert confirm.status_code == 200
    assert "3 alert(s) match" in confirm.text
    filter_qs = re.search(r'name="filter" value="([^"]*)"', confirm.text)
    assert filter_qs
    done = analyst.post(
        "/alerts/bulk",
        {"by": "rule", "key": "r-ssh-brute", "filter": filter_qs.group(1).replace("&amp;", "&"),
         "action": "close", "resolution": "false_positive", "reason": "pentest"},
    )  # fmt: skip
    assert done.status_code == 303
    assert [status_of(alerts, f"alert-so-a-{n}") for n in range(3)] == ["closed"] * 3
    assert status_of(alerts, "alert-so-a-7") == "new"
    assert status_of(alerts, "alert-so-b-0") == "new"


LINE = "sshd[1]: Failed password for root from 203.0.113.9"


def test_detail_shows_evidence_from_the_store_rule_link_pivots_and_forms(web: Web) -> None:
    result = web.store.write(
        [{"@timestamp": "2026-11-27T01:00:00Z", "message": "Failed password for root from 203.0.113.9",
          "event": {"original": LINE, "dataset": "system.auth"},
          "host": {"name": "web0"}, "source": {"ip": "203.0.113.9"}}],
        agency="so-a", now=T0,
    )  # fmt: skip
    event_id = result.ids[0]
    assert event_id
    web.add_alert(
        "so-a", n=0, id="with-evidence", tags=["attack.t1110"],
        events=[{"index": "soc-system.auth-2026.11.27", "id": event_id, "original": LINE}],
        window_start=T0 - timedelta(minutes=1), window_end=datetime.now(UTC) + timedelta(minutes=1),
    )  # fmt: skip
    analyst = web.login("analyst")
    page = analyst.get("/alerts/with-evidence").text
    assert LINE in page
    assert "<code>source.ip</code></td><td>203.0.113.9</td>" in page
    assert 'href="/rules/r-ssh-brute"' in page
    assert "/events/pivot?alert=with-evidence&amp;by=host&amp;minutes=15" in page
    assert "/events/pivot?alert=with-evidence&amp;by=source_ip&amp;minutes=15" in page
    assert 'action="/incidents/escalate"' in page
    assert 'name="alert_ids" value="with-evidence"' in page
    api = analyst.get("/api/v1/alerts/with-evidence").json()
    assert api["events"][0]["event"]["host"]["name"] == "web0"
    assert api["tags"] == ["attack.t1110"]
    officer_b = web.login("officer_b")
    assert officer_b.get("/alerts/with-evidence").status_code == 404


def test_the_pages_speak_vietnamese(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    page = analyst.get("/alerts?lang=vi").text
    assert "Cảnh báo" in page
    assert "Nhóm theo" in page
    assert "Trạng thái" in analyst.get("/alerts/alert-so-a-0?lang=vi").text


# ---------------------------------------------------------------- suppress similar


def test_suppress_similar_by_form_closes_matching_alerts_and_counts_new_ones(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    form = analyst.get("/alerts/alert-so-a-1/suppress")
    assert form.status_code == 200
    assert 'name="value.host.name" value="web1"' in form.text
    expires = (datetime.now(UTC) + timedelta(days=10)).astimezone().strftime("%Y-%m-%dT%H:%M")
    chosen = {"field": ["host.name"], "value.host.name": "web1", "expires": expires}
    missing = analyst.post("/alerts/alert-so-a-1/suppress", chosen)
    assert missing.status_code == 400
    assert "needs a reason" in missing.text
    done = analyst.post(
        "/alerts/alert-so-a-1/suppress",
        {"field": ["host.name"], "value.host.name": "web1", "reason": "test box", "expires": expires,
         "close_matching": "on"},
    )  # fmt: skip
    assert done.status_code == 303
    assert "closed=1" in done.headers["location"]
    assert status_of(alerts, "alert-so-a-1") == "closed"
    assert status_of(alerts, "alert-so-a-0") == "new"
    with session_scope(alerts.db) as s:
        sup = s.scalar(select(Suppression))
        assert sup is not None
        assert (sup.owner, sup.rule_id, sup.match) == ("analyst", "r-ssh-brute", {"host.name": "web1"})


def test_suppress_similar_by_api_with_sigma_and_its_limits(alerts: Web) -> None:
    analyst = alerts.login("analyst")
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    ok = analyst.post_json(
        "/api/v1/alerts/alert-so-a-0/suppress",
        {
            "sigma": "selection:\n  user.name: root\n  host.name|startswith: web",
            "reason": "lab",
            "expires_at": soon,
        },
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["match"] == {"sigma": "selection:\n  user.name: root\n  host.name|startswith: web"}
    too_long = (datetime.now(UTC) + timedelta(days=91)).isoformat()
    far = analyst.post_json(
        "/api/v1/alerts/alert-so-a-0/suppress",
        {"fields": {"host.name": "web0"}, "reason": "r", "expires_at": too_long},
    )
    assert far.status_code == 400
    bad = analyst.post_json(
        "/api/v1/alerts/alert-so-a-0/suppress", {"sigma": "selection: [", "reason": "r", "expires_at": soon}
    )
    assert bad.status_code == 400
    assert "YAML" in bad.json()["error"]
    oncall = alerts.login("oncall")
    assert (
        oncall.post_json(
            "/api/v1/alerts/alert-so-a-0/suppress",
            {"fields": {"host.name": "web0"}, "reason": "r", "expires_at": soon},
        ).status_code
        == 403
    )


# ---------------------------------------------------------------- notifications


def test_closing_a_whole_group_in_the_ui_resolves_it_on_the_next_tick(alerts: Web) -> None:
    svc = NotifyService(OncallConfig(), secret_key="k" * 40, base_url="http://soc.test")
    now = datetime.now(UTC)
    with session_scope(alerts.db) as s:
        grouping.on_new_alerts(s, ["alert-so-a-0", "alert-so-a-1", "alert-so-a-2"], now)
        svc.tick(s, now + timedelta(minutes=1))
    analyst = alerts.login("analyst")
    done = analyst.post(
        "/alerts/bulk",
        {"action": "close", "resolution": "true_positive", "reason": "host isolated",
         "alert_ids": ["alert-so-a-0", "alert-so-a-1", "alert-so-a-2"]},
    )  # fmt: skip
    assert done.status_code == 303
    with session_scope(alerts.db) as s:
        svc.tick(s, now + timedelta(minutes=2))
    with session_scope(alerts.db) as s:
        assert s.scalar(select(AlertGroup.state)) == "resolved"
        assert s.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all() == [
            "firing",
            "resolved",
        ]
