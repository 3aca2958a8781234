"""Network sensor packets/s on a generated capture, against scapy full dissection of the same file.

    .venv/bin/python bench/sensor_pps.py [--packets 200000] [--dns-share 0.1] [--scapy-sample 20000]

The capture is mixed traffic: TCP connections (handshake, request, response, teardown: 8
packets), DNS lookups over UDP (query + answer) making up `--dns-share` of the packets, and a
port scan. Templates are built once with scapy and stamped with a new client address and port
per flow, so the sensor sees ~25k distinct connections. Scapy's full dissection
(`PcapReader`, every layer) runs on the first `--scapy-sample` packets only (at ~2.5k
packets/s the whole file would take minutes) and its rate is what is compared.
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapReader, RawPcapReader

from collectors.sensor.capture import read_pcap
from collectors.sensor.sensor import Sensor

CLIENT_IP_AT, CLIENT_PORT_TCP_AT = 26, 34  # offsets in an Ethernet + IPv4 (20 bytes) frame


def templates() -> tuple[list[tuple[bytes, bool]], list[tuple[bytes, bool]]]:
    """(frame, sent by the client) for one TCP connection and one DNS lookup."""

    def seg(from_client: bool, flags: str, data: bytes = b"") -> Packet:
        if from_client:
            p = Ether() / IP(src="10.0.0.1", dst="10.9.0.80") / TCP(sport=40000, dport=80, flags=flags)
        else:
            p = Ether() / IP(src="10.9.0.80", dst="10.0.0.1") / TCP(sport=80, dport=40000, flags=flags)
        return p / Raw(data) if data else p

    page = b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 600
    tcp = [seg(True, "S"), seg(False, "SA"), seg(True, "A"), seg(True, "PA", b"GET / HTTP/1.1\r\n\r\n")]
    tcp += [seg(False, "PA", page), seg(True, "FA"), seg(False, "FA"), seg(True, "A")]
    e = Ether()
    question = DNSQR(qname="www.example.vn")
    answer = DNSRR(rrname="www.example.vn", rdata="203.0.113.7")
    dns: list[Packet] = [
        e / IP(src="10.0.0.1", dst="10.9.0.53") / UDP(sport=40000, dport=53) / DNS(id=7, rd=1, qd=question),
        e
        / IP(src="10.9.0.53", dst="10.0.0.1")
        / UDP(sport=53, dport=40000)
        / DNS(id=7, qr=1, rd=1, ra=1, qd=question, an=answer),
    ]
    return [(bytes(p), p[IP].src == "10.0.0.1") for p in tcp], [
        (bytes(p), p[IP].src == "10.0.0.1") for p in dns
    ]


def stamp(frame: bytes, from_client: bool, flow: int) -> bytes:
    """The frame with the client's address 10.0.x.y and port set for this flow."""
    out = bytearray(frame)
    ip_at = CLIENT_IP_AT if from_client else CLIENT_IP_AT + 4
    out[ip_at + 2 : ip_at + 4] = struct.pack("!H", flow % 65000 + 1)
    port_at = CLIENT_PORT_TCP_AT if from_client else CLIENT_PORT_TCP_AT + 2
    out[port_at : port_at + 2] = struct.pack("!H", 1024 + flow % 60000)
    return bytes(out)


def make_pcap(path: Path, packets: int, dns_share: float) -> int:
    """Writes the capture; returns how many of its packets are DNS."""
    tcp, dns = templates()
    scan = bytes(Ether() / IP(src="10.66.0.6", dst="10.9.0.80") / TCP(sport=55555, dport=1, flags="S"))
    written = dns_packets = flow = 0
    ts = 1_700_000_000.0
    with path.open("wb") as f:
        f.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        while written < packets:
            flow += 1
            if flow % 100 == 0:  # a slow SYN scan woven through the traffic
                batch = [scan[:36] + struct.pack("!H", flow // 100 % 1000 + 1) + scan[38:]]
            elif dns_packets < dns_share * written:
                batch = [stamp(frame, side, flow) for frame, side in dns]
                dns_packets += len(batch)
            else:
                batch = [stamp(frame, side, flow) for frame, side in tcp]
            for frame in batch[: packets - written]:
                ts += 0.0001
                f.write(struct.pack("=IIII", int(ts), int(ts % 1 * 1e6), len(frame), len(frame)) + frame)
                written += 1
    return dns_packets


def rate(count: int, seconds: float) -> str:
    return f"{count:>8,} packets in {seconds:6.2f} s = {count / seconds:>10,.0f} packets/s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--dns-share", type=float, default=0.1)
    parser.add_argument("--scapy-sample", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mixed.pcap"
        dns_packets = make_pcap(path, args.packets, args.dns_share)
        print(
            f"capture: {path.stat().st_size:,} bytes, {args.packets:,} packets, {dns_packets:,} DNS packets"
        )

        start = time.perf_counter()
        raw = sum(1 for _ in RawPcapReader(str(path)))
        raw_s = time.perf_counter() - start

        sensor = Sensor()
        start = time.perf_counter()
        kinds: dict[str, int] = {}
        for ev in sensor.run(read_pcap(str(path))):
            kinds[ev["event"]["dataset"]] = kinds.get(ev["event"]["dataset"], 0) + 1
        sensor_s = time.perf_counter() - start

        start = time.perf_counter()
        dissected = 0
        with PcapReader(str(path)) as packets:
            for pkt in packets:
                pkt.summary()  # touch every layer so lazy fields are decoded
                dissected += 1
                if dissected >= args.scapy_sample:
                    break
        scapy_s = time.perf_counter() - start

    print(f"raw read (RawPcapReader)     {rate(raw, raw_s)}")
    print(f"sensor (events: {kinds})")
    print(f"sensor                       {rate(sensor.stats.packets, sensor_s)}")
    print(f"scapy full dissection        {rate(dissected, scapy_s)}")
    print(f"speed-up                     {(sensor.stats.packets / sensor_s) / (dissected / scapy_s):.1f}x")


if __name__ == "__main__":
    main()
