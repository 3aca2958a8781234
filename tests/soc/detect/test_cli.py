"""`soc rules check|convert|test` and `soc hunt` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from soc.cli import cli
from soc.settings import Settings

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "rules"
BROKEN = """title: broken
id: 2d3c0d2e-0000-4000-8000-000000000001
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Imagee: /bin/sh
    condition: selection
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"SOC_LANG": "en"})
    return result.exit_code, result.output


def test_it_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(BROKEN)
    (tmp_path / "b.yml").write_text(BROKEN.replace("0001", "0002").replace("process_creation", "nosuch"))
    code, out = run("rules", "check", str(tmp_path))
    assert code == 1
    assert f"{tmp_path / 'a.yml'}:6: field 'Imagee' has no ECS mapping" in out
    assert f"{tmp_path / 'b.yml'}:3: logsource" in out


def test_it_prints_the_query_per_backend() -> None:
    rule = RULES / "linux" / "auth" / "ssh_root_login.yml"
    code, tree = run("rules", "convert", str(rule), "--backend", "sqlite")
    assert code == 0
    assert "Regex(field='message'" in tree
    code, body = run("rules", "convert", str(rule), "--backend", "opensearch")
    assert code == 0
    assert '"regexp"' in body
    assert '"system.auth"' in body


def test_it_fails_rule_tests_when_a_case_does_not_hold(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    rule = tmp_path / "rules" / "r.yml"
    rule.write_text(BROKEN.replace("Imagee", "CommandLine|contains"))
    (tmp_path / "rules" / "r.cases.yml").write_text(
        "match: [{process.command_line: /bin/sh -i, event.category: process, event.type: start}]\n"
        "no_match: [{process.command_line: /bin/sh, event.category: process, event.type: start}]\n"
    )
    code, out = run("rules", "test", str(rule), "--engine-url", "")
    assert code == 1
    assert "no_match 1" in out


def test_it_hunts_ndjson_files_and_exits_one_on_alerts(tmp_path: Path) -> None:
    code, out = run(
        "hunt", "--rules", str(RULES), "--format", "ndjson", str(REPO / "soc" / "demo" / "events.ndjson")
    )
    assert code == 1
    alerts = [orjson.loads(line) for line in out.splitlines()]
    titles = {a["rule"]["title"] for a in alerts}
    assert "SSH brute force from one source" in titles
    assert all({"id", "title", "level"} <= a["rule"].keys() and "tags" in a and a["events"] for a in alerts)


def test_it_exits_zero_when_nothing_matches(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.log"
    quiet.write_bytes(b"Nov 27 01:58:00 web01 systemd[1]: Started Session 1 of User deploy.\n")
    code, out = run("hunt", "--rules", str(RULES), str(quiet))
    assert code == 0
    assert "0 alerts" in out


def test_it_runs_rule_cases_on_the_configured_secured_elasticsearch(elasticsearch_settings: Settings) -> None:
    s = elasticsearch_settings
    env = {
        "SOC_LANG": "en", "SOC_STORE": "elasticsearch", "SOC_STORE_URL": s.store_url,
        "SOC_STORE_API_KEY": s.store_api_key, "SOC_STORE_USERNAME": s.store_username,
        "SOC_STORE_PASSWORD": s.store_password, "SOC_STORE_CA_FILE": s.store_ca_file,
    }  # fmt: skip
    rules = str(RULES / "linux" / "auth")
    result = CliRunner().invoke(cli, ["rules", "test", rules, "--on-store"], env=env)
    assert result.exit_code == 0, result.output
    assert "cases passed on sqlite" in result.output
    assert "cases passed on elasticsearch" in result.output


def test_it_refuses_on_store_without_an_engine() -> None:
    code, out = run("rules", "test", str(RULES / "linux" / "auth"), "--on-store")
    assert code == 2
    assert "--on-store needs SOC_STORE=opensearch or elasticsearch" in out
