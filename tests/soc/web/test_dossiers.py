"""Dossier pages and API: agency isolation, routing, transitions over HTTP with CSRF and versions,
uploads and downloads, the XLSX report and re-determination from an incident.

The `web` fixture's appraiser and approver hold city-wide grants, so with no `dossier_bodies` every
routed body is theirs; the routing tests map the specialised unit to agency so-b instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from soc.db import accounts
from soc.db.dossiers import Dossier
from soc.db.models import AuditEntry, utcnow
from soc.db.session import session_scope
from soc.db.triage import Incident, IncidentNote
from soc.dossiers.service import DossierService
from tests.soc.web.conftest import PASSWORD, Web
from tests.soc.web.conftest import Session as Browser

LEVEL_DOCS = ["general_description", "design", "level_proposal", "security_plan"]
_count = iter(range(10_000))


def pdf(label: str = "") -> bytes:
    return f"%PDF-1.7\n% {label} {next(_count)}\n%%EOF\n".encode()


def service(web: Web) -> DossierService:
    found: DossierService = web.app.state.dossiers
    return found


def make(web: Web, agency: str = "so-a", level: int = 3, *, to: str = "draft", name: str = "") -> int:
    """A dossier of `agency` walked through the real service up to state `to`."""
    svc = service(web)
    officer = {"so-a": "officer_a", "so-b": "officer_b"}[agency]
    with session_scope(web.db) as s:
        who = {n: svc.actor(s, n) for n in (officer, "appraiser", "approver")}
        agency_id = accounts.require_agency(s, agency).id
        system = svc.add_system(s, who[officer], agency_id=agency_id, name=name or f"Hệ thống {next(_count)}",
                                system_type="public_service", proposed_level=level)  # fmt: skip
        d = svc.create(s, who[officer], title=system.name, system_ids=[system.id])

        def up(actor: str, kind: str) -> None:
            svc.upload(s, who[actor], d.id, kind=kind, filename=f"{kind}.pdf", stream=io.BytesIO(pdf(kind)),
                       expected_version=d.version)  # fmt: skip

        def step(actor: str, name: str, comment: str = "ok") -> None:
            svc.act(s, who[actor], d.id, name, expected_version=d.version, comment=comment)

        if to != "draft":
            for kind in LEVEL_DOCS:
                up(officer, kind)
            step(officer, "submit")
        if to == "approved":
            step("appraiser", "accept_complete")
            up("appraiser", "appraisal_opinion")
            step("appraiser", "appraise_suitable")
            step(officer, "request_approval")
            svc.record_security_regulation(
                s, who[officer], system.id, reference="QĐ 1", issued_on=utcnow().date()
            )
            step("approver", "approve")
        return d.id


def version_of(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found, page
    return found.group(1)


def upload(browser: Browser, dossier_id: int, kind: str, name: str, body: bytes, version: str) -> Any:
    return browser.client.post(
        f"/dossiers/{dossier_id}/documents",
        data={"csrf_token": browser.csrf, "kind": kind, "version": version},
        files={"file": (name, body, "application/octet-stream")},
    )


def incident(web: Web, agency: str = "so-a") -> int:
    with session_scope(web.db) as s:
        due = utcnow() + timedelta(hours=24)
        row = Incident(title="Ransomware trên máy chủ cổng", agency=agency, severity="critical",
                       created_by="analyst", initial_notice_due=due, serious=True)  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


# Agency isolation -----------------------------------------------------------------------------------


def test_it_lists_only_the_officers_own_agency(web: Web) -> None:
    mine = make(web, "so-a", to="submitted", name="Cổng A")
    theirs = make(web, "so-b", to="submitted", name="Cổng B")
    a = web.login("officer_a")

    listed = a.get("/dossiers").text
    filtered = a.get("/dossiers?agency=so-b").text
    api = a.client.get("/api/v1/dossiers", headers=web.api("officer_a")).json()
    status = a.client.get("/api/v1/dossiers/status", headers=web.api("officer_a")).json()

    assert f'href="/dossiers/{mine}"' in listed
    assert f'href="/dossiers/{theirs}"' not in listed
    assert "Cổng B" not in listed
    assert "Sở B" not in listed
    assert f'href="/dossiers/{theirs}"' not in filtered
    assert [d["id"] for d in api] == [mine]
    assert (status["approved"], status["total"]) == (0, 1)


def test_it_answers_404_for_another_agencys_dossier(web: Web) -> None:
    d = make(web, "so-a", to="submitted")
    with session_scope(web.db) as s:
        doc = s.get_one(Dossier, d).documents[0].id
    b = web.login("officer_b")
    version = web.login("officer_a").client.get(f"/api/v1/dossiers/{d}").json()["version"]
    act = {"transition": "withdraw", "version": version, "comment": "x"}

    assert b.get(f"/dossiers/{d}").status_code == 404
    assert b.get(f"/dossiers/{d}/documents/{doc}").status_code == 404
    assert b.get(f"/api/v1/dossiers/{d}/documents/{doc}").status_code == 404
    assert b.get(f"/api/v1/dossiers/{d}").status_code == 404
    assert b.post(f"/dossiers/{d}/transitions", act).status_code == 404
    assert b.post_json(f"/api/v1/dossiers/{d}/transitions", act).status_code == 404
    assert upload(b, d, "other", "x.pdf", pdf(), str(version)).status_code == 404
    assert "Sở A" not in b.get("/dossiers/report.csv").content.decode("utf-8")
    assert b.client.get("/api/v1/dossiers/status").json()["total"] == 0


def test_it_keeps_outsiders_out_entirely(web: Web) -> None:
    make(web, "so-a", to="submitted")
    o = web.login("outsider")

    assert o.get("/dossiers").status_code == 403
    assert o.client.get("/api/v1/dossiers", headers=web.api("outsider")).status_code == 403


def test_it_shows_an_appraiser_only_what_is_routed_to_them(web: Web) -> None:
    with session_scope(web.db) as s:
        accounts.add_user(s, username="unit_appraiser", password=PASSWORD, email="u@example.vn",
                          full_name="U", roles=[("appraiser", "so-b")], actor="test")  # fmt: skip
    web.app.state.dossiers = dataclasses.replace(service(web), bodies="specialised_unit=so-b")
    l3 = make(web, "so-a", 3, to="submitted")  # appraised by the specialised unit (so-b)
    draft = make(web, "so-a", 3)  # not sent anywhere yet

    city = web.login("appraiser")
    unit = web.login("unit_appraiser")

    assert city.get(f"/dossiers/{l3}").status_code == 404
    assert unit.get(f"/dossiers/{l3}").status_code == 200
    assert unit.get(f"/dossiers/{draft}").status_code == 404
    assert [d["id"] for d in unit.client.get("/api/v1/dossiers").json()] == [l3]
    assert unit.client.get("/api/v1/dossiers").status_code == 200
    assert city.client.get("/api/v1/dossiers").json() == []
    assert "return_incomplete" in unit.get(f"/dossiers/{l3}").text


# Acting over HTTP ----------------------------------------------------------------------------------


def test_it_walks_a_dossier_from_creation_to_approval_over_http(web: Web) -> None:
    a, appraiser, approver = web.login("officer_a"), web.login("appraiser"), web.login("approver")
    created = a.post("/dossiers/new", {"name": "Cổng dịch vụ công", "system_type": "public_service",
                                        "proposed_level": "3", "basic_subjects": "150000"})  # fmt: skip
    assert created.status_code == 303, created.text
    d = int(created.headers["location"].split("?")[0].rsplit("/", 1)[1])
    url = f"/dossiers/{d}"
    for kind in LEVEL_DOCS:
        assert upload(a, d, kind, f"{kind}.pdf", pdf(kind), version_of(a.get(url).text)).status_code == 303
    system = re.search(r"/systems/(\d+)/regulation", a.get(url).text)
    assert system
    assert a.post(f"{url}/systems/{system.group(1)}/regulation",
                  {"reference": "QĐ 7/QĐ-SA", "issued_on": "2026-09-01"}).status_code == 303  # fmt: skip

    def act(who: Browser, name: str, comment: str = "") -> int:
        page = who.get(url).text
        answer = who.post(
            f"{url}/transitions", {"transition": name, "version": version_of(page), "comment": comment}
        )
        assert answer.status_code == 303, answer.text
        return int(answer.status_code)

    assert a.get("/api/v1/dossiers/status").json()["headline"] == "0 of 1 dossiers approved"
    act(a, "submit")
    act(appraiser, "return_incomplete", "Thiếu sơ đồ IP")
    act(a, "submit")
    act(appraiser, "accept_complete")
    assert (
        upload(
            appraiser, d, "appraisal_opinion", "tham-dinh.pdf", pdf(), version_of(appraiser.get(url).text)
        ).status_code
        == 303
    )
    act(appraiser, "appraise_suitable")
    act(a, "request_approval")
    act(approver, "approve")

    page = a.get(url).text
    detail = a.client.get(f"/api/v1/dossiers/{d}").json()
    assert detail["state"] == "approved"
    assert [h["name"] for h in detail["history"]] == [
        "submit", "return_incomplete", "submit", "accept_complete", "appraise_suitable",
        "request_approval", "approve",
    ]  # fmt: skip
    assert detail["history"][1]["comment"] == "Thiếu sơ đồ IP"
    assert detail["history"][1]["role"] == "appraiser"
    assert len(detail["history"][-1]["documents"]) == 5
    assert all(len(x["sha256"]) == 64 for x in detail["history"][-1]["documents"])
    assert "Approved" in page
    assert "Thiếu sơ đồ IP" in page
    assert a.get("/api/v1/dossiers/status").json()["headline"] == "1 of 1 dossiers approved"
    assert "1 of 1 dossiers approved" in a.get("/dossiers").text


def test_it_refuses_a_transition_without_the_csrf_token(web: Web) -> None:
    d = make(web, "so-a", to="submitted")
    a = web.login("officer_a")
    version = version_of(a.get(f"/dossiers/{d}").text)

    answer = a.client.post(f"/dossiers/{d}/transitions", data={"transition": "withdraw", "version": version,
                                                                "comment": "x"})  # fmt: skip

    assert answer.status_code == 403
    assert a.client.get(f"/api/v1/dossiers/{d}").json()["state"] == "submitted"


def test_it_refuses_a_stale_form_with_409_and_shows_the_current_dossier(web: Web) -> None:
    d = make(web, "so-a", to="submitted")
    one, two = web.login("appraiser"), web.login("approver")
    seen = version_of(one.get(f"/dossiers/{d}").text)
    assert (
        one.post(f"/dossiers/{d}/transitions", {"transition": "accept_complete", "version": seen}).status_code
        == 303
    )

    late = one.post(f"/dossiers/{d}/transitions", {"transition": "return_incomplete", "version": seen,
                                                   "comment": "thiếu"})  # fmt: skip
    body = {"transition": "return_incomplete", "version": int(seen), "comment": "x"}
    api = two.client.post(f"/api/v1/dossiers/{d}/transitions", headers=web.api("approver"), json=body)

    assert late.status_code == 409
    assert "changed" in late.text
    assert "reload" in late.text
    assert "Under appraisal" in late.text
    assert api.status_code == 409
    assert "changed since you opened it" in api.json()["error"]


def test_it_refuses_a_forbidden_file_type_with_a_reason(web: Web) -> None:
    d = make(web, "so-a")
    a = web.login("officer_a")
    version = version_of(a.get(f"/dossiers/{d}").text)

    html = upload(a, d, "design", "thiet-ke.html", b"<script>alert(1)</script>", version)
    fake = upload(a, d, "design", "thiet-ke.pdf", b"MZ\x90\x00 not a pdf", version)
    api = a.client.post(f"/api/v1/dossiers/{d}/documents", headers=web.api("officer_a"),
                        data={"kind": "design", "version": version},
                        files={"file": ("run.exe", b"MZ", "application/octet-stream")})  # fmt: skip

    assert html.status_code == 400
    assert "file type &#39;.html&#39; is not accepted" in html.text
    assert fake.status_code == 400
    assert "does not match its type" in fake.text
    assert api.status_code == 400
    assert ".exe" in api.json()["error"]
    assert a.client.get(f"/api/v1/dossiers/{d}").json()["documents"] == []


def test_it_serves_documents_as_attachments_never_inline(web: Web) -> None:
    d = make(web, "so-a", to="submitted")
    a = web.login("officer_a")
    detail = a.client.get(f"/api/v1/dossiers/{d}").json()
    doc = detail["documents"][0]

    got = a.get(f"/dossiers/{d}/documents/{doc['id']}")
    api = a.client.get(doc["download"], headers=web.api("officer_a"))

    for answer in (got, api):
        assert answer.status_code == 200
        assert answer.headers["content-disposition"].startswith("attachment;")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-type"] == "application/pdf"
        assert "html" not in answer.headers["content-type"]
        assert answer.content.startswith(b"%PDF-")
    assert hashlib.sha256(got.content).hexdigest() == doc["sha256"]
    assert a.get(f"/dossiers/{d + 1}/documents/{doc['id']}").status_code == 404


# Reports --------------------------------------------------------------------------------------------


def test_it_exports_the_status_report_as_xlsx_in_vietnamese(web: Web) -> None:
    make(web, "so-a", to="approved", name="Cổng A")
    make(web, "so-a", to="submitted", name='=HYPERLINK("http://x")')
    make(web, "so-b", to="submitted", name="Cổng B")
    admin, a = web.login("admin"), web.login("officer_a")

    city = load_workbook(io.BytesIO(admin.get("/dossiers/report.xlsx?lang=vi").content))
    mine = load_workbook(io.BytesIO(a.get("/dossiers/report.xlsx?lang=en").content))

    assert city.sheetnames == ["Tổng hợp", "Theo cơ quan", "Quá hạn", "Mẫu 08"]
    assert city["Tổng hợp"]["A1"].value == "1/3 hồ sơ đã được phê duyệt"
    form = list(city["Mẫu 08"].iter_rows(values_only=True))
    assert form[0][:2] == ("Cơ quan", "Hệ thống thông tin")
    assert {r[1] for r in form[1:]} == {"Cổng A", "Cổng B", '=HYPERLINK("http://x")'}
    formula = next(c for row in city["Mẫu 08"].iter_rows() for c in row if str(c.value).startswith("="))
    assert formula.data_type == "s"
    approved = next(r for r in form if r[1] == "Cổng A")
    assert approved[5] == "Đã phê duyệt"
    assert approved[9].startswith("QĐ 1")
    assert [r[0] for r in city["Theo cơ quan"].iter_rows(min_row=2, values_only=True)] == ["Sở A", "Sở B"]

    assert mine.sheetnames == ["Summary", "By agency", "Overdue", "Form 08"]
    assert mine["Summary"]["A1"].value == "1 of 2 dossiers approved"
    assert {r[1] for r in mine["Form 08"].iter_rows(min_row=2, values_only=True)} == {
        "Cổng A",
        '=HYPERLINK("http://x")',
    }
    assert all(r[0] == "Sở A" for r in mine["By agency"].iter_rows(min_row=2, values_only=True))


def test_it_exports_form_08_as_csv_scoped_to_the_reader(web: Web) -> None:
    make(web, "so-a", to="submitted", name="Cổng A")
    make(web, "so-b", to="submitted", name="Cổng B")

    text = web.login("officer_b").get("/dossiers/report.csv").content.decode("utf-8")

    assert text.startswith("\ufeffCơ quan / Agency")
    assert "Cổng B" in text
    assert "Cổng A" not in text


def test_it_lists_overdue_dossiers_with_working_days(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from soc.web.areas import dossiers as area

    d = make(web, "so-a", to="submitted", name="Cổng chậm")
    monkeypatch.setattr(area, "now", lambda: utcnow() + timedelta(days=30))
    a = web.login("officer_a")

    page = a.get("/dossiers/overdue").text
    api = a.client.get("/api/v1/dossiers/overdue").json()
    filtered = a.client.get("/api/v1/dossiers?overdue=true").json()

    assert "Cổng chậm" in page
    assert "working day(s) overdue" in page
    assert [x["id"] for x in api] == [d] == [x["id"] for x in filtered]
    assert api[0]["deadlines"][0]["deadline"] == "completeness_reply"
    assert api[0]["deadlines"][0]["working_days_left"] < 0
    assert web.login("officer_b").client.get("/api/v1/dossiers/overdue").json() == []


# Re-determination from an incident ----------------------------------------------------------------------


def test_it_opens_redetermination_from_an_incident(web: Web) -> None:
    d = make(web, "so-a", to="approved", name="Cổng A")
    make(web, "so-b", to="approved")
    n = incident(web, "so-a")
    analyst = web.login("analyst")

    answer = analyst.post("/dossiers/redetermination", {"incident_id": n, "comment": "Máy chủ bị mã hóa"})

    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/dossiers/{d}")
    detail = analyst.client.get(f"/api/v1/dossiers/{d}").json()
    assert detail["state"] == "redetermination_required"
    assert detail["incidents"] == [n]
    assert f"Incident #{n}" in detail["history"][-1]["comment"]
    assert detail["history"][-1]["actor"] == "analyst"
    assert detail["history"][-1]["role"] == "soc_analyst"
    assert f'href="/incidents/{n}"' in analyst.get(f"/dossiers/{d}").text
    with session_scope(web.db) as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(d))).all()
        note = s.scalars(select(IncidentNote).where(IncidentNote.incident_id == n)).one()
    assert "dossier.require_redetermination" in actions
    assert "dossier.redetermination_from_incident" in actions
    assert f"/dossiers/{d}" in note.body


def test_it_asks_which_system_when_the_agency_has_several_approved_dossiers(web: Web) -> None:
    first = make(web, "so-a", to="approved", name="Cổng một")
    second = make(web, "so-a", to="approved", name="Cổng hai")
    make(web, "so-a", to="submitted", name="Chưa duyệt")
    n = incident(web, "so-a")
    admin = web.login("admin")

    chooser = admin.post("/dossiers/redetermination", {"incident_id": n})
    chosen = admin.post("/dossiers/redetermination", {"incident_id": n, "dossier_id": second})

    assert chooser.status_code == 200
    assert "Cổng một" in chooser.text
    assert "Cổng hai" in chooser.text
    assert "Chưa duyệt" not in chooser.text
    assert f'href="/incidents/{n}"' in chooser.text
    assert chosen.status_code == 303
    states = {x["id"]: x["state"] for x in admin.client.get("/api/v1/dossiers").json()}
    assert states[first] == "approved"
    assert states[second] == "redetermination_required"


def test_it_lets_only_the_city_soc_open_a_redetermination(web: Web) -> None:
    d = make(web, "so-a", to="approved")
    n = incident(web, "so-a")

    for who in ("officer_a", "appraiser", "approver", "oncall"):
        answer = web.login(who).post("/dossiers/redetermination", {"incident_id": n, "dossier_id": d})
        assert answer.status_code == 403, who

    assert web.login("admin").client.get(f"/api/v1/dossiers/{d}").json()["state"] == "approved"


def test_it_refuses_a_dossier_of_another_agency_than_the_incidents(web: Web) -> None:
    make(web, "so-a", to="approved")
    other = make(web, "so-b", to="approved")
    n = incident(web, "so-a")

    answer = web.login("analyst").client.post(
        "/api/v1/dossiers/redetermination", headers=web.api("analyst"),
        json={"incident_id": n, "dossier_id": other, "comment": "x"},
    )  # fmt: skip
    missing = web.login("analyst").client.post(
        "/api/v1/dossiers/redetermination",
        headers=web.api("analyst"),
        json={"incident_id": 999, "dossier_id": other},
    )

    assert answer.status_code == 400
    assert "not a dossier of the incident's agency" in answer.json()["error"]
    assert missing.status_code == 404


# API -----------------------------------------------------------------------------------------------------


def test_it_creates_and_submits_through_the_api_with_a_token(web: Web) -> None:
    headers = web.api("officer_a")
    client = web.client()

    created = client.post("/api/v1/dossiers", headers=headers, json={
        "system": {"name": "Hệ thống API", "system_type": "internal", "proposed_level": 2},
    })  # fmt: skip
    d = created.json()
    for kind in LEVEL_DOCS:
        version = client.get(f"/api/v1/dossiers/{d['id']}", headers=headers).json()["version"]
        up = client.post(f"/api/v1/dossiers/{d['id']}/documents", headers=headers,
                         data={"kind": kind, "version": version},
                         files={"file": (f"{kind}.pdf", pdf(kind))})  # fmt: skip
        assert up.status_code == 201, up.text
    version = client.get(f"/api/v1/dossiers/{d['id']}", headers=headers).json()["version"]
    submitted = client.post(f"/api/v1/dossiers/{d['id']}/transitions", headers=headers,
                            json={"transition": "submit", "version": version})  # fmt: skip
    theirs = client.post(
        "/api/v1/dossiers", headers=web.api("officer_b"), json={"system_ids": [d["systems"][0]["id"]]}
    )

    assert created.status_code == 201
    assert d["agency"] == "so-a"
    assert d["level"] == 2
    assert [a["transition"] for a in d["actions"]] == ["submit", "withdraw"]
    assert submitted.status_code == 200
    assert submitted.json()["state"] == "submitted"
    assert theirs.status_code == 403
    assert (
        client.post("/api/v1/dossiers", headers=web.api("appraiser"), json={"system_ids": [1]}).status_code
        == 403
    )


def test_it_refuses_a_second_system_of_the_same_name_and_ignores_repeated_ids(web: Web) -> None:
    client, headers = web.client(), web.api("officer_a")
    first = client.post(
        "/api/v1/dossiers", headers=headers, json={"system": {"name": "Cổng", "proposed_level": 1}}
    )
    system = first.json()["systems"][0]["id"]

    again = client.post(
        "/api/v1/dossiers", headers=headers, json={"system": {"name": "Cổng", "proposed_level": 1}}
    )
    twice = client.post("/api/v1/dossiers", headers=headers, json={"system_ids": [system, system]})
    huge = client.get(f"/api/v1/dossiers/{2**40}", headers=headers)

    assert again.status_code == 400
    assert "already has a system named" in again.json()["error"]
    assert twice.status_code == 201
    assert [s["id"] for s in twice.json()["systems"]] == [system]
    assert huge.status_code == 422
