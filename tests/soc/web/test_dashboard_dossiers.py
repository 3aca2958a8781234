"""The dossier status on the dashboard: "approved X of Y", per agency as a chart and a table, the
overdue count — scoped as the dossier list is, only for readers of dossiers, in both languages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from soc.db.models import utcnow
from tests.soc.web.conftest import Web
from tests.soc.web.test_dashboard import SVG, parse_svg
from tests.soc.web.test_dossiers import make


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    w = Web(tmp_path_factory.mktemp("web-dashboard-dossiers"))
    make(w, "so-a", to="approved")
    make(w, "so-a", to="approved")
    make(w, "so-a", to="submitted")
    make(w, "so-b", to="approved")
    make(w, "so-b", to="draft")
    yield w
    w.store.close()


def status(web: Web, who: str) -> Any:
    answer = web.login(who).client.get("/api/v1/dashboard")
    assert answer.status_code == 200
    return answer.json()["dossiers"]


def per_agency(found: Any) -> dict[str, tuple[int, int, int]]:
    return {a["agency"]: (a["approved"], a["total"], a["overdue"]) for a in found["per_agency"]}


def test_the_city_sees_approved_x_of_y_per_agency(web: Web) -> None:
    for who in ("admin", "analyst"):
        found = status(web, who)
        assert (found["approved"], found["total"], found["overdue"]) == (3, 5, 0)
        assert per_agency(found) == {"so-a": (2, 3, 0), "so-b": (1, 2, 0)}


def test_an_officer_sees_only_the_own_agency(web: Web) -> None:
    a = status(web, "officer_a")
    assert (a["approved"], a["total"]) == (2, 3)
    assert per_agency(a) == {"so-a": (2, 3, 0)}
    b = status(web, "officer_b")
    assert (b["approved"], b["total"]) == (1, 2)
    assert per_agency(b) == {"so-b": (1, 2, 0)}
    page = web.login("officer_a").get("/dashboard?lang=en").text
    assert "2 of 3 dossiers approved" in page
    assert 'href="/dossiers?agency=so-a"' in page
    assert "so-b" not in page


def test_without_dossiers_read_there_is_no_dossier_status(web: Web) -> None:
    assert status(web, "oncall") is None
    page = web.login("oncall").get("/dashboard?lang=en").text
    assert "dossiers approved" not in page
    assert 'id="c-dossiers' not in page


def test_the_page_draws_the_chart_in_both_languages(web: Web) -> None:
    en = web.login("admin").get("/dashboard?lang=en").text
    vi = web.login("admin").get("/dashboard?lang=vi").text
    assert "3 of 5 dossiers approved" in en
    assert "3/5 hồ sơ đã được phê duyệt" in vi
    assert "Hồ sơ đã được phê duyệt theo cơ quan" in vi
    start = en.index('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 360 260"')
    root = parse_svg(en[start : en.index("</svg>", start) + len("</svg>")])
    assert root.get("aria-labelledby") == "c-dossiers-t c-dossiers-d"
    bars = sorted(
        str(e.findtext(f"{SVG}title")) for e in root.iter(f"{SVG}rect") if e.find(f"{SVG}title") is not None
    )
    assert bars == [
        "Sở A — Approved: 2",
        "Sở A — Not yet approved: 1",
        "Sở B — Approved: 1",
        "Sở B — Not yet approved: 1",
    ]
    desc = str(root.findtext(f"{SVG}desc"))
    assert "3 of 5 dossiers approved, 0 overdue" in desc


def test_an_overdue_dossier_is_counted_for_its_agency_only(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from soc.web.areas import dashboard as area

    monkeypatch.setattr(area, "utcnow", lambda: utcnow() + timedelta(days=30))
    city = status(web, "admin")
    assert city["overdue"] == 1
    assert per_agency(city) == {"so-a": (2, 3, 1), "so-b": (1, 2, 0)}
    assert status(web, "officer_b")["overdue"] == 0
    page = web.login("officer_a").get("/dashboard?lang=vi").text
    assert '<a href="/dossiers/overdue">1 hồ sơ quá hạn</a>' in page
