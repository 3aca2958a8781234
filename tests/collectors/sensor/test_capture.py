"""Capture inputs: the BPF filter is checked before a live capture starts; files read raw."""

from __future__ import annotations

import ctypes.util
from pathlib import Path

import pytest

from collectors.sensor.capture import CaptureError, read_pcap, validate_filter
from tests.conftest import unavailable


@pytest.fixture
def libpcap() -> None:
    if ctypes.util.find_library("pcap") is None:
        unavailable("libpcap not installed (Debian: libpcap0.8); scapy needs it to compile BPF")


@pytest.mark.usefixtures("libpcap")
def test_it_accepts_a_valid_bpf_filter() -> None:
    validate_filter("udp port 53 or (tcp and not port 22)")


@pytest.mark.usefixtures("libpcap")
def test_it_rejects_an_invalid_bpf_filter_before_capture_starts() -> None:
    with pytest.raises(CaptureError, match="invalid BPF filter 'udp prot 53'"):
        validate_filter("udp prot 53")


def test_it_refuses_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_bytes(b"not a capture at all\n")
    with pytest.raises(CaptureError, match="cannot read capture"):
        list(read_pcap(str(bogus)))


def test_it_reads_frames_with_their_capture_times(shared_data: Path) -> None:
    frames = list(read_pcap(str(shared_data / "pcaps" / "tcpdump" / "dns_tcp.pcap")))
    assert len(frames) == 11
    assert {linktype for linktype, _, _ in frames} == {1}
    assert frames[-1][2] == pytest.approx(1591780864.101256)
