"""Event search pages and API: agency isolation through every door (search, filters, counts,
timeline, CSV, pivot), the pivot window and highlighting, CSV formula neutralisation."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest

from soc.web.areas import events as events_area
from tests.soc.web.conftest import T0, Web


def event(n: int, host: str = "web1", **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": (T0 + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": f"Failed password for root #{n}",
        "event": {"dataset": "system.auth", "outcome": "failure", "original": f"sshd: line {n}"},
        "host": {"name": host},
        "user": {"name": "root"},
        "source": {"ip": "203.0.113.9"},
    }
    doc.update(fields)
    return doc


@pytest.fixture
def events(web: Web) -> dict[str, list[str]]:
    """so-a: 30 events one minute apart from T0 on web1; so-b: 5 on the same host name."""
    a = web.store.write([event(n) for n in range(30)], agency="so-a")
    b = web.store.write([event(n, message=f"bee secret #{n}") for n in range(5)], agency="so-b")
    return {"so-a": [i for i in a.ids if i], "so-b": [i for i in b.ids if i]}


def api(web: Web, who: str, url: str) -> Any:
    return web.client().get(url, headers=web.api(who))


def test_it_searches_with_field_filters_and_text(web: Web, events: dict[str, list[str]]) -> None:
    found = api(web, "analyst", "/api/v1/events?f=host.name%3Dweb1&q=ROOT%20%231&agency=so-a").json()
    assert found["total"] == 11
    assert {e["agency"] for e in found["events"]} == {"so-a"}
    page = web.login("analyst").get("/events?host=web1&q=root+%2312")
    assert page.status_code == 200
    assert "Failed password for root #12" in page.text
    assert "sshd: line 12" in page.text  # the detail expander shows every field


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/events",
        "/api/v1/events?agency=so-b",
        "/api/v1/events?f=organization.id%3Dso-b",
        "/api/v1/events?q=secret",
        "/api/v1/events?host=web1&size=1000",
    ],
)
def test_an_officer_never_gets_another_agencys_events(
    web: Web, events: dict[str, list[str]], url: str
) -> None:
    found = api(web, "officer_a", url)
    assert found.status_code == 200
    body = found.json()
    assert "bee secret" not in found.text
    assert {e["agency"] for e in body["events"]} <= {"so-a"}
    assert body["total"] == len([e for e in body["events"]]) or body["next"]


def test_an_officer_counts_timeline_and_export_only_their_agency(
    web: Web, events: dict[str, list[str]]
) -> None:
    assert api(web, "officer_a", "/api/v1/events").json()["total"] == 30
    assert api(web, "officer_a", "/api/v1/events?agency=so-b").json()["total"] == 0
    assert api(web, "officer_b", "/api/v1/events").json()["total"] == 5
    assert api(web, "officer_a", "/api/v1/events/timeline").json()["total"] == 30
    assert api(web, "officer_a", "/api/v1/events/timeline?f=organization.id%3Dso-b").json()["total"] == 0
    for url in ("/api/v1/events/export.csv", "/api/v1/events/export.csv?agency=so-b"):
        exported = api(web, "officer_a", url)
        assert exported.status_code == 200
        assert "so-b" not in exported.text
        assert "bee secret" not in exported.text
    session = web.login("officer_a")
    for url in (
        "/events",
        "/events?agency=so-b",
        "/events?q=secret",
        "/events/export.csv?f=organization.id%3Dso-b",
    ):
        answer = session.get(url)
        assert answer.status_code == 200
        assert "bee secret" not in answer.text


def test_the_analyst_sees_every_agency(web: Web, events: dict[str, list[str]]) -> None:
    assert api(web, "analyst", "/api/v1/events").json()["total"] == 35
    assert api(web, "analyst", "/api/v1/events?agency=so-b").json()["total"] == 5


def test_pages_follow_the_next_cursor_without_repeats(
    web: Web, events: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    url = "/api/v1/events?size=7"
    while True:
        body = api(web, "officer_a", url).json()
        seen += [e["id"] for e in body["events"]]
        if not body["next"]:
            break
        url = f"/api/v1/events?size=7&after={body['next']}"
    assert sorted(seen) == sorted(events["so-a"])
    monkeypatch.setattr(events_area, "PAGE_SIZE", 20)
    session = web.login("officer_a")
    first = session.get("/events")
    assert 'rel="next"' in first.text
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link is not None
    second = session.get(link[1].replace("&amp;", "&"))
    assert second.status_code == 200
    assert second.text.count('class="ev-nowrap"') == 10


def test_the_time_range_is_local_time(web: Web, events: dict[str, list[str]]) -> None:
    # 08:10–08:15 in Asia/Ho_Chi_Minh is 01:10–01:15 UTC: minutes 10 to 14.
    body = api(web, "officer_a", "/api/v1/events?from=2026-11-27T08:10&to=2026-11-27T08:15").json()
    assert body["total"] == 5
    page = web.login("officer_a").get("/events?from=2026-11-27T08:10&to=2026-11-27T08:15")
    assert "27/11/2026 08:10:00 +07:00" in page.text


@pytest.mark.parametrize(
    "query",
    ["from=yesterday", "f=nonsense", "f=source.ip%3Dnot-an-ip", "after=forged", "from=9999-12-31T23:59"],
)
def test_bad_filters_are_a_400_with_a_reason(web: Web, events: dict[str, list[str]], query: str) -> None:
    answer = api(web, "analyst", f"/api/v1/events?{query}")
    assert answer.status_code == 400
    assert answer.json()["error"]
    page = web.login("analyst").get(f"/events?{query}")
    assert page.status_code == 400
    assert 'role="alert"' in page.text


def test_the_export_neutralises_spreadsheet_formulas(web: Web) -> None:
    web.store.write(
        [event(1, message='=HYPERLINK("http://evil.example","x")', user={"name": "@admin"})], agency="so-a"
    )
    exported = web.login("analyst").get("/events/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][0] == "@timestamp"
    [row] = rows[1:]
    assert row[8].startswith("'=HYPERLINK")
    assert row[5] == "'@admin"


def test_the_pivot_shows_the_alerts_host_around_it_in_its_agency_only(
    web: Web, events: dict[str, list[str]]
) -> None:
    matched = events["so-a"][10]
    alert = web.add_alert("so-a", n=10, host="web1", events=[{"index": "x", "id": matched, "original": "x"}])
    body = api(web, "analyst", f"/api/v1/alerts/{alert}/pivot?by=host&minutes=5").json()
    # The alert is at T0+10 min: events from minute 5 until before 15, of so-a only (so-b has web1 too).
    assert body["total"] == 10
    assert {e["agency"] for e in body["events"]} == {"so-a"}
    assert [e["id"] for e in body["events"] if e["matched"]] == [matched]
    assert (body["field"], body["value"]) == ("host.name", "web1")
    page = web.login("analyst").get(f"/events/pivot?alert={alert}&by=host&minutes=5")
    assert page.status_code == 200
    assert page.text.count('class="ev-hit"') == 1
    assert "bee secret" not in page.text


def test_the_pivot_on_another_agencys_alert_is_not_found(web: Web, events: dict[str, list[str]]) -> None:
    alert = web.add_alert("so-b", n=1)
    assert api(web, "officer_a", f"/api/v1/alerts/{alert}/pivot").status_code == 404
    session = web.login("officer_a")
    assert session.get(f"/events/pivot?alert={alert}&by=host").status_code == 404
    assert session.get(f"/events/pivot?alert={alert}&by=nonsense").status_code == 404
    assert api(web, "officer_b", f"/api/v1/alerts/{alert}/pivot").status_code == 200


def test_the_pivot_refuses_a_missing_value(web: Web, events: dict[str, list[str]]) -> None:
    alert = web.add_alert("so-a", n=2, user_name=None)
    assert api(web, "analyst", f"/api/v1/alerts/{alert}/pivot?by=user").status_code == 400


@pytest.mark.parametrize("who", ["appraiser", "approver", "outsider"])
def test_who_may_not_read_events_is_refused(web: Web, who: str) -> None:
    assert api(web, who, "/api/v1/events").status_code == 403
    assert api(web, who, "/api/v1/events/export.csv").status_code == 403


def test_anonymous_callers_are_sent_to_sign_in(web: Web) -> None:
    assert web.client().get("/api/v1/events").status_code == 401
    assert web.client().get("/events").headers["location"].startswith("/login")
