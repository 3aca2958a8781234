"""collector.yml: every problem listed with file and line; a good file builds typed components."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors import settings
from collectors.cli import main
from collectors.multiline import Multiline
from collectors.sinks.opensearch import OpenSearchSink
from collectors.sources.file import FileSource

GOOD = """
data_dir: /var/lib/soc-collector
sources:
  web: {type: file, paths: [/var/log/nginx/access.log*], multiline: {pattern: '^\\s'}}
transforms:
  p: {type: parse, inputs: [web], format: nginx}
sinks:
  engine: {type: opensearch, url: "https://engine:9200", api_key: abc}
"""
BAD = """data_dir: /tmp/x
sourcs: 1
sources:
  web:
    type: file
    pahts: [/var/log/x]
  other: {type: journald}
transforms:
  p: {type: parse, inputs: [web, nope], format: ngnix}
sinks:
  engine: {type: opensearch, url: "ftp://x", timeout_seconds: soon}
"""


def test_it_builds_typed_components_from_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(GOOD)
    config = settings.load(tmp_path / "c.yml")
    assert config.sources["web"] == FileSource(
        paths=("/var/log/nginx/access.log*",), multiline=Multiline(r"^\s")
    )
    assert config.parsers["web"].format == "nginx"
    assert isinstance(config.sink, OpenSearchSink)


def test_it_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(BAD)
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(path)
    problems = caught.value.problems
    assert f"{path}:2: unknown setting 'sourcs'" in problems
    assert any(p.startswith(f"{path}:6: sources.web: unknown option 'pahts'") for p in problems)
    assert any(p.startswith(f"{path}:7: sources.other: unknown type 'journald'") for p in problems)
    assert any("unknown format 'ngnix'" in p for p in problems)
    assert any("input 'nope' is not a source" in p for p in problems)
    assert any("timeout_seconds: must be float" in p for p in problems)
    assert len(problems) >= 7


def test_it_validates_from_the_command_line_in_both_languages(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(BAD)
    (tmp_path / "good.yml").write_text(GOOD)
    runner = CliRunner()
    bad = runner.invoke(main, ["validate", "--config", str(tmp_path / "bad.yml")])
    assert bad.exit_code == 1
    assert "bad.yml:2: unknown setting 'sourcs'" in bad.output
    good = runner.invoke(main, ["validate", "--config", str(tmp_path / "good.yml")])
    assert good.exit_code == 0
    assert "valid (sources: 1, sink 'engine')" in good.output


def test_it_takes_batch_sizes_and_refuses_unknown_or_wrong_small_options(tmp_path: Path) -> None:
    (tmp_path / "ok.yml").write_text(
        GOOD + "batch: {events: 500, bytes: 1048576, in_flight: 4}\nspool: {max_bytes: 2097152}\n"
    )
    config = settings.load(tmp_path / "ok.yml")
    assert (config.batch_events, config.batch_bytes, config.spool_max_bytes) == (500, 1 << 20, 2 << 20)
    assert config.in_flight == 4

    (tmp_path / "bad.yml").write_text(
        GOOD
        + "batch: {records: 10, bytes: 99999999, in_flight: 9}\nspool: {max_bytes: lots, dir: /x}\n"
        + "metrics: {port: 9300}\n"
    )
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(tmp_path / "bad.yml")
    path = tmp_path / "bad.yml"
    assert sorted(caught.value.problems) == sorted(
        [
            f"{path}:9: batch: unknown option 'records' (known: events, bytes, in_flight)",
            f"{path}:9: batch.bytes: at most 8388608, got 99999999",
            f"{path}:9: batch.in_flight: at most 8, got 9",
            f"{path}:10: spool.max_bytes: expected a whole number >= 65536, got 'lots'",
            f"{path}:10: spool: unknown option 'dir' (known: max_bytes)",
            f"{path}:11: metrics: unknown option 'port' (known: address)",
        ]
    )
