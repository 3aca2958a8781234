"""Incident pages and API: escalation by form and JSON (create, attach, unlink) with alert history,
mixing agencies refused, agency isolation, timers shown, reports recorded, permissions and CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from soc.db.detection import Alert
from soc.db.session import session_scope
from soc.db.triage import AlertTransition, Incident
from tests.soc.web.conftest import Web


def api(web: Web, who: str, method: str, url: str, body: Any = None) -> Any:
    return web.client().request(method, url, json=body, headers=web.api(who))


def escalate(web: Web, *alerts: str, who: str = "analyst", **fields: Any) -> int:
    body = {"alert_ids": list(alerts), "title": "SSH brute force", "severity": "high"} | fields
    answer = api(web, who, "POST", "/api/v1/incidents/escalate", body)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["id"])


def test_it_escalates_alerts_from_the_form_and_shows_the_incident(web: Web) -> None:
    a1, a2 = web.add_alert("so-a", n=1), web.add_alert("so-a", n=2)
    session = web.login("analyst")
    form = session.get(f"/incidents/new?alert_ids={a1}&alert_ids={a2}")
    assert form.status_code == 200
    assert 'name="alert_ids"' in form.text
    done = session.post(
        "/incidents/escalate", {"alert_ids": [a1, a2], "title": "Brute force on web", "severity": "high"}
    )
    assert done.status_code == 303
    page = session.get(done.headers["location"])
    assert page.status_code == 200
    assert "Brute force on web" in page.text
    assert page.text.count('action="/incidents/1/unlink"') == 2
    assert "/events/pivot?alert=" in page.text
    assert 'action="/dossiers/redetermination"' in page.text
    assert 'name="incident_id" value="1"' in page.text
    with session_scope(web.db) as s:
        assert {a.incident_id for a in s.scalars(select(Alert))} == {1}
        moves = s.scalars(select(AlertTransition).where(AlertTransition.field == "incident")).all()
        assert {(m.alert_id, m.to_value, m.actor) for m in moves} == {
            (a1, "1", "analyst"),
            (a2, "1", "analyst"),
        }


def test_it_attaches_and_unlinks_through_the_api_with_history(web: Web) -> None:
    a1, a2 = web.add_alert("so-a", n=1), web.add_alert("so-a", n=2)
    iid = escalate(web, a1)
    attached = api(
        web, "analyst", "POST", "/api/v1/incidents/escalate", {"alert_ids": [a2], "incident_id": iid}
    )
    assert [a["id"] for a in attached.json()["alerts"]] == [a1, a2]
    left = api(web, "analyst", "DELETE", f"/api/v1/incidents/{iid}/alerts/{a1}?reason=false+lead")
    assert [a["id"] for a in left.json()["alerts"]] == [a2]
    with session_scope(web.db) as s:
        moves = s.scalars(
            select(AlertTransition).where(AlertTransition.alert_id == a1).order_by(AlertTransition.id)
        ).all()
        assert [(m.from_value, m.to_value, m.reason) for m in moves] == [
            (None, str(iid), "escalated"),
            (str(iid), None, "false lead"),
        ]
    history = web.login("analyst").get(f"/incidents/{iid}").text
    assert "unlinked an alert" in history
    assert "false lead" in history


def test_mixing_agencies_is_refused_with_a_clear_message(web: Web) -> None:
    a, b = web.add_alert("so-a", n=1), web.add_alert("so-b", n=1)
    answer = api(
        web,
        "analyst",
        "POST",
        "/api/v1/incidents/escalate",
        {"alert_ids": [a, b], "title": "x", "severity": "low"},
    )
    assert answer.status_code == 400
    assert "one agency" in answer.json()["error"]
    session = web.login("analyst")
    page = session.post("/incidents/escalate", {"alert_ids": [a, b], "title": "x", "severity": "low"})
    assert page.status_code == 400
    assert "An incident belongs to one agency" in page.text
    assert session.get(f"/incidents/new?alert_ids={a}&alert_ids={b}").status_code == 400
    iid = escalate(web, a)
    other = api(web, "analyst", "POST", "/api/v1/incidents/escalate", {"alert_ids": [b], "incident_id": iid})
    assert other.status_code == 400
    with session_scope(web.db) as s:
        assert s.get_one(Alert, b).incident_id is None


def test_an_officer_sees_only_their_agencys_incidents(web: Web) -> None:
    ia = escalate(web, web.add_alert("so-a", n=1), title="Incident of A")
    ib = escalate(web, web.add_alert("so-b", n=1), title="Incident of B")
    listed = api(web, "officer_a", "GET", "/api/v1/incidents").json()
    assert [i["id"] for i in listed["incidents"]] == [ia]
    assert listed["counts"] == {"open": 1}
    assert api(web, "officer_a", "GET", "/api/v1/incidents?agency=so-b").json()["total"] == 0
    assert api(web, "officer_a", "GET", f"/api/v1/incidents/{ib}").status_code == 404
    assert api(web, "officer_b", "GET", f"/api/v1/incidents/{ib}").status_code == 200
    session = web.login("officer_a")
    page = session.get("/incidents?agency=so-b")
    assert "Incident of B" not in page.text
    assert "Incident of A" not in page.text
    assert "Incident of A" in session.get("/incidents").text
    assert session.get(f"/incidents/{ib}").status_code == 404
    assert session.get(f"/incidents/{ia}").status_code == 200
    assert api(web, "analyst", "GET", "/api/v1/incidents").json()["total"] == 2


def test_an_officer_may_not_change_incidents_nor_escalate(web: Web) -> None:
    a = web.add_alert("so-a", n=1)
    iid = escalate(web, a)
    for url, body in (
        ("/api/v1/incidents/escalate", {"alert_ids": [a], "title": "x", "severity": "low"}),
        (f"/api/v1/incidents/{iid}/notes", {"body": "hello"}),
        (f"/api/v1/incidents/{iid}/reports", {"kind": "initial_notice"}),
    ):
        assert api(web, "officer_a", "POST", url, body).status_code == 403
    assert api(web, "officer_a", "PATCH", f"/api/v1/incidents/{iid}", {"status": "closed"}).status_code == 403
    page = web.login("officer_a").get(f"/incidents/{iid}")
    assert page.status_code == 200
    assert 'action="/incidents/1/status"' not in page.text


def test_an_analyst_cannot_escalate_an_alert_that_does_not_exist(web: Web) -> None:
    body = {"alert_ids": ["nope"], "title": "x", "severity": "low"}
    assert api(web, "analyst", "POST", "/api/v1/incidents/escalate", body).status_code == 404


def test_forms_need_the_csrf_token(web: Web) -> None:
    iid = escalate(web, web.add_alert("so-a", n=1))
    session = web.login("analyst")
    forged = session.client.post(f"/incidents/{iid}/notes", data={"body": "x"})
    assert forged.status_code == 403


def test_severity_owner_status_notes_and_reports_from_the_page(web: Web) -> None:
    iid = escalate(web, web.add_alert("so-a", n=1))
    session = web.login("analyst")
    for url, data in (
        (f"/incidents/{iid}/severity", {"severity": "critical"}),
        (f"/incidents/{iid}/owner", {"owner": "analyst"}),
        (f"/incidents/{iid}/notes", {"body": "Blocked the source at the firewall"}),
        (f"/incidents/{iid}/reports", {"kind": "initial_notice"}),
        (f"/incidents/{iid}/status", {"status": "contained"}),
    ):
        assert session.post(url, data).status_code == 303, url
    body = api(web, "analyst", "GET", f"/api/v1/incidents/{iid}").json()
    assert (body["severity"], body["serious"], body["owner"], body["status"]) == (
        "critical",
        True,
        "analyst",
        "contained",
    )
    timers = {x["kind"]: x for x in body["timers"]}
    assert timers["initial_notice"]["state"] == "done"
    assert timers["full_report"]["state"] == "pending"
    assert 70 * 3600 < timers["full_report"]["seconds_left"] <= 72 * 3600
    assert body["notes"][-1]["body"] == "Blocked the source at the firewall"
    page = session.get(f"/incidents/{iid}").text
    assert "Record: full report sent" in page
    assert "Record: initial notice sent" not in page
    again = session.post(f"/incidents/{iid}/reports", {"kind": "initial_notice"})
    assert again.status_code == 400
    assert "already recorded" in again.text


def test_a_stale_change_is_a_conflict(web: Web) -> None:
    iid = escalate(web, web.add_alert("so-a", n=1))
    version = api(web, "analyst", "GET", f"/api/v1/incidents/{iid}").json()["version"]
    assert (
        api(
            web, "analyst", "PATCH", f"/api/v1/incidents/{iid}", {"status": "contained", "version": version}
        ).status_code
        == 200
    )
    assert (
        api(
            web, "analyst", "PATCH", f"/api/v1/incidents/{iid}", {"status": "closed", "version": version}
        ).status_code
        == 409
    )


def test_overdue_deadlines_show_in_red(web: Web) -> None:
    iid = escalate(web, web.add_alert("so-a", n=1))
    with session_scope(web.db) as s:
        incident = s.get_one(Incident, iid)
        incident.initial_notice_due = incident.created_at.replace(year=2020)
    page = web.login("analyst").get(f"/incidents/{iid}?lang=vi").text
    assert 'class="inc-overdue"' in page
    assert "quá hạn" in page
    listed = web.login("analyst").get("/incidents").text
    assert "inc-overdue" in listed


@pytest.mark.parametrize("who", ["appraiser", "approver", "outsider"])
def test_who_may_not_read_incidents_is_refused(web: Web, who: str) -> None:
    assert api(web, who, "GET", "/api/v1/incidents").status_code == 403
