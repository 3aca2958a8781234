"""DNS events against Zeek's dns.log baselines and tcpdump's DNS captures, byte for byte inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collectors.sensor.capture import events

ZEEK_SETS = ["dns-txt-multiple", "dns-two-responses", "dns-zero-RRs", "dns-spf", "dns53"]


def zeek_rows(path: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in path.read_bytes().decode().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def dns_events(path: Path) -> list[dict[str, Any]]:
    return [e for e in events(str(path)) if e["event"]["dataset"] == "network.dns"]


def as_zeek(ev: dict[str, Any]) -> dict[str, str]:
    """Our response event in Zeek's columns (set-valued columns joined by commas, as Zeek writes)."""
    dns, flags = ev["dns"], ev["dns"]["header_flags"]
    answers = dns.get("answers", [])
    return {
        "id.orig_h": ev["source"]["ip"],
        "id.orig_p": str(ev["source"]["port"]),
        "id.resp_h": ev["destination"]["ip"],
        "id.resp_p": str(ev["destination"]["port"]),
        "proto": ev["network"]["transport"],
        "trans_id": str(dns["id"]),
        "query": dns["question"]["name"],
        "qtype_name": dns["question"]["type"],
        "rcode_name": dns["response_code"],
        **{flag: "T" if flag in flags else "F" for flag in ("AA", "TC", "RD", "RA")},
        "answers": ",".join(a["data"] for a in answers) or "-",
        "TTLs": ",".join(f"{a['ttl']:.6f}" for a in answers) or "-",
    }


def compared(row: dict[str, str], has_query: bool) -> list[str]:
    """The columns Zeek filled from the messages we compare with.

    Zeek takes RD from the query it matched (none when `qtype_name` is `-`) and AA/TC/RA only
    from a reply that carries answers; other rows hold its defaults, not the packet's bits.
    """
    columns = ["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id", "query"]
    columns += ["rcode_name", "answers", "TTLs"]
    if row["qtype_name"] != "-":
        columns.append("qtype_name")
    if has_query and row["qtype_name"] != "-":
        columns.append("RD")
    if row["answers"] != "-":
        columns += ["AA", "TC", "RA"]
    return columns


@pytest.mark.parametrize("name", ZEEK_SETS)
def test_it_agrees_with_zeek_dns_log(shared_data: Path, name: str) -> None:
    folder = shared_data / "pcaps" / "zeek"
    rows = zeek_rows(folder / f"{name}.dns.log")
    evs = dns_events(folder / f"{name}.pcap")
    queries = [e for e in evs if e["dns"]["type"] == "query"]
    answers = [e for e in evs if e["dns"]["type"] == "answer"]
    assert len(answers) == len(rows)
    for row, ev in zip(rows, answers, strict=True):
        ours = as_zeek(ev)
        if row["RD"] == "T" or (queries and row["qtype_name"] != "-"):
            ours["RD"] = "T" if "RD" in queries[0]["dns"]["header_flags"] else "F"
        for column in compared(row, bool(queries)):
            assert ours[column] == row[column], (name, column)


def test_it_tells_client_from_server_by_the_qr_flag(shared_data: Path) -> None:
    (reply,) = dns_events(shared_data / "pcaps" / "zeek" / "dns53.pcap")
    # the only packet goes 207.158.192.40:53 → 10.20.1.31:53 and is a response
    assert reply["dns"]["type"] == "answer"
    assert (reply["source"]["ip"], reply["destination"]["ip"]) == ("10.20.1.31", "207.158.192.40")


@pytest.mark.parametrize("name", ["dns_udp", "dns_tcp"])
def test_it_reports_one_query_and_one_answer_per_lookup(shared_data: Path, name: str) -> None:
    evs = dns_events(shared_data / "pcaps" / "tcpdump" / f"{name}.pcap")
    assert [e["dns"]["type"] for e in evs] == ["query", "answer"]
    assert evs[0]["dns"]["id"] == evs[1]["dns"]["id"]
    assert {e["dns"]["question"]["name"] for e in evs} == {"www.tcpdump.org"}
    assert evs[1]["dns"]["resolved_ip"] == ["192.139.46.66", "198.199.88.104"]
    assert evs[0]["network"]["transport"] == name.removeprefix("dns_")


def test_it_keeps_every_message_with_edns_options(shared_data: Path) -> None:
    evs = dns_events(shared_data / "pcaps" / "tcpdump" / "edns-opts.pcap")
    kinds = [e["dns"]["type"] for e in evs]
    assert (kinds.count("query"), kinds.count("answer")) == (21, 21)
    assert not [e for e in evs if "error" in e]
    assert {e["dns"]["question"]["name"] for e in evs} == {"example.com"}
