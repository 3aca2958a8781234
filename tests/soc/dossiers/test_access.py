"""The authorisation matrix: who sees, lists, creates, uploads to and acts on a level-3 dossier of
agency A, with the standard actors officer_a, officer_b, appraiser, approver and outsider."""

from __future__ import annotations

import pytest

from soc.db.dossiers import Dossier
from soc.dossiers.engine import DossierError
from tests.soc.dossiers.conftest import NOW, World, pdf

ACTORS = ["officer_a", "officer_b", "appraiser", "approver", "outsider", "analyst"]


def submitted(w: World) -> Dossier:
    d = w.dossier(3)
    w.ready(d)
    w.act("officer_a", d, "submit")
    return d


def outcome(call: object) -> str:
    try:
        assert callable(call)
        call()
    except DossierError as exc:
        return exc.key
    return "ok"


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("officer_a", "ok"),
        ("officer_b", "not_found"),
        ("appraiser", "ok"),
        ("approver", "ok"),
        ("outsider", "not_found"),
        ("analyst", "ok"),
    ],
)
def test_it_shows_a_submitted_dossier_only_to_its_agency_and_its_route(
    world: World, who: str, expected: str
) -> None:
    d = submitted(world)

    assert outcome(lambda: world.service.get(world.session, world[who], d.id)) == expected
    listed = [x.id for x in world.service.visible(world.session, world[who])]
    assert listed == ([d.id] if expected == "ok" else [])


@pytest.mark.parametrize("who", ["appraiser", "approver", "officer_b", "outsider"])
def test_it_keeps_a_draft_between_the_agency_and_the_city(world: World, who: str) -> None:
    d = world.dossier(3)

    assert outcome(lambda: world.service.get(world.session, world[who], d.id)) == "not_found"


@pytest.mark.parametrize(
    ("who", "expected"),
    [("officer_a", "ok"), ("officer_b", "forbidden"), ("appraiser", "forbidden"), ("outsider", "forbidden")],
)
def test_it_lets_only_the_agency_create_its_dossiers(world: World, who: str, expected: str) -> None:
    system = world.system("syt", 2)

    def create() -> None:
        world.service.create(world.session, world[who], title="x", system_ids=[system.id], now=NOW)

    assert outcome(create) == expected


@pytest.mark.parametrize(
    ("who", "kind", "expected"),
    [
        ("officer_a", "other", "upload_closed"),
        ("officer_b", "other", "not_found"),
        ("appraiser", "appraisal_opinion", "ok"),
        ("appraiser", "approval_decision", "upload_kind"),
        ("approver", "other", "upload_closed"),
        ("outsider", "other", "not_found"),
    ],
)
def test_it_lets_only_whoever_has_the_turn_upload(world: World, who: str, kind: str, expected: str) -> None:
    d = submitted(world)

    def upload() -> None:
        world.service.upload(world.session, world[who], d.id, kind=kind, filename="x.pdf", stream=pdf(),
                             expected_version=d.version)  # fmt: skip

    assert outcome(upload) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("officer_a", "forbidden"),
        ("officer_b", "not_found"),
        ("appraiser", "ok"),
        ("approver", "forbidden"),
        ("outsider", "not_found"),
        ("analyst", "forbidden"),
    ],
)
def test_it_lets_only_the_routed_appraiser_accept_a_dossier(world: World, who: str, expected: str) -> None:
    d = submitted(world)

    assert outcome(lambda: world.act(who, d, "accept_complete")) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("officer_a", "forbidden"),
        ("officer_b", "not_found"),
        ("appraiser", "forbidden"),
        ("approver", "ok"),
        ("outsider", "not_found"),
    ],
)
def test_it_lets_only_the_routed_approver_approve(world: World, who: str, expected: str) -> None:
    d = submitted(world)
    world.act("appraiser", d, "accept_complete")
    world.upload("appraiser", d, "appraisal_opinion")
    world.act("appraiser", d, "appraise_suitable")
    world.act("officer_a", d, "request_approval")
    world.regulate(d)

    assert outcome(lambda: world.act(who, d, "approve")) == expected


def test_it_offers_each_actor_only_their_own_next_steps(world: World) -> None:
    d = submitted(world)

    def names(who: str) -> list[str]:
        return [t.name for t in world.service.actions(world.session, world[who], d)]

    assert names("appraiser") == ["return_incomplete", "accept_complete"]
    assert names("officer_a") == ["withdraw"]
    assert names("approver") == []
