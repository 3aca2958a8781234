"""Acknowledge from an e-mail link, over HTTP: GET changes nothing, POST acts once, refusals are clear."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from soc import settings as settings_mod
from soc.db import audit
from soc.db.models import utcnow
from soc.db.notify import AlertGroup, OutboxMessage
from soc.db.session import session_scope
from soc.notify import acktoken
from soc.notify.service import NotifyService, on_new_alerts
from soc.store.sqlite import SqliteStore
from soc.web.app import create_app
from tests.soc.notify.world import SECRET, add_alerts, make_db, service


class World:
    def __init__(self, tmp: Path) -> None:
        self.db: Engine = make_db(tmp)
        self.now = utcnow()
        self.svc: NotifyService = service()
        ids = add_alerts(self.db, 2, at=self.now - timedelta(minutes=1))
        with session_scope(self.db) as s:
            on_new_alerts(s, ids, self.now - timedelta(minutes=1))
            self.svc.tick(s, self.now)
        settings = settings_mod.load(environ={}, data_dir=tmp, secret_key=SECRET)
        self.store = SqliteStore(tmp / "events.db")
        self.store.ensure_schema()
        app = create_app(settings, store=self.store, db=self.db)
        app.state.notify = self.svc
        self.client = TestClient(app)

    def group(self) -> AlertGroup:
        with session_scope(self.db) as s:
            return s.scalars(select(AlertGroup)).one()

    def link(self) -> tuple[str, str]:
        """(path, token) of the ack link mailed to `an`."""
        with session_scope(self.db) as s:
            text = s.scalars(
                select(OutboxMessage.body_text).where(OutboxMessage.recipient == "an@example.vn")
            ).one()
        url = next(word for word in text.split() if "/ack/" in word)
        path, _, query = url.removeprefix("http://soc.test").partition("?t=")
        return path, query

    def token_for(self, user: str, **changes: object) -> str:
        g = self.group()
        values = {
            "group": g.public_id,
            "recipient": f"{user}@example.vn",
            "username": user,
            "version": g.version,
            "now": utcnow(),
        }
        return acktoken.sign(SECRET, **(values | changes))  # type: ignore[arg-type]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()
    w.db.dispose()


def test_it_shows_a_confirmation_page_on_get_and_changes_nothing(world: World) -> None:
    path, token = world.link()

    for _ in range(3):  # a mail scanner pre-fetching the link
        response = world.client.get(path, params={"t": token, "lang": "en"})
        assert response.status_code == 200
        assert 'method="post"' in response.text
    assert world.group().state == "firing"


def test_it_acknowledges_on_post_stops_escalation_and_audits_the_real_user(world: World) -> None:
    path, token = world.link()

    response = world.client.post(path, data={"t": token}, params={"lang": "en"})

    assert response.status_code == 200
    assert "Acknowledged by an at" in response.text
    group = world.group()
    assert group.state == "acknowledged"
    assert group.escalation_next_at is None
    with session_scope(world.db) as s:
        entry = audit.latest(s, limit=1, target_type="alert_group")[0]
        assert (entry.actor, entry.action, entry.target_id) == (
            "an",
            "alert_group.acknowledge",
            group.public_id,
        )


def test_it_says_who_acknowledged_and_when_on_a_second_post(world: World) -> None:
    path, token = world.link()
    world.client.post(path, data={"t": token})

    again = world.client.post(path, data={"t": token}, params={"lang": "vi"})
    other = world.client.post(path, data={"t": world.token_for("binh")}, params={"lang": "en"})

    assert again.status_code == 409
    assert "đã được an xác nhận lúc" in again.text
    assert other.status_code == 409
    assert "Already acknowledged by an at" in other.text


def test_it_refuses_a_forged_token(world: World) -> None:
    path, token = world.link()
    body, _, signature = token.partition(".")
    forged = acktoken.sign(
        "another-installation-key",
        group=world.group().public_id,
        recipient="an@example.vn",
        username="an",
        version=2,
        now=utcnow(),
    )

    for bad in (forged, body + "." + signature[::-1], "garbage", ""):
        response = world.client.post(path, data={"t": bad}, params={"lang": "en"})
        assert response.status_code == 403
        assert "not valid" in response.text
    assert world.group().state == "firing"


def test_it_refuses_an_expired_token(world: World) -> None:
    path, _ = world.link()
    old = world.token_for("an", now=datetime.now(UTC) - timedelta(hours=5))

    response = world.client.get(path, params={"t": old, "lang": "en"})

    assert response.status_code == 410
    assert "expired" in response.text


def test_it_refuses_a_token_for_another_group_or_recipient(world: World) -> None:
    path, _ = world.link()

    other_group = world.client.post(path, data={"t": world.token_for("an", group="ALR-OTHER")})
    not_the_recipient = world.client.post(path, data={"t": world.token_for("an", recipient="eve@example.vn")})

    assert other_group.status_code == 403
    assert not_the_recipient.status_code == 403
    assert world.group().state == "firing"


def test_it_voids_links_once_the_group_changed_state(world: World) -> None:
    path, token = world.link()
    with session_scope(world.db) as s:
        group = s.scalars(select(AlertGroup)).one()
        group.version += 1  # e.g. escalation resumed after an ack timeout

    response = world.client.post(path, data={"t": token}, params={"lang": "en"})

    assert response.status_code == 409
    assert "changed since" in response.text


def test_it_refuses_a_token_with_non_ascii_characters_as_forged() -> None:
    from datetime import UTC, datetime

    from soc.notify.acktoken import AckRefused, verify

    with pytest.raises(AckRefused) as caught:
        verify("secret", "abc.é", now=datetime.now(UTC))
    assert caught.value.status == 403
