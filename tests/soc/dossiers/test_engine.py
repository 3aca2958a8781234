"""Every transition of both dossier playbooks, the guards, routing by level, stale views, the log."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from soc.db import audit
from soc.db.dossiers import Dossier
from soc.db.models import AuditEntry
from soc.dossiers.access import Actor
from soc.dossiers.engine import DossierError
from tests.soc.dossiers.conftest import NOW, World

D331 = "security-level-dossier.decree-331-2026"
D85 = "security-level-dossier.decree-85-2016"


def through_appraisal(w: World, d: Dossier) -> None:
    w.ready(d)
    w.act("officer_a", d, "submit")
    w.act("appraiser", d, "accept_complete")
    w.upload("appraiser", d, "appraisal_opinion")
    w.act("appraiser", d, "appraise_suitable")


def test_it_walks_every_transition_of_the_decree_331_playbook(world: World) -> None:
    w = world
    happy = w.dossier(3)
    w.ready(happy)
    w.act("officer_a", happy, "submit")
    w.act("appraiser", happy, "return_incomplete", "thiếu sơ đồ IP")
    w.upload("officer_a", happy, "other", "so-do-ip.pdf")
    w.act("officer_a", happy, "submit")
    w.act("appraiser", happy, "accept_complete")
    w.act("appraiser", happy, "appraise_unsuitable", "phương án chưa đủ")
    w.act("officer_a", happy, "start_revision")
    w.act("officer_a", happy, "submit")
    w.act("appraiser", happy, "accept_complete")
    w.upload("appraiser", happy, "appraisal_opinion")
    w.act("appraiser", happy, "appraise_suitable")
    w.act("officer_a", happy, "request_approval")
    w.act("approver", happy, "return_for_revision", "bổ sung")
    w.act("officer_a", happy, "submit")
    w.act("appraiser", happy, "accept_complete")
    w.act("appraiser", happy, "appraise_suitable")
    w.act("officer_a", happy, "request_approval")
    w.regulate(happy)
    w.act("approver", happy, "approve")
    w.act("officer_a", happy, "start_implementation")
    w.act("officer_a", happy, "put_in_operation")
    w.act("analyst", happy, "require_redetermination", "sự cố nghiêm trọng")
    w.act("officer_a", happy, "start_redetermination")
    w.act("officer_a", happy, "withdraw", "thay bằng hồ sơ mới")
    assert happy.state == "withdrawn"

    high = w.dossier(4)
    w.ready(high)
    w.act("officer_a", high, "request_opinion")
    w.upload("appraiser", high, "specialised_opinion")
    w.act("appraiser", high, "give_opinion")
    w.act("officer_a", high, "submit")
    w.act("mps_appraiser", high, "accept_complete")
    w.upload("mps_appraiser", high, "appraisal_opinion")
    w.act("mps_appraiser", high, "appraise_suitable")
    w.act("officer_a", high, "request_approval")
    w.act("approver", high, "reject", "không phù hợp")
    assert high.state == "rejected"

    taken = {name for d in (happy, high) for name in w.taken(d)}
    assert taken == set(w.service.library.get(D331).transitions)


def test_it_walks_every_transition_of_the_decree_85_playbook(world: World) -> None:
    w = world
    d = w.dossier(3, playbook=D85)
    w.ready(d)
    w.act("officer_a", d, "submit")
    w.act("appraiser", d, "return_incomplete", "thiếu")
    w.act("officer_a", d, "submit")
    w.act("appraiser", d, "accept_complete")
    w.act("appraiser", d, "appraise_unsuitable", "chưa đạt")
    w.act("officer_a", d, "start_revision")
    w.act("officer_a", d, "submit")
    w.act("appraiser", d, "accept_complete")
    w.upload("appraiser", d, "appraisal_opinion")
    w.act("appraiser", d, "appraise_suitable")
    w.act("officer_a", d, "request_approval")
    w.regulate(d)
    w.act("approver", d, "approve")
    w.act("officer_a", d, "require_redetermination", "đổi hạ tầng")
    w.act("officer_a", d, "start_redetermination")
    w.act("officer_a", d, "withdraw", "rút")
    other = w.dossier(2, playbook=D85)
    w.ready(other)
    w.act("officer_a", other, "submit")
    w.act("appraiser", other, "accept_complete")
    w.act("appraiser", other, "appraise_suitable")
    w.act("officer_a", other, "request_approval")
    w.act("approver", other, "reject", "không phê duyệt")

    taken = set(w.taken(d)) | set(w.taken(other))
    assert taken == set(w.service.library.get(D85).transitions)


def test_it_refuses_approval_without_the_security_regulation(world: World) -> None:
    d = world.dossier(3)
    through_appraisal(world, d)
    world.act("officer_a", d, "request_approval")

    with pytest.raises(DossierError) as caught:
        world.act("approver", d, "approve")

    assert caught.value.key == "no_security_regulation"
    assert "quy chế" in caught.value.reason.render("vi")
    assert d.state == "pending_approval"


def test_it_refuses_an_appraiser_who_works_for_the_operator(world: World) -> None:
    # The system is operated by the specialised unit itself, so an independent appraiser is routed;
    # that appraiser also works for the owning agency, which is not independent either.
    w = world
    d = w.dossier(3, operator_agency_id=w.agencies["stttt"])
    assert d.routing["appraise"] == "independent_appraiser"
    w.ready(d)
    w.act("officer_a", d, "submit")
    with pytest.raises(DossierError) as not_routed:
        w.act("appraiser", d, "accept_complete")
    assert not_routed.value.key == "not_found"
    conflicted = Actor("independent", w["independent"].grants | {("agency_officer", w.agencies["syt"])})

    with pytest.raises(DossierError) as caught:
        w.service.act(w.session, conflicted, d.id, "accept_complete", expected_version=d.version)

    assert caught.value.key == "appraiser_is_operator"
    w.act("independent", d, "accept_complete")
    assert d.state == "appraising"


def test_it_refuses_to_submit_without_the_documents_of_the_level(world: World) -> None:
    d = world.dossier(4)
    world.upload("officer_a", d, "general_description")

    with pytest.raises(DossierError) as caught:
        world.act("officer_a", d, "submit")

    assert caught.value.key == "missing_documents"
    assert "design, level_proposal, security_plan, specialised_opinion" in str(caught.value)


@pytest.mark.parametrize(
    ("level", "appraise", "approve"),
    [
        (1, "specialised_unit", "specialised_unit"),
        (2, "specialised_unit", "specialised_unit"),
        (3, "specialised_unit", "system_owner"),
        (4, "ministry_of_public_security", "system_owner"),
        (5, "ministry_of_public_security", "system_owner"),
    ],
)
def test_it_routes_each_level_to_its_appraiser_and_approver(
    world: World, level: int, appraise: str, approve: str
) -> None:
    d = world.dossier(level)

    assert (d.routing["appraise"], d.routing["approve"]) == (appraise, approve)


def test_it_lets_only_the_ministry_appraise_level_4(world: World) -> None:
    w = world
    d = w.dossier(4)
    w.ready(d)
    w.act("officer_a", d, "request_opinion")
    w.upload("appraiser", d, "specialised_opinion")
    w.act("appraiser", d, "give_opinion")
    w.act("officer_a", d, "submit")

    with pytest.raises(DossierError, match="may not accept_complete"):
        w.act("appraiser", d, "accept_complete")
    w.act("mps_appraiser", d, "accept_complete")
    assert d.state == "appraising"


def test_it_lets_the_specialised_unit_approve_level_2_but_not_level_3(world: World) -> None:
    w = world
    low, high = w.dossier(2), w.dossier(3)
    for d in (low, high):
        through_appraisal(w, d) if d.level == 3 else _appraise_low(w, d)
        w.act("officer_a", d, "request_approval")
        w.regulate(d)

    w.act("unit_approver", low, "approve")
    with pytest.raises(DossierError, match="not found"):
        w.act("unit_approver", high, "approve")
    assert (low.state, high.state) == ("approved", "pending_approval")


def _appraise_low(w: World, d: Dossier) -> None:
    w.ready(d)
    w.act("officer_a", d, "submit")
    w.act("appraiser", d, "accept_complete")
    w.act("appraiser", d, "appraise_suitable")


def test_it_refuses_an_action_on_a_stale_view(world: World) -> None:
    d = world.dossier(3)
    through_appraisal(world, d)
    world.act("officer_a", d, "request_approval")
    world.regulate(d)
    seen = d.version
    world.act("approver", d, "reject", "không đạt")

    with pytest.raises(DossierError) as caught:
        world.service.act(world.session, world["approver"], d.id, "approve", expected_version=seen)

    assert caught.value.key == "stale"
    assert d.state == "rejected"


def test_it_needs_a_comment_to_return_a_dossier(world: World) -> None:
    d = world.dossier(3)
    world.ready(d)
    world.act("officer_a", d, "submit")

    with pytest.raises(DossierError) as caught:
        world.act("appraiser", d, "return_incomplete", comment="  ")

    assert caught.value.key == "comment_required"


def test_it_refuses_a_transition_from_the_wrong_state(world: World) -> None:
    d = world.dossier(3)

    with pytest.raises(DossierError) as caught:
        world.act("approver", d, "approve")

    assert caught.value.key in ("not_allowed_here", "not_found")


def test_it_records_actor_role_time_form_and_document_hashes(world: World) -> None:
    d = world.dossier(3)
    world.ready(d)
    world.act("officer_a", d, "submit", comment="nộp hồ sơ")

    step = d.transitions[-1]
    assert (step.actor, step.role, step.at, step.form) == (
        "officer_a",
        "agency_officer",
        NOW,
        "level_dossier",
    )
    assert (step.from_state, step.to_state, step.comment) == ("draft", "submitted", "nộp hồ sơ")
    assert sorted(x["sha256"] for x in step.documents) == sorted(doc.sha256 for doc in d.documents)
    assert step.version == d.version


def test_it_audits_every_change_in_an_intact_chain(world: World) -> None:
    d = world.dossier(3)
    world.ready(d)
    world.act("officer_a", d, "submit")
    world.regulate(d)

    actions = list(world.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type != "x")))
    assert actions == ["system.create", "dossier.create"] + ["dossier.upload"] * 4 + [
        "dossier.submit",
        "system.security_regulation",
    ]
    assert audit.verify_chain(world.session) == []


def test_it_imports_legacy_approvals_with_their_twelve_month_deadline(world: World) -> None:
    officer = world["officer_a"]
    system = world.system("syt", 3)
    d = world.service.import_legacy(
        world.session, world["admin"], system_ids=[system.id], approved_on=date(2019, 5, 10), now=NOW
    )

    assert (d.state, d.legacy_deadline, d.legacy_approved_on) == (
        "legacy_approved",
        date(2027, 7, 1),
        date(2019, 5, 10),
    )
    assert world.service.get(world.session, officer, d.id) is d
    world.act("officer_a", d, "require_redetermination", "đáp ứng luật mới")
    assert d.state == "redetermination_required"


def test_it_keeps_the_transition_log_on_postgresql(pg_world: World) -> None:
    d = pg_world.dossier(3)
    through_appraisal(pg_world, d)
    pg_world.session.commit()

    assert pg_world.taken(d) == ["submit", "accept_complete", "appraise_suitable"]
    assert d.version == 9
