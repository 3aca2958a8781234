"""Sign-in, sessions, CSRF, rate limiting and the security headers, over the real app on SQLite."""

from __future__ import annotations

import re

from soc.db.audit import latest
from soc.db.session import session_scope
from soc.web.limiter import LoginLimiter
from tests.soc.web.conftest import PASSWORD, Web


def _form_token(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def test_a_page_asks_for_sign_in_and_comes_back_after_it(web: Web) -> None:
    client = web.client()
    answer = client.get("/alerts?status=new")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Falerts%3Fstatus%3Dnew"
    token = _form_token(client.get(answer.headers["location"]).text)
    done = client.post(
        "/login",
        data={"username": "analyst", "password": PASSWORD, "csrf_token": token, "next": "/alerts?status=new"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/alerts?status=new"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax")
    assert client.get("/api/v1/me").json()["username"] == "analyst"


def test_the_api_answers_401_not_a_redirect(web: Web) -> None:
    answer = web.client().get("/api/v1/me")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert web.client().get("/api/v1/me", headers=web.api("officer_a")).json()["agencies"] == ["so-a"]
    assert web.client().get("/api/v1/me", headers=web.api("analyst")).json()["agencies"] is None


def test_a_wrong_password_is_refused_and_audited_lockout_after_five(web: Web) -> None:
    client = web.client()
    for _ in range(5):
        token = _form_token(client.get("/login").text)
        answer = client.post(
            "/login", data={"username": "analyst", "password": "wrong" * 4, "csrf_token": token}
        )
        assert answer.status_code == 401
        assert "Wrong username or password" in answer.text or "Sai tên đăng nhập" in answer.text
    token = _form_token(client.get("/login").text)
    locked = client.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 401
    with session_scope(web.db) as s:
        assert any(e.action == "user.lock" for e in latest(s, limit=20))


def test_sign_in_is_rate_limited_per_address(web: Web) -> None:
    web.app.state.login_limiter = LoginLimiter()
    client = web.client()
    codes = []
    for i in range(12):
        token = _form_token(client.get("/login").text)
        codes.append(
            client.post(
                "/login", data={"username": f"nobody{i}", "password": "x", "csrf_token": token}
            ).status_code
        )
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]


def test_the_login_form_needs_its_csrf_token(web: Web) -> None:
    client = web.client()
    client.get("/login")
    answer = client.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 403
    assert client.get("/api/v1/me").status_code == 401


def test_next_cannot_redirect_to_another_site(web: Web) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client = web.client()
        token = _form_token(client.get("/login").text)
        answer = client.post(
            "/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token, "next": target}
        )
        assert answer.headers["location"] == "/"


def test_logout_needs_csrf_and_ends_the_session(web: Web) -> None:
    browser = web.login("analyst")
    assert browser.client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert browser.get("/api/v1/me").status_code == 200
    assert browser.post("/logout").status_code == 303
    assert browser.get("/api/v1/me").status_code == 401


def test_a_deactivated_user_loses_sessions_and_tokens(web: Web) -> None:
    from soc.db import accounts

    browser = web.login("oncall")
    with session_scope(web.db) as s:
        accounts.set_active(s, "oncall", False, actor="admin")
    assert browser.get("/api/v1/me").status_code == 401
    assert web.client().get("/api/v1/me", headers=web.api("oncall")).status_code == 401


def test_pages_carry_security_headers(web: Web) -> None:
    answer = web.client().get("/login")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_language_switch_is_remembered_for_the_user(web: Web) -> None:
    browser = web.login("analyst")
    assert browser.post("/lang", {"lang": "vi", "next": "/api/v1/me"}).status_code == 303
    fresh = web.login("analyst")  # a new browser without the cookie
    assert fresh.get("/api/v1/me").json()["locale"] == "vi"
    assert "Đăng nhập" in web.client().get("/login?lang=vi").text


def test_openapi_is_behind_sign_in(web: Web) -> None:
    assert web.client().get("/api/openapi.json").status_code == 401
    spec = web.client().get("/api/openapi.json", headers=web.api("analyst")).json()
    assert "/api/v1/me" in spec["paths"]


def test_a_successful_login_is_audited(web: Web) -> None:
    web.login("officer_a")
    with session_scope(web.db) as s:
        assert any(e.action == "user.login" and e.actor == "officer_a" for e in latest(s, limit=10))
