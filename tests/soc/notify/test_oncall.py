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
    assert "oncall.yml: schedules.s.layers[0].start: expected a hand-off time" in text
    assert "unknown schedule 'nope'" in text
    assert "target 'pager:x'" in text
    assert "levels[0].delay: expected a duration" in text
    assert "routes[0].policy: unknown policy 'missing'" in text


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


BROKEN = """\
timezone: Asia/Ho_Chi_Minh
group: {wait: 30s, repaet: 4h}
schedules:
  primary:
    layers:
      - start: "2026-11-23 09:00"
        rotation: 0d
        participants: an
      - participants: [binh]
policies:
  default:
    repeat: twice
    levels:
      - delay: soon
        targets: ["schedule:nope", "role:boss"]
routes:
  - levels: [hihg]
    policy: missing
quiet_hours: {start: 22:00, end: 6:30}
quiet_hours: {start: "23:00", end: "06:00"}
"""


def test_it_refuses_a_malformed_file_listing_every_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text(BROKEN, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        oncall.load(path)

    assert caught.value.problems == [
        f"{path}:2: group.repaet: unknown key 'repaet' (expected one of wait, repeat, resolve_after)",
        f"{path}:7: schedules.primary.layers[0].rotation: expected a duration longer than 0, "
        "like 30s, 10m, 4h or 7d, got '0d'",
        f"{path}:8: schedules.primary.layers[0].participants: expected a list, got 'an'",
        f"{path}:9: schedules.primary.layers[1].start: expected a hand-off time like '2026-11-23 09:00', "
        "got nothing",
        f"{path}:12: policies.default.repeat: expected a whole number (0 or more), got 'twice'",
        f"{path}:14: policies.default.levels[0].delay: expected a duration like 30s, 10m, 4h or 7d, "
        "got 'soon'",
        f"{path}:15: policies.default.levels[0].targets[0]: unknown schedule 'nope'",
        f"{path}:15: policies.default.levels[0].targets[1]: unknown role 'boss' "
        "(expected one of admin, soc_analyst, oncall, agency_officer, appraiser, approver)",
        f"{path}:17: routes[0].levels[0]: unknown value 'hihg' "
        "(expected one of informational, low, medium, high, critical)",
        f"{path}:18: routes[0].policy: unknown policy 'missing'",
        f"{path}:20: duplicate key 'quiet_hours' (first on line 19)",
    ]


def test_it_reads_unquoted_times_of_day_as_times(tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text("quiet_hours: {start: 22:00, end: 6:30, levels: [medium]}\ndigest: {at: 8:00}\n")

    config = oncall.load(path)

    assert config.quiet_hours is not None
    assert (str(config.quiet_hours.start), str(config.quiet_hours.end)) == ("22:00:00", "06:30:00")
    assert str(config.digest_at) == "08:00:00"


def test_it_names_the_line_of_a_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text("timezone: UTC\nschedules:\n  primary: {layers: [}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        oncall.load(path)

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}:3: not valid YAML")


def test_it_refuses_to_start_the_service_on_a_malformed_file(tmp_path: Path) -> None:
    from soc.notify.service import for_settings
    from soc.settings import Settings

    path = tmp_path / "oncall.yml"
    path.write_text("routes:\n  - policy: missing\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        for_settings(Settings(data_dir=tmp_path, oncall_file=str(path)))

    assert caught.value.problems == [f"{path}:2: routes[0].policy: unknown policy 'missing'"]


def test_it_prints_every_problem_with_its_line_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text(BROKEN, encoding="utf-8")

    result = CliRunner().invoke(
        cli, ["oncall", "check", "--file", str(path)], env={"SOC_DATA_DIR": str(tmp_path)}
    )

    assert result.exit_code != 0
    assert f"{path}:18: routes[0].policy: unknown policy 'missing'" in result.output
    assert f"{path}:2: group.repaet: unknown key" in result.output
