"""The scan indicator and connection summaries on captures written by scapy in the test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from collectors.sensor.capture import events

SCANNER, TARGET, CLIENT = "10.1.1.66", "10.1.2.10", "10.1.1.20"


def stamped(packets: Sequence[Packet], start: float = 1_700_000_000.0, step: float = 0.01) -> list[Packet]:
    for i, p in enumerate(packets):
        p.time = start + i * step
    return list(packets)


def handshake(client: str, server: str, sport: int, dport: int, data: bytes = b"") -> list[Packet]:
    """A whole TCP connection: SYN, SYN-ACK, ACK, optional data, FIN both ways, last ACK."""
    e = Ether()
    c, s = e / IP(src=client, dst=server), e / IP(src=server, dst=client)
    out = [c / TCP(sport=sport, dport=dport, flags="S", seq=100)]
    out.append(s / TCP(sport=dport, dport=sport, flags="SA"))
    out.append(c / TCP(sport=sport, dport=dport, flags="A", seq=101))
    if data:
        out += [c / TCP(sport=sport, dport=dport, flags="PA", seq=101) / Raw(data)]
        out += [s / TCP(sport=dport, dport=sport, flags="PA") / Raw(data * 2)]
    out += [c / TCP(sport=sport, dport=dport, flags="FA"), s / TCP(sport=dport, dport=sport, flags="FA")]
    return [*out, c / TCP(sport=sport, dport=dport, flags="A")]


def run(tmp_path: Path, packets: Sequence[Packet]) -> list[dict[str, Any]]:
    path = tmp_path / "capture.pcap"
    wrpcap(str(path), stamped(packets))
    return list(events(str(path)))


def of(evs: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    return [e for e in evs if e["event"]["dataset"] == dataset]


def test_it_flags_a_syn_scan_of_many_ports(tmp_path: Path) -> None:
    probes: list[Packet] = []
    for port in range(20, 60):
        probes.append(Ether() / IP(src=SCANNER, dst=TARGET) / TCP(sport=40000, dport=port, flags="S"))
        probes.append(Ether() / IP(src=TARGET, dst=SCANNER) / TCP(sport=port, dport=40000, flags="RA"))
    (alert,) = of(run(tmp_path, probes), "network.scan")
    assert alert["event"]["action"] == "port_scan"
    assert (alert["source"]["ip"], alert["destination"]["ip"]) == (SCANNER, TARGET)
    assert len(alert["network"]["scan"]["ports"]) == 15


def test_it_flags_one_port_probed_on_many_hosts(tmp_path: Path) -> None:
    probes = [
        Ether() / IP(src=SCANNER, dst=f"10.1.3.{i}") / UDP(sport=5000, dport=161) / Raw(b"x")
        for i in range(1, 30)
    ]
    (alert,) = of(run(tmp_path, probes), "network.scan")
    assert alert["event"]["action"] == "address_scan"
    assert alert["network"]["scan"]["ports"] == [161]


def test_it_does_not_flag_normal_traffic(tmp_path: Path) -> None:
    packets: list[Packet] = []
    for i in range(30):  # a client opening many connections to a few services
        packets += handshake(CLIENT, f"10.1.2.{i % 3 + 1}", 50000 + i, (80, 443, 8080)[i % 3], b"GET /")
    evs = run(tmp_path, packets)
    assert of(evs, "network.scan") == []
    assert len(of(evs, "network.conn")) == 30


def test_it_does_not_count_probes_older_than_the_window(tmp_path: Path) -> None:
    probe = Ether() / IP(src=SCANNER, dst=TARGET)
    probes = [probe / TCP(sport=40000, dport=p, flags="S") for p in range(1, 31)]
    path = tmp_path / "slow.pcap"
    wrpcap(str(path), stamped(probes, step=30.0))  # one probe every 30 s: ≤ 11 ports in any 5 min
    assert of(list(events(str(path))), "network.scan") == []


def test_it_summarises_a_closed_connection_like_zeek(tmp_path: Path) -> None:
    (conn,) = of(run(tmp_path, handshake(CLIENT, TARGET, 50123, 443, b"hello")), "network.conn")
    assert conn["zeek"]["conn"]["state"] == "SF"
    assert (conn["source"]["ip"], conn["source"]["port"]) == (CLIENT, 50123)
    assert (conn["destination"]["ip"], conn["destination"]["port"]) == (TARGET, 443)
    assert conn["network"]["transport"] == "tcp"
    assert (conn["source"]["packets"], conn["destination"]["packets"]) == (5, 3)
    assert conn["network"]["packets"] == 8
    assert conn["source"]["bytes"] == 4 * 40 + 45
    assert conn["destination"]["bytes"] == 2 * 40 + 50
    assert conn["event"]["duration"] == 70_000_000


def test_it_tells_rejected_from_unanswered_attempts(tmp_path: Path) -> None:
    e = Ether()
    packets = [
        e / IP(src=CLIENT, dst=TARGET) / TCP(sport=1111, dport=22, flags="S"),
        e / IP(src=TARGET, dst=CLIENT) / TCP(sport=22, dport=1111, flags="RA"),
        e / IP(src=CLIENT, dst=TARGET) / TCP(sport=2222, dport=23, flags="S"),
    ]
    conns = of(run(tmp_path, packets), "network.conn")
    states = {c["destination"]["port"]: c["zeek"]["conn"]["state"] for c in conns}
    assert states == {22: "REJ", 23: "S0"}


def test_it_forgets_sources_quiet_for_a_whole_window(tmp_path: Path) -> None:
    from collectors.sensor.packets import Packet as Seen
    from collectors.sensor.scan import ScanDetector

    scans = ScanDetector()
    for port in range(10):
        scans.add(Seen(1000.0, SCANNER, TARGET, "tcp", 40000, port, 40, b"", 2))
    scans.expire(1000.0 + 301)
    assert (scans._by_host, scans._by_port) == ({}, {})
