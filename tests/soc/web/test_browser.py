"""The web app in a real browser: Playwright driving Debian's Chromium, headless, against the live
service on loopback with real detection output. Screenshots of the main pages are saved to
test-artifacts/screenshots/ (README shows copies from docs/screenshots/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.soc.web.conftest import PASSWORD, Web
from tests.soc.web.live import ARTIFACTS, CHROMIUM, require_chromium, seed_scenario, serve

PAGES = [
    "/alerts",
    "/dashboard",
    "/events",
    "/incidents",
    "/rules",
    "/collectors",
    "/oncall",
    "/dossiers",
    "/audit",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Web, str]]:
    web = Web(Path(tmp_path_factory.mktemp("browser")))
    assert seed_scenario(web) > 10
    with serve(web) as url:
        yield web, url
    web.store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _sign_in(browser: Browser, url: str, username: str, lang: str = "en") -> Page:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale=lang)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{url}/alerts?lang={lang}")
    page.get_by_label(re.compile("Username|Tên đăng nhập")).fill(username)
    page.get_by_label(re.compile("Password|Mật khẩu")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Đăng nhập")).click()
    page.wait_for_url(re.compile(r".*/alerts.*"))
    # Choose the language as a user does (a cookie for this browser, and the user's saved choice).
    page.get_by_role("button", name="Tiếng Việt" if lang == "vi" else "English").click()
    page.wait_for_load_state()
    page.console_errors = errors  # type: ignore[attr-defined]
    return page


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-top.png"))  # the first screen, for the README


def test_main_pages_render_for_the_analyst_in_both_languages(site: tuple[Web, str], browser: Browser) -> None:
    _, url = site
    for lang in ("en", "vi"):
        page = _sign_in(browser, url, "analyst", lang)
        for path in PAGES:
            if path == "/audit":
                continue  # admins only
            answer = page.goto(f"{url}{path}")
            assert answer is not None
            assert answer.status == 200, path
            expect(page.locator("h1").first).to_be_visible()
            assert page.locator("html").get_attribute("lang") == lang
            _shot(page, f"{path.strip('/')}-{lang}")
        assert page.console_errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_the_language_switch_changes_the_whole_page(site: tuple[Web, str], browser: Browser) -> None:
    _, url = site
    page = _sign_in(browser, url, "analyst", "en")
    expect(page.get_by_role("navigation").get_by_role("link", name="Alerts")).to_be_visible()
    page.get_by_role("button", name="Tiếng Việt").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Cảnh báo")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "vi"
    page.goto(f"{url}/dashboard")
    expect(page.get_by_role("navigation").get_by_role("link", name="Tổng quan")).to_be_visible()
    page.context.close()


def test_an_agency_officer_sees_only_their_agency(site: tuple[Web, str], browser: Browser) -> None:
    _, url = site
    page = _sign_in(browser, url, "officer_a", "en")
    for path in ("/alerts", "/dashboard", "/events", "/incidents", "/collectors"):
        page.goto(f"{url}{path}")
        assert "zzb" not in page.content().lower(), path
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Rules")).to_have_count(0)
    _shot(page, "alerts-officer")
    page.context.close()


def test_an_analyst_triages_a_grouped_alert_end_to_end(site: tuple[Web, str], browser: Browser) -> None:
    _, url = site
    page = _sign_in(browser, url, "analyst", "en")
    # The grouped view: open the brute-force group, then one of its alerts.
    page.goto(f"{url}/alerts?agency=so-a")
    page.get_by_role("link", name="SSH brute force from one source").first.click()
    page.locator("table").last.get_by_role("link", name="SSH brute force from one source").first.click()
    expect(page.locator("h1")).to_contain_text("SSH brute force from one source")
    detail = page.url
    _shot(page, "alert-detail-en")

    # Pivot to the surrounding events of the same host.
    page.get_by_role("link", name="same host").click()
    expect(page.locator("h1")).to_be_visible()
    assert "web01.sotttt.cantho.gov.vn" in page.content()
    _shot(page, "events-pivot-en")
    page.goto(detail)

    # Assign, comment.
    page.get_by_label("Assign to (user name)").fill("analyst")
    page.get_by_role("button", name="Assign").click()
    page.get_by_label("Add a comment").fill(
        "Brute force from 203.0.113.45 — a test by the agency's own scanner."
    )
    page.get_by_role("button", name="Post comment").click()
    expect(page.get_by_text("a test by the agency's own scanner")).to_be_visible()

    # Close as false positive with a suppression of this host for this rule.
    page.get_by_role("link", name="Suppress similar").click()
    page.get_by_role("checkbox", name="host.name", exact=True).check()
    page.get_by_role("textbox", name="Reason").fill("Agency scanner, approved until the end of the audit")
    page.get_by_role("checkbox", name=re.compile("Also close")).check()
    page.get_by_role("button", name="Create suppression").click()
    page.goto(detail)
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    expect(history).to_contain_text("analyst")
    expect(history).to_contain_text("Closed")
    expect(history).to_contain_text("False positive")
    expect(page.get_by_text("a test by the agency's own scanner")).to_be_visible()
    _shot(page, "alert-closed-en")
    assert page.console_errors == []  # type: ignore[attr-defined]
    page.context.close()
