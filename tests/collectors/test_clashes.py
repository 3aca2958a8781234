"""`soc-collector validate` lists files, ports and directories claimed twice, with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors import settings
from collectors.cli import main

SINK = """sinks:
  engine: {type: opensearch, url: "https://engine:9200", api_key: abc}
"""


def write(path: Path, body: str, data_dir: str = "/var/lib/soc-collector") -> Path:
    path.write_text(f"data_dir: {data_dir}\nsources:\n{body}{SINK}")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(path)
    return caught.value.problems


def test_it_flags_two_sources_tailing_the_same_glob(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yml",
        "  a: {type: file, paths: [/var/log/auth.log*]}\n  b: {type: file, paths: [/var/log/auth.log*]}\n",
    )
    assert problems_of(path) == [f"{path}:4: sources.b reads the same files as sources.a ({path}:3)"]


def test_it_flags_a_glob_that_covers_another_sources_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yml",
        "  a: {type: file, paths: [/var/log/nginx/access.log]}\n"
        "  b: {type: file, paths: [/var/log/nginx/*.log]}\n",
    )
    assert problems_of(path) == [f"{path}:4: sources.b reads the same files as sources.a ({path}:3)"]


def test_it_flags_globs_that_meet_on_a_file_on_disk(tmp_path: Path) -> None:
    (tmp_path / "app-1.log").write_text("x\n")
    path = write(
        tmp_path / "c.yml",
        f"  a: {{type: file, paths: ['{tmp_path}/app-*.log']}}\n"
        f"  b: {{type: file, paths: ['{tmp_path}/*-1.log']}}\n",
    )
    assert problems_of(path) == [f"{path}:4: sources.b reads the same files as sources.a ({path}:3)"]


def test_it_accepts_sources_on_different_files_and_directories(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yml",
        "  a: {type: file, paths: [/var/log/auth.log*]}\n"
        "  b: {type: file, paths: [/var/log/nginx/*]}\n"
        "  c: {type: file, paths: ['/var/log/*.log']}\n",
    )
    assert settings.load(path).sources.keys() == {"a", "b", "c"}


def test_it_flags_two_listeners_on_one_port_including_a_wildcard_address(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yml",
        "  a: {type: syslog_udp, address: '0.0.0.0:514'}\n"
        "  b: {type: syslog_udp, address: '10.0.0.5:514'}\n"
        "  c: {type: syslog_tcp, address: '10.0.0.5:514'}\n"
        "  d: {type: syslog_tcp, address: '10.0.0.6:514'}\n",
    )
    assert problems_of(path) == [
        f"{path}:4: sources.b listens on the same UDP port as sources.a ({path}:3)"
    ]  # UDP and TCP on one port, or one port on two addresses, do not clash


def test_it_flags_the_metrics_port_taken_by_a_listener(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yml", "  a: {type: syslog_tcp, address: '127.0.0.1:9102'}\n")
    path.write_text(path.read_text() + "metrics:\n  address: 127.0.0.1:9102\n")
    assert problems_of(path) == [
        f"{path}:7: metrics.address listens on the same TCP port as sources.a ({path}:3)"
    ]


def test_it_flags_a_source_that_reads_the_collectors_own_spool(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yml",
        "  a: {type: file, paths: ['/var/lib/soc-collector/spool/*.log']}\n",
    )
    assert problems_of(path) == [
        f"{path}:3: sources.a reads the collector's own spool and checkpoints in data_dir ({path}:1)"
    ]


def test_it_flags_two_captures_of_one_interface_unless_their_filters_differ(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yml",
        "  a: {type: sniff, interface: eth0}\n"
        "  b: {type: sniff, interface: eth0}\n"
        "  c: {type: sniff, interface: eth1}\n",
    )
    assert problems_of(path) == [
        f"{path}:4: sources.b captures the same packets (same interface, overlapping filter) as "
        f"sources.a ({path}:3)"
    ]


def test_it_checks_several_collectors_against_each_other(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yml", "  web: {type: file, paths: [/var/log/nginx/access.log*]}\n")
    b = write(
        tmp_path / "b.yml",
        "  web: {type: file, paths: [/var/log/nginx/access.log.1]}\n"
        "  net: {type: syslog_udp, address: '0.0.0.0:514'}\n",
        data_dir="/var/lib/soc-collector/second",
    )
    result = CliRunner().invoke(main, ["validate", "--config", str(a), "--config", str(b)])
    assert result.exit_code == 1
    assert f"{b}:1: data_dir shares its spool and checkpoints with data_dir ({a}:1)" in result.output
    assert f"{b}:3: sources.web reads the same files as sources.web ({a}:3)" in result.output
    assert "Problems found: 2." in result.output


def test_it_validates_several_separate_collectors(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yml", "  web: {type: file, paths: [/var/log/nginx/access.log*]}\n")
    b = write(
        tmp_path / "b.yml", "  net: {type: syslog_udp, address: '0.0.0.0:514'}\n", data_dir="/var/lib/b"
    )
    result = CliRunner().invoke(main, ["validate", "--config", str(a), "--config", str(b)])
    assert result.exit_code == 0, result.output
    assert f"{a}: valid (sources: 1, sink 'engine')" in result.output
    assert f"{b}: valid (sources: 1, sink 'engine')" in result.output
