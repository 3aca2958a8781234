"""The authorisation matrix: every route × every standard actor × own/other agency.

Agency B's data carries a marker ("zzb") in every agency-specific field: alert ids, hosts, users,
addresses, event text, incident titles. Agency A's officer, the outsider, the appraiser and the
approver must never receive a response containing it — through lists, filters that ask for
agency B, counts, exports or detail pages by id — and no write by them may change B's rows.
The analyst must see it (so the marker is really there and the test can fail).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute, Route

from soc.db.detection import Alert
from soc.db.session import session_scope
from soc.db.triage import AlertComment, AlertTransition, Incident
from tests.soc.web.conftest import ACTORS, T0, Web

MARK = "zzb"
SKIP_PREFIXES = (
    "/static",
    "/login",
    "/logout",
    "/lang",
    "/healthz",
    "/metrics",
    "/status",
    "/ack",
    "/api/openapi",
)
SPYING_QUERY = {"agency": "so-b", "organization.id": "so-b", "q": "host"}
"""Asks for agency B without naming the marker: pages may echo the request, which is no leak."""
BLIND = ("officer_a", "outsider", "appraiser", "approver")


class World:
    def __init__(self, tmp: Path) -> None:
        self.web = Web(tmp)
        now = datetime.now(UTC)
        self.alert_a = self.web.add_alert(
            "so-a", n=1, id="alert-a-1", host="host-a", first_at=now - timedelta(hours=1)
        )
        self.alert_b = self.web.add_alert(
            "so-b", n=2, id="alert-b-2", host=f"{MARK}-host", user_name=f"{MARK}-user",
            source_ip="198.51.100.77", first_at=now - timedelta(hours=1),
            events=[{"index": "x", "id": f"{MARK}-e1", "original": f"Failed password for {MARK}-user"}],
        )  # fmt: skip
        for agency, host in (("so-a", "host-a"), ("so-b", f"{MARK}-host")):
            docs = [
                {
                    "@timestamp": (now - timedelta(minutes=30 + i)).isoformat(),
                    "event": {"dataset": "system.auth", "original": f"sshd login {host} {i}"},
                    "host": {"name": host}, "user": {"name": f"{host}-user"}, "message": f"login on {host}",
                }
                for i in range(5)
            ]  # fmt: skip
            self.web.store.write(docs, agency=agency)
        with session_scope(self.web.db) as s:
            for agency, title in (("so-a", "incident of a"), ("so-b", f"{MARK} incident of b")):
                s.add(
                    Incident(
                        title=title, agency=agency, severity="high", created_by="analyst",
                        initial_notice_due=T0 + timedelta(hours=24),
                    )
                )  # fmt: skip
            s.flush()
            self.incident_b = s.scalars(select(Incident.id).where(Incident.agency == "so-b")).one()
        self.rule_id = "r-ssh-brute"

    def snapshot_b(self) -> Any:
        with session_scope(self.web.db) as s:
            alert = s.get(Alert, self.alert_b)
            assert alert is not None
            incident = s.get(Incident, self.incident_b)
            assert incident is not None
            comments = s.scalars(select(AlertComment.id).where(AlertComment.alert_id == self.alert_b)).all()
            moves = s.scalars(
                select(AlertTransition.id).where(AlertTransition.alert_id == self.alert_b)
            ).all()
            return (
                alert.status, alert.assignee, alert.resolution, alert.incident_id, tuple(comments),
                tuple(moves), incident.status, incident.owner, incident.severity, incident.title,
            )  # fmt: skip

    def fill(self, path: str) -> str:
        """The path with its parameters pointing at agency B's objects."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            if path.startswith(("/alerts", "/api/v1/alerts")) and name in ("alert_id", "id"):
                return self.alert_b
            if "incident" in path and name in ("incident_id", "id"):
                return str(self.incident_b)
            if name == "rule_id":
                return self.rule_id
            if name == "id" or name.endswith("_id") or name in ("name", "schedule"):
                return "1"  # objects with no agency-B twin here: the call must still not fail or leak
            raise AssertionError(f"test_authorisation does not know how to fill {{{name}}} in {path}; add it")

        return re.sub(r"{([^}]+)}", value, path)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(Path(tmp_path_factory.mktemp("matrix")))
    yield w
    w.web.store.close()


def _flat(routes: list[BaseRoute]) -> Iterator[APIRoute | Route]:
    """Every route, with included routers opened (our routers carry full paths, no prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        elif isinstance(route, (APIRoute, Route)):
            yield route


def _routes(world: World, method: str) -> list[str]:
    found = set()
    for route in _flat(world.web.app.routes):
        if method in (route.methods or set()) and not route.path.startswith(SKIP_PREFIXES):
            found.add(world.fill(route.path))
    return sorted(found)


def test_the_markers_are_visible_to_the_city_analyst(world: World) -> None:
    analyst = world.web.login("analyst")
    assert MARK in analyst.get(f"/alerts/{world.alert_b}").text
    assert MARK in analyst.get("/api/v1/alerts", params={"agency": "so-b"}).text


@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_no_get_route_shows_another_agencys_data(world: World, actor: str) -> None:
    browser = world.web.login(actor)
    leaks, errors = [], []
    paths = _routes(world, "GET")
    assert len(paths) > 15, paths
    for path in paths:
        for params in ({}, SPYING_QUERY):
            for answer in (
                browser.get(path, params=params),
                world.web.client().get(path, params=params, headers=world.web.api(actor)),
            ):
                if answer.status_code >= 500:
                    errors.append(f"{path} {params}: {answer.status_code}")
                if actor in BLIND and MARK in answer.text.lower():
                    leaks.append(f"{path} {params}: {answer.status_code}")
    assert not errors, errors
    assert not leaks, f"{actor} received agency B's data from: {leaks}"


def _sweep(world: World, actor: str) -> list[str]:
    """POST every write route with a payload aimed at agency B's alert and incident."""
    browser = world.web.login(actor)
    form = {
        "alert_ids": world.alert_b, "alert_id": world.alert_b, "ids": world.alert_b, "status": "closed",
        "resolution": "false_positive", "reason": "x", "assignee": actor, "body": "x", "comment": "x",
        "title": "x", "severity": "low", "incident_id": str(world.incident_b), "action": "close",
        "owner": actor,
    }  # fmt: skip
    body = form | {"alert_ids": [world.alert_b], "ids": [world.alert_b]}
    errors = []
    for path in _routes(world, "POST"):
        for answer in (
            browser.post(path, form),
            world.web.client().post(path, json=body, headers=world.web.api(actor)),
        ):
            if answer.status_code >= 500:
                errors.append(f"{path}: {answer.status_code}")
    return errors


@pytest.mark.parametrize("actor", BLIND)
def test_no_write_route_changes_another_agencys_data(world: World, actor: str) -> None:
    before = world.snapshot_b()
    assert _sweep(world, actor) == []
    assert world.snapshot_b() == before


def test_the_same_writes_by_the_analyst_do_change_it(tmp_path: Path) -> None:
    """The control: the sweep's payloads really reach the routes (so the test above can fail)."""
    world = World(tmp_path)
    before = world.snapshot_b()
    assert _sweep(world, "analyst") == []
    assert world.snapshot_b() != before
    world.web.store.close()
