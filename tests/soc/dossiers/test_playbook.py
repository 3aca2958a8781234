"""Playbooks: the bundled ones load; a malformed one is refused with every problem as file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from soc.cli import cli
from soc.dossiers.library import BUNDLED, load_library, read_library
from soc.dossiers.playbook import load_playbook, read_playbook
from soc.errors import ConfigError

ALL_LEVELS = "L1, L2, L3, L4, L5"
MALFORMED = """\
id: broken
kind: dossier
initial: draft
bodies:
  unit: {en: Unit, vi: Đơn vị}
routing:
  L1: {appraise: unit}
  L7: {appraise: unit}
documents:
  plan: {en: Plan, vi: Kế hoạch}
required_documents:
  submit:
    L1: [plan, blueprint]
states:
  draft: {}
  submitted: {}
  limbo: {}
  loop_a: {}
  loop_b: {}
  done: {final: true}
  orphan: {}
transitions:
  - name: submit
    from: [draft]
    to: submitted
    roles: [agency_officer, janitor]
    guards: [required_documents_present, moon_is_full]
  - name: finish
    from: [submitted]
    to: done
    roles: [appraiser]
    acting_as: approve
  - name: wander
    from: [submitted]
    to: loop_a
    roles: [appraiser]
  - name: spin
    from: [loop_a]
    to: loop_b
    roles: [appraiser]
  - name: spin_back
    from: [loop_b]
    to: loop_a
    roles: [appraiser]
  - name: vanish
    from: [draft]
    to: nowhere
    roles: [agency_officer]
deadlines:
  - name: reply
    state: submitted
    working_days: 5
  - name: later
    state: submitted
    anchor: teleport
    working_days: 3
    escalate_to: [the_mayor]
"""


def write(tmp_path: Path, text: str, name: str = "broken.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_it_loads_every_bundled_playbook() -> None:
    library = load_library()

    assert library.default("dossier").id == "security-level-dossier.decree-331-2026"
    assert library.by_regime("decree-85-2016").id == "security-level-dossier.decree-85-2016"
    assert library.default("incident").id == "incident-reporting"


def test_it_rejects_a_malformed_playbook_with_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, MALFORMED)

    _, problems = read_playbook(path)

    assert [p.render() for p in problems] == [
        f"{path}:8: unknown security level 'L7' (expected L1 to L5)",
        f"{path}:11: unknown document kind 'blueprint'",
        f"{path}:17: state 'limbo' cannot be reached from the initial state",
        f"{path}:18: states loop_a, loop_b form a cycle or dead end with no way to a final state",
        f"{path}:21: state 'orphan' cannot be reached from the initial state",
        f"{path}:23: unknown role 'janitor'",
        f"{path}:23: unknown guard 'moon_is_full'",
        f"{path}:28: transition 'finish' acts as 'approve' but routing has no 'approve' for {ALL_LEVELS}",
        f"{path}:45: unknown state 'nowhere'",
        f"{path}:50: deadline 'reply' has no anchor event",
        f"{path}:53: deadline 'later' counts from unknown event 'teleport'",
        f"{path}:53: deadline 'later' escalates to 'the_mayor', which is neither a routing slot nor a role",
    ]


def test_it_raises_one_config_error_listing_all_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_playbook(write(tmp_path, MALFORMED))

    assert len(caught.value.problems) == 12


def test_it_speaks_vietnamese_to_vietnamese_readers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_playbook(write(tmp_path, MALFORMED), lang="vi")

    assert any("vai trò không tồn tại 'janitor'" in p for p in caught.value.problems)


def test_it_reports_broken_yaml_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "id: x\nstates:\n  draft: {\n  oops: [\n")

    _, problems = read_playbook(path)

    assert len(problems) == 1
    assert problems[0].render().startswith(f"{path}:5: not valid YAML")


def test_it_reports_missing_and_unknown_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "id: x\nkind: dossier\nstaets: {}\n")

    _, problems = read_playbook(path)

    rendered = [p.render() for p in problems]
    assert f"{path}:1: missing required key 'initial'" in rendered
    assert f"{path}:3: unknown key 'staets' in playbook" in rendered


def test_it_refuses_a_final_state_with_a_way_out(tmp_path: Path) -> None:
    text = (
        "id: x\nkind: incident\ninitial: a\nstates:\n  a: {}\n  b: {final: true}\n"
        "transitions:\n  - {name: go, from: [a], to: b, roles: [soc_analyst]}\n"
        "  - {name: back, from: [b], to: a, roles: [soc_analyst]}\n"
    )
    _, problems = read_playbook(write(tmp_path, text))

    assert [p.key for p in problems] == ["terminal_has_exit"]


def test_it_refuses_two_default_playbooks_of_one_kind(tmp_path: Path) -> None:
    for name in ("security-level-dossier.decree-331-2026.yml", "security-level-dossier.decree-85-2016.yml"):
        text = (BUNDLED / name).read_text(encoding="utf-8").replace("default: false", "default: true")
        write(tmp_path, text, name)

    _, problems = read_library(tmp_path)

    assert [p.key for p in problems] == ["two_defaults"]


def test_it_validates_the_bundled_playbooks_from_the_command_line() -> None:
    result = CliRunner().invoke(cli, ["validate"], env={"SOC_LANG": "en"})

    assert result.exit_code == 0, result.output
    assert "3 playbooks valid" in result.output


def test_it_lists_every_problem_and_fails_from_the_command_line(tmp_path: Path) -> None:
    write(tmp_path, MALFORMED)

    result = CliRunner().invoke(cli, ["validate", str(tmp_path)], env={"SOC_LANG": "en"})

    assert result.exit_code == 1
    assert "broken.yml:23: unknown guard 'moon_is_full'" in result.output
    assert "12 problems in the playbooks" in result.output
