"""Status ("approved X of Y", by level, overdue), the Form 08 CSV and the demo seed behind them."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime

import pytest

from soc.dossiers import report
from soc.dossiers.demo import seed_demo
from tests.soc.dossiers.conftest import World

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


@pytest.fixture
def city(world: World) -> World:
    """The test world with every body held by city-wide grants, as `soc demo` runs."""
    world.service = dataclasses.replace(world.service, bodies="")
    return world


def test_it_seeds_a_city_with_dossiers_in_several_states(city: World) -> None:
    world = city
    seeded = seed_demo(world.session, NOW, world.service, password="demo-password-1")

    status = report.status(world.session, world.service, NOW)
    assert (status.approved, status.total) == (seeded.approved, seeded.dossiers) == (8, 13)
    assert status.headline() == "8 of 13 dossiers approved"
    assert status.headline("vi") == "8/13 hồ sơ đã được phê duyệt"
    assert len(status.by_state) >= 7


def test_it_seeds_only_once(city: World) -> None:
    world = city
    seed_demo(world.session, NOW, world.service, password="demo-password-1")

    assert seed_demo(world.session, NOW, world.service).dossiers == 0


def test_it_counts_by_level_and_flags_overdue_dossiers(city: World) -> None:
    world = city
    seed_demo(world.session, NOW, world.service, password="demo-password-1")

    status = report.status(world.session, world.service, NOW)

    assert status.by_level[3][1] == 8
    assert status.by_level[4] == (0, 1)
    assert status.overdue >= 1


def test_it_reports_each_agency_on_its_own(city: World) -> None:
    world = city
    seed_demo(world.session, NOW, world.service, password="demo-password-1")

    rows = {r.code: r.status for r in report.by_agency(world.session, world.service, NOW)}

    assert (rows["syt"].approved, rows["syt"].total) == (2, 3)
    assert (rows["cathanhpho"].approved, rows["cathanhpho"].total) == (0, 1)


def test_it_counts_a_withdrawn_dossier_out_and_its_successor_in(world: World) -> None:
    first = world.dossier(2)
    world.act("officer_a", first, "withdraw", "làm lại")
    second = world.service.create(
        world.session, world["officer_a"], title="lại", system_ids=[first.systems[0].id], now=NOW
    )

    assert [d.id for d in report.current_dossiers(world.session)] == [second.id]


def test_it_exports_the_annual_report_with_legacy_deadlines(city: World) -> None:
    world = city
    seed_demo(world.session, NOW, world.service, password="demo-password-1")

    text = report.annual_csv(world.session, world.service)

    assert text.startswith("\ufeffCơ quan / Agency,")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 13
    land = next(r for r in rows if r["Hệ thống thông tin / Information system"] == "Cơ sở dữ liệu đất đai")
    assert land["Hạn đáp ứng luật mới (hồ sơ theo NĐ 85) / Legacy compliance deadline"] == "01/07/2027"
    portal = next(r for r in rows if r["Hệ thống thông tin / Information system"] == "Cổng dịch vụ công y tế")
    assert portal["Tình hình triển khai phương án / Plan implementation"].startswith("Đã triển khai")
    assert portal["Quy chế bảo đảm ATTT / Security regulation"].startswith("QĐ ")
