"""The raw-header fast path on frames scapy builds: VLAN tags, IPv6, Linux cooked captures."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether
from scapy.utils import wrpcap

from collectors.sensor.capture import events
from collectors.sensor.packets import ETHERNET, LINUX_SLL, decode

QUERY = DNS(id=99, rd=1, qd=DNSQR(qname="intranet.example.vn", qtype="AAAA"))


def test_it_reads_an_ipv6_dns_query_behind_a_vlan_tag_and_an_extension_header(tmp_path: Path) -> None:
    frame = Ether() / Dot1Q(vlan=12) / IPv6(src="2001:db8::5", dst="2001:db8::53") / IPv6ExtHdrDestOpt()
    path = tmp_path / "v6.pcap"
    wrpcap(str(path), [frame / UDP(sport=5353, dport=53) / QUERY])
    dns, conn = list(events(str(path)))
    assert (dns["source"]["ip"], dns["destination"]["ip"]) == ("2001:db8::5", "2001:db8::53")
    assert dns["dns"]["question"] == {"name": "intranet.example.vn", "type": "AAAA"}
    assert conn["network"]["transport"] == "udp"


def test_it_reads_linux_cooked_captures() -> None:
    frame = bytes(CookedLinux(proto=0x0800) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2))
    packet = decode(LINUX_SLL, frame, 5.0)
    assert packet is not None
    assert (packet.src, packet.dst, packet.sport, packet.dport) == ("10.0.0.1", "10.0.0.2", 1, 2)


def test_it_skips_frames_that_are_not_ip() -> None:
    assert decode(ETHERNET, bytes(Ether(type=0x0806) / (b"\x00" * 28)), 0.0) is None
