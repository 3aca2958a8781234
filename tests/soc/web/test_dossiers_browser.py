"""A dossier's whole way in a real browser (Playwright + Debian Chromium against the live service):
an officer creates and submits it, the appraiser returns it incomplete, the officer completes it,
it is appraised and approved, and the city overview's "N of M approved" moves."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.soc.web.conftest import PASSWORD, Web
from tests.soc.web.live import ARTIFACTS, CHROMIUM, require_chromium, serve
from tests.soc.web.test_dossiers import make, pdf

LEVEL_DOCS = ["general_description", "design", "level_proposal", "security_plan"]


def sign_in(browser: Browser, url: str, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en").new_page()
    page.goto(f"{url}/dossiers?lang=en")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/dossiers.*"))
    return page


def upload(page: Page, kind: str) -> None:
    page.select_option("#up-kind", kind)
    page.set_input_files(
        "#up-file", {"name": f"{kind}.pdf", "mimeType": "application/pdf", "buffer": pdf(kind)}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("link", name=f"{kind}.pdf")).to_be_visible()


def act(page: Page, url: str, title: str, comment: str = "") -> None:
    page.goto(url)
    if comment:
        page.locator("form.dossier-action", has_text=title).locator("textarea").fill(comment)
    page.get_by_role("button", name=title, exact=True).click()
    expect(page.get_by_role("status")).to_be_visible()


def test_an_officer_submits_and_the_city_approves_a_dossier(web: Web) -> None:
    require_chromium()
    make(web, "so-b", 2, to="approved", name="Cổng thông tin Sở B")
    with serve(web) as base, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        city = sign_in(browser, base, "admin")
        expect(city.get_by_role("heading", name="1 of 1 dossiers approved")).to_be_visible()

        officer = sign_in(browser, base, "officer_a")
        officer.get_by_role("link", name="New dossier").click()
        officer.get_by_label("System name").fill("Cổng dịch vụ công Sở A")
        officer.get_by_label("Proposed level").select_option("2")
        officer.get_by_label("Basic data subjects").fill("50000")
        officer.get_by_role("button", name="Create the draft").click()
        officer.wait_for_url(re.compile(r".*/dossiers/\d+.*"))
        url = officer.url.split("?")[0]
        for kind in LEVEL_DOCS:
            upload(officer, kind)
        officer.get_by_text("Record the regulation").click()
        officer.get_by_label("Decision number").fill("QĐ 15/QĐ-SA")
        officer.get_by_label("Issued on").fill("2026-09-01")
        officer.get_by_role("button", name="Save").click()
        act(officer, url, "Submit for appraisal")
        city.reload()
        expect(city.get_by_role("heading", name="1 of 2 dossiers approved")).to_be_visible()

        appraiser = sign_in(browser, base, "appraiser")
        act(appraiser, url, "Return as incomplete", "Thiếu sơ đồ quy hoạch IP")
        officer.goto(url)
        expect(officer.get_by_text("Thiếu sơ đồ quy hoạch IP")).to_be_visible()
        upload(officer, "other")
        act(officer, url, "Submit for appraisal")
        act(appraiser, url, "Accept as complete and start appraisal")
        act(appraiser, url, "Appraise as suitable")
        act(officer, url, "Submit for approval")
        approver = sign_in(browser, base, "approver")
        act(approver, url, "Approve")
        expect(approver.locator("span.status")).to_have_text("Approved")

        city.reload()
        expect(city.get_by_role("heading", name="2 of 2 dossiers approved")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        city.screenshot(path=str(ARTIFACTS / "dossiers-city.png"), full_page=True)
        approver.screenshot(path=str(ARTIFACTS / "dossiers-approved.png"), full_page=True)
        browser.close()
