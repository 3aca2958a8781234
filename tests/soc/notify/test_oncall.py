"""On-call schedules across hand-offs, layers and overrides; config errors; `soc oncall who`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from soc.cli import cli
from soc.errors import ConfigError
from soc.notify import oncall
from tests.soc.notify.world import CONFIG

LAYERED = {
    "schedules": {
        "primary": {
            "layers": [
                {"name": "weekly", "start": "2026-11-23 09:00", "rotation": "7d",
                 "participants": ["an", "binh"]},
                {"name": "office", "start": "2026-11-23 00:00", "rotation": "1d", "participants": ["chi"],
                 "hours": "08:00-17:00"},
            ]
        },
        "night": {"layers": [{"start": "2026-11-23 18:00", "rotation": "1d", "participants": ["dung"],
                              "hours": "18:00-06:00"}]},
    }
}  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def test_it_hands_off_to_the_next_person_at_the_hand_off_time() -> None:
    primary = oncall.parse(CONFIG).schedules["primary"]

    assert primary.who(at("2026-11-30T08:59")) == "an"
    assert primary.who(at("2026-11-30T09:00")) == "binh"
    assert primary.who(at("2026-12-07T09:00")) == "an"


def test_it_lets_a_higher_layer_win_within_its_hours() -> None:
    primary = oncall.parse(LAYERED).schedules["primary"]

    assert primary.who(at("2026-11-25T10:00")) == "chi"
    assert primary.who(at("2026-11-25T20:00")) == "an"


def test_it_lets_an_override_win_over_every_layer() -> None:
    primary = oncall.parse(LAYERED).schedules["primary"]
    cover = oncall.Override("primary", "lead", at("2026-11-25T09:30"), at("2026-11-25T12:00"))

    assert primary.who(at("2026-11-25T10:00"), (cover,)) == "lead"
    assert primary.who(at("2026-11-25T12:00"), (cover,)) == "chi"


def test_it_flags_gaps_in_coverage() -> None:
    night = oncall.parse(LAYERED).schedules["night"]

    gaps = night.gaps(at("2026-11-25T00:00"), at("2026-11-26T00:00"))

    assert gaps == [(at("2026-11-25T06:00"), at("2026-11-25T18:00"))]


def test_it_lists_every_problem_in_the_file() -> None:
    bad = {
        "schedules": {"s": {"layers": [{"start": "yesterday", "participants": []}]}},
        "policies": {"p": {"levels": [{"delay": "soon", "targets": ["schedule:nope", "pager:x"]}]}},
        "routes": [{"policy": "missing"}],
    }

    with pytest.raises(ConfigError) as caught:
        oncall.parse(bad, "oncall.yml")

    text = "\n".join(caught.value.problems)
    assert "oncall.yml: schedules.s.layers[0]: start" in text
    assert "unknown schedule 'nope'" in text
    assert "target 'pager:x'" in text
    assert "levels[0].delay: expected a duration" in text
    assert "routes[0]: unknown policy 'missing'" in text


def test_it_routes_by_severity_agency_and_tags() -> None:
    config = oncall.parse(CONFIG | {"routes": [
        {"levels": ["low"], "digest": True},
        {"agencies": ["syt"], "tags": ["attack.t1110"], "policy": "default"},
    ]})  # fmt: skip

    assert config.route("low", "syt", []).digest is True
    assert config.route("high", "syt", ["attack.t1110"]).policy == "default"
    assert config.route("high", "other", []).digest is False


def test_it_answers_who_is_on_call_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text(yaml.safe_dump(LAYERED), encoding="utf-8")
    env = {"SOC_DATA_DIR": str(tmp_path), "SOC_CONFIG": None}

    result = CliRunner().invoke(
        cli, ["oncall", "who", "--file", str(path), "--at", "2026-11-25T20:00+07:00"], env=env
    )

    assert result.exit_code == 0, result.output
    assert "primary: an" in result.output
    assert "night: dung" in result.output
    assert "25/11/2026 20:00:00 +07:00 (13:00:00 UTC)" in result.output


def test_it_exits_non_zero_when_check_finds_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text(yaml.safe_dump(LAYERED), encoding="utf-8")

    result = CliRunner().invoke(
        cli, ["oncall", "check", "--file", str(path), "--days", "2"], env={"SOC_DATA_DIR": str(tmp_path)}
    )

    assert result.exit_code == 1
    assert "night: gap" in result.output
