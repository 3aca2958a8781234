"""Dashboard page, API and the alert list's SVG chart: roles, agency isolation, well-formed SVG."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from tests.soc.web.conftest import Web

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    w = Web(tmp_path_factory.mktemp("web-dashboard"))
    now = datetime.now(UTC).replace(microsecond=0)
    for n, level in enumerate(["high", "high", "low"]):
        at = now - timedelta(hours=n + 1)
        w.add_alert("so-a", n=n, id=f"a{n}", level=level, first_at=at, created_at=at)
    at = now - timedelta(hours=2)
    w.add_alert("so-b", n=9, id="b9", level="critical", rule_id="r-zzb", rule_title="Rule zzb", first_at=at,
                created_at=at, status="acknowledged", acknowledged_at=at + timedelta(minutes=30))  # fmt: skip
    yield w
    w.store.close()


def parse_svg(text: str) -> ElementTree.Element:
    root = ElementTree.fromstring(text)  # noqa: S314 - our own server's output
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    labelled = (root.get("aria-labelledby") or "").split()
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert labelled
    assert set(labelled) <= ids
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}desc") is not None
    return root


@pytest.mark.parametrize("name", ["admin", "analyst", "oncall"])
def test_city_wide_roles_see_every_agency(web: Web, name: str) -> None:
    data = web.client().get("/api/v1/dashboard", headers=web.api(name)).json()
    assert data["total"] == 4
    assert {a["agency"]: a["alerts"] for a in data["per_agency"]} == {"so-a": 3, "so-b": 1}
    assert data["times"]["mtta_seconds"] == pytest.approx(1800)
    assert sum(b["counts"]["critical"] for b in data["over_time"]) == 1
    page = web.login(name).get("/dashboard?range=7d")
    assert page.status_code == 200
    assert "Rule zzb" in page.text


@pytest.mark.parametrize("query", ["", "?agency=so-b", "?range=30d&agency=so-b", "?range=7d"])
def test_officer_counts_only_own_agency(web: Web, query: str) -> None:
    answer = web.client().get(f"/api/v1/dashboard{query}", headers=web.api("officer_a"))
    assert answer.status_code == 200
    data = answer.json()
    assert "zzb" not in answer.text
    assert data["total"] == (0 if "so-b" in query else 3)
    assert data["times"]["acknowledged"] == 0
    assert all(b["counts"]["critical"] == 0 for b in data["over_time"])
    page = web.login("officer_a").get(f"/dashboard{query}")
    assert page.status_code == 200
    assert "zzb" not in page.text
    assert "Sở B" not in page.text


def test_the_page_embeds_accessible_svg_charts_with_tables(web: Web) -> None:
    page = web.login("analyst").get("/dashboard").text
    charts = page.count("<svg ")
    assert charts == 5  # four of alerts, and the dossier status (the analyst reads dossiers)
    start = 0
    for _ in range(charts):
        start = page.index("<svg ", start)
        parse_svg(page[start : page.index("</svg>", start) + len("</svg>")])
        start += 1
    assert "Show as a table" in page
    assert "MTTA" in page


def test_the_alert_list_chart_is_small_well_formed_svg(web: Web) -> None:
    browser = web.login("analyst")
    answer = browser.get("/dashboard/charts/alerts-over-time.svg?status=all")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert len(answer.content) < 20_000
    root = parse_svg(answer.text)
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 4  # high (1 h ago), high + critical (2 h ago), low (3 h ago)
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert "4 alerts" in (desc.text or "")


def test_the_alert_list_chart_follows_the_filters_and_the_scope(web: Web) -> None:
    def total(who: str, query: str) -> str:
        answer = web.login(who).get(f"/dashboard/charts/alerts-over-time.svg?{query}")
        assert answer.status_code == 200
        desc = parse_svg(answer.text).find(f"{SVG}desc")
        assert desc is not None
        return (desc.text or "").split(" ")[0]

    assert total("analyst", "status=all&level=high") == "2"
    assert total("analyst", "status=closed") == "0"
    assert total("analyst", "agency=so-b") == "1"
    assert total("officer_a", "agency=so-b") == "0"
    assert total("officer_a", "status=all") == "3"
    assert total("analyst", "status=all&host=web0") == "2"  # any filter of the list, e.g. the host
    day = (datetime.now(UTC) - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    assert total("analyst", f"status=all&from={day}") == "4"


def test_the_chart_refuses_bad_filters(web: Web) -> None:
    browser = web.login("analyst")
    assert browser.get("/dashboard/charts/alerts-over-time.svg?level=severe").status_code == 400
    assert browser.get("/dashboard/charts/alerts-over-time.svg?from=yesterday").status_code == 400


@pytest.mark.parametrize("name", ["outsider", "appraiser", "approver"])
def test_others_are_refused(web: Web, name: str) -> None:
    assert web.client().get("/api/v1/dashboard", headers=web.api(name)).status_code == 403
    if name != "outsider":
        browser = web.login(name)
        assert browser.get("/dashboard").status_code == 403
        assert browser.get("/dashboard/charts/alerts-over-time.svg").status_code == 403


def test_the_page_speaks_vietnamese(web: Web) -> None:
    page = web.login("analyst").get("/dashboard?lang=vi").text
    assert "Cảnh báo theo thời gian và mức độ" in page
    assert "Nghiêm trọng" in page
