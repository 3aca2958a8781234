"""`soc demo`: the main job, end to end over real HTTP, on SQLite."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from soc.cli import cli
from soc.store.query import MatchAll, Term
from soc.store.sqlite import SqliteStore


def run_demo(tmp_path: Path, *args: str) -> str:
    env: dict[str, str | None] = {
        "SOC_DATA_DIR": str(tmp_path / "data"),
        "SOC_CONFIG": None,
        "SOC_LANG": None,
    }
    result = CliRunner().invoke(cli, [*args, "demo", "--exit", "--data-dir", str(tmp_path / "demo")], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_it_ships_the_scenario_and_prints_url_and_login(tmp_path: Path) -> None:
    output = run_demo(tmp_path)
    assert re.search(r"Open: http://127\.0\.0\.1:\d+/", output)
    assert re.search(r"Login: admin / password: \S{12,}", output)
    assert "47 new events, 0 already stored, 1 rejected" in output
    assert "line 48: source.ip: '999.1.1.1' is not an IP address" in output
    assert re.search(r"Detection ran \d+ rules over the new events: [1-9]\d* new alerts", output)
    assert "[HIGH] SSH brute force from one source: 1" in output
    assert "Security-level dossiers: 8 of 13 dossiers approved" in output
    store = SqliteStore(tmp_path / "demo" / "events.db")
    # the scenario's 47 accepted lines, and the collector's first heartbeat
    assert store.count(MatchAll(), agencies=["stttt-demo"]) == 48
    assert store.count(Term("event.dataset", "soc.collector"), agencies=["stttt-demo"]) == 1
    assert store.count(Term("agent.type", "soc-collector"), agencies=["stttt-demo"]) == 48
    assert store.count(Term("event.outcome", "success"), agencies=None, datasets=["system.auth"]) == 3
    store.close()


def test_it_runs_again_without_duplicating_and_speaks_vietnamese(tmp_path: Path) -> None:
    run_demo(tmp_path)
    output = run_demo(tmp_path, "--lang", "vi")
    # the collector starts afresh and reads every line again: the service knows each one, even
    # the line no parser understood (stamped with the time it was read)
    assert "0 sự kiện mới, 47 đã có, 1 bị từ chối" in output
    assert "Đăng nhập: admin / mật khẩu:" in output
