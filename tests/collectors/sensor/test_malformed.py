"""Hostile captures: the sensor neither crashes nor hangs, and marks what it could not read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from collectors.sensor.capture import read_pcap
from collectors.sensor.sensor import Sensor

MALFORMED = [
    "tcpdump/dns_fwdptr.pcap",
    "tcpdump/dns-zlip-1.pcap",
    "tcpdump/dns-zlip-2.pcap",
    "tcpdump/dns-zlip-3.pcap",
    "tcpdump/dns-badlabel.pcap",
    "zeek/dns-invalid-names.pcap",
]


@pytest.mark.parametrize("name", MALFORMED)
def test_it_survives_a_malformed_capture_within_a_timeout(shared_data: Path, name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "collectors", "pcap", "--quiet", str(shared_data / "pcaps" / name)],
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    for line in done.stdout.splitlines():
        ev = orjson.loads(line)
        if ev["event"]["dataset"] == "network.dns":
            assert "malformed" in ev["tags"]
            assert ev["error"]["message"]


def test_it_counts_truncated_headers_and_goes_on(shared_data: Path) -> None:
    frames = list(read_pcap(str(shared_data / "pcaps" / "tcpdump" / "dns_udp.pcap")))
    linktype, data, ts = frames[0]
    sensor = Sensor()
    cut = [(linktype, data[:20], ts), (linktype, data[:36], ts), (linktype, b"", ts), *frames]
    evs = list(sensor.run(cut))
    assert sensor.stats.malformed == 3
    assert [e["dns"]["type"] for e in evs if "dns" in e] == ["query", "answer"]


def test_it_marks_a_message_too_short_for_a_header() -> None:
    from collectors.sensor import dns
    from collectors.sensor.packets import Packet

    ev = dns.event(Packet(0.0, "10.0.0.1", "10.0.0.2", "udp", 5000, 53, 31, b""), b"\x12\x34\x01")
    assert ev["tags"] == ["malformed"]
