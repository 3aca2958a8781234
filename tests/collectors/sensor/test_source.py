"""The sensor as collector sources: records the parse transform keeps as they are, resumable."""

from __future__ import annotations

import ctypes.util
import threading
from pathlib import Path

import pytest

from collectors import settings
from collectors.checkpoints import Checkpoints
from collectors.parsers import make_context, parse_one, record
from collectors.sensor.source import PcapSource
from collectors.sources.base import Record
from tests.conftest import unavailable


def collect(source: PcapSource, checkpoints: Checkpoints) -> list[Record]:
    out: list[Record] = []
    source.run(out.extend, threading.Event(), checkpoints)
    return out


def test_it_hands_sensor_events_on_as_records_the_parser_keeps(shared_data: Path, tmp_path: Path) -> None:
    source = PcapSource(path=str(shared_data / "pcaps" / "tcpdump" / "dns_udp.pcap"))
    records = collect(source, Checkpoints.load(tmp_path / "checkpoints.json"))
    ctx = make_context("auto", path=None, host="sensor1", timezone="UTC", year=None)
    events = [parse_one(record(r.data, r.offset), ctx) for r in records]
    assert [e["event"]["dataset"] for e in events] == ["network.dns", "network.dns", "network.conn"]
    assert events[1]["dns"]["resolved_ip"] == ["192.139.46.66", "198.199.88.104"]
    assert events[0]["@timestamp"] == "2020-06-10T09:19:54.740Z"
    assert [r.offset for r in records] == [0, 1, 2]
    assert {r.checkpoint for r in records} == {source.identity()}


def test_it_resumes_after_the_events_already_durable(shared_data: Path, tmp_path: Path) -> None:
    source = PcapSource(path=str(shared_data / "pcaps" / "tcpdump" / "dns_udp.pcap"))
    checkpoints = Checkpoints.load(tmp_path / "checkpoints.json")
    first = collect(source, checkpoints)
    checkpoints.advance(source.identity(), 2)
    again = collect(source, checkpoints)
    assert [(r.source, r.offset, r.data) for r in again] == [(first[2].source, 2, first[2].data)]


def write_config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "collector.yml"
    path.write_text(
        f"data_dir: {tmp_path}\nsources:\n  net: {source}\n"
        "sinks:\n  soc: {type: soc, url: 'https://soc.example.vn'}\n"
    )
    return path


def test_it_reports_a_missing_capture_file(tmp_path: Path) -> None:
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(write_config(tmp_path, "{type: pcap, path: /nowhere.pcap}"))
    (problem,) = caught.value.problems
    assert problem.endswith("collector.yml:3: sources.net: capture file '/nowhere.pcap' does not exist")


def test_it_reports_an_invalid_bpf_filter_when_validating(tmp_path: Path) -> None:
    if ctypes.util.find_library("pcap") is None:
        unavailable("libpcap not installed (Debian: libpcap0.8)")
    with pytest.raises(settings.ConfigError) as caught:
        settings.load(write_config(tmp_path, "{type: sniff, interface: eth0, filter: 'udp prot 53'}"))
    (problem,) = caught.value.problems
    assert "collector.yml:3: sources.net: invalid BPF filter 'udp prot 53'" in problem


def test_it_accepts_a_valid_sniff_source(tmp_path: Path) -> None:
    if ctypes.util.find_library("pcap") is None:
        unavailable("libpcap not installed (Debian: libpcap0.8)")
    config = settings.load(write_config(tmp_path, "{type: sniff, interface: eth0, filter: 'udp port 53'}"))
    assert config.sources["net"].resources() == ["interface:eth0"]
