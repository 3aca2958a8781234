"""Rule pages and API: who may see and change rules, the page the alert e-mails link to, and
enable / disable / run now through the browser and with a token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from soc import ecs
from soc.db.detection import Alert, RuleState
from soc.db.models import AuditEntry
from soc.db.session import session_scope
from tests.soc.web.conftest import Web

ROOT_LOGIN = "15d80bef-440e-57bd-8feb-50484ebb4247"
USER_CREATED = "2543b881-bf41-5239-b66c-8fa96c7b8562"
USER_DELETED = "19e9b9fd-4d15-5267-bd0e-7705a415d1ba"
READERS = ("admin", "analyst", "oncall")
REFUSED = ("officer_a", "officer_b", "appraiser", "approver", "outsider")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    w = Web(tmp_path_factory.mktemp("web-rules"))
    yield w
    w.store.close()


@pytest.mark.parametrize("name", READERS)
def test_soc_roles_see_the_rule_list_and_detail(web: Web, name: str) -> None:
    browser = web.login(name)
    page = browser.get("/rules")
    assert page.status_code == 200
    assert "SSH login as root accepted" in page.text
    listed = web.client().get("/api/v1/rules", headers=web.api(name))
    assert listed.status_code == 200
    assert any(r["id"] == ROOT_LOGIN for r in listed.json()["rules"])


@pytest.mark.parametrize("name", REFUSED)
def test_others_cannot_see_rules(web: Web, name: str) -> None:
    assert web.client().get("/api/v1/rules", headers=web.api(name)).status_code == 403
    assert web.client().get(f"/api/v1/rules/{ROOT_LOGIN}", headers=web.api(name)).status_code == 403
    if name != "outsider":
        browser = web.login(name)
        assert browser.get("/rules").status_code == 403
        assert browser.get(f"/rules/{ROOT_LOGIN}").status_code == 403
        assert "/rules" not in re.findall(r'href="(/rules)"', browser.get("/dashboard").text)


def test_the_e_mail_link_opens_the_rule_with_source_and_query(web: Web) -> None:
    page = web.login("oncall").get(f"/rules/{ROOT_LOGIN}")
    assert page.status_code == 200
    assert "SSH login as root accepted" in page.text
    assert "PermitRootLogin should be off" in page.text  # the Sigma source
    assert "Converted query (sqlite)" in page.text
    assert "Run now" not in page.text  # on-call may read, not manage
    detail = web.client().get(f"/api/v1/rules/{ROOT_LOGIN}", headers=web.api("oncall")).json()
    assert detail["source"].startswith("title: SSH login as root accepted")
    assert "Accepted" in detail["query"]
    assert detail["backend"] == "sqlite"


def test_an_unknown_rule_is_404(web: Web) -> None:
    assert web.login("analyst").get("/rules/no-such-rule").status_code == 404
    assert web.client().get("/api/v1/rules/no-such-rule", headers=web.api("analyst")).status_code == 404


def test_disable_and_enable_from_the_page_are_audited(web: Web) -> None:
    rid = USER_CREATED
    browser = web.login("analyst")
    refused = browser.client.post(f"/rules/{rid}/disable", data={"reason": "no csrf"})
    assert refused.status_code == 403
    done = browser.post(f"/rules/{rid}/disable", {"reason": "noisy during the migration"})
    assert done.status_code == 303
    assert browser.get(done.headers["location"]).status_code == 200
    with session_scope(web.db) as s:
        state = s.get(RuleState, rid)
        assert state is not None
        assert state.enabled is False
    assert "noisy during the migration" in browser.get(f"/rules/{rid}").text
    assert browser.post(f"/rules/{rid}/disable", {"reason": ""}).status_code == 400
    assert browser.post(f"/rules/{rid}/enable").status_code == 303
    with session_scope(web.db) as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == rid)).all()
    assert actions == ["rule.disable", "rule.enable"]


def test_disable_with_a_token(web: Web) -> None:
    rid = USER_DELETED
    url = f"/api/v1/rules/{rid}/disable"
    assert web.client().post(url, json={"reason": "x"}, headers=web.api("oncall")).status_code == 403
    assert web.client().post(url, json={"reason": "x"}, headers=web.api("officer_a")).status_code == 403
    answer = web.client().post(url, json={"reason": "tuning"}, headers=web.api("admin"))
    assert answer.status_code == 200
    assert answer.json()["state"] == "disabled"
    back = web.client().post(f"/api/v1/rules/{rid}/enable", headers=web.api("admin"))
    assert back.json()["state"] == "enabled"


def test_run_now_raises_an_alert_from_events_in_the_store(web: Web) -> None:
    event = {
        "@timestamp": ecs.format_time(datetime.now(UTC)),
        "event": {"dataset": "system.auth"},
        "process": {"name": "sshd"},
        "host": {"name": "db1"},
        "message": "Accepted publickey for root from 198.51.100.4 port 50000 ssh2",
        "source": {"ip": "198.51.100.4"},
    }
    web.store.write([event], agency="so-b")
    ran = web.client().post(f"/api/v1/rules/{ROOT_LOGIN}/run", headers=web.api("analyst"))
    assert ran.status_code == 200, ran.text
    assert ran.json()["alerts"] == 1
    with session_scope(web.db) as s:
        assert s.scalar(select(Alert.agency).where(Alert.rule_id == ROOT_LOGIN)) == "so-b"
    page = web.login("analyst").post(f"/rules/{ROOT_LOGIN}/run")
    assert page.status_code == 303
    assert "msg=ran" in page.headers["location"]
    assert "alerts=0" in page.headers["location"]
    listed = web.client().get("/api/v1/rules", headers=web.api("analyst")).json()["rules"]
    assert next(r for r in listed if r["id"] == ROOT_LOGIN)["hits_24h"] == 1
