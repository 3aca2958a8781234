"""syslog_udp and syslog_tcp on real sockets on 127.0.0.1: framing, TLS, senders, parsing."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors import settings as collector_settings
from collectors.parsers import make_context, parse_one, record
from collectors.sources.base import Record
from collectors.sources.syslog import Framer, SyslogRecord, SyslogTcpSource, SyslogUdpSource

RFC3164 = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"
RFC5424 = b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [ex@32473 iut="3"] An event'
SSHD = b"<38>1 2024-03-01T10:00:00Z web1 sshd 812 - - Failed password for root from 203.0.113.9 port 42 ssh2"


class Running:
    """A source running in its thread, collecting what it emits like the pipeline would."""

    def __init__(self, source: SyslogUdpSource | SyslogTcpSource) -> None:
        self.records: list[Record] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=source.run, args=(self.records.extend, self.stop), daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SyslogRecord]:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.records) >= count, self.records
        return [r for r in self.records if isinstance(r, SyslogRecord)]


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def udp() -> Iterator[tuple[Running, socket.socket]]:
    port = free_port(socket.SOCK_DGRAM)
    running = Running(SyslogUdpSource(address=f"127.0.0.1:{port}", max_message_bytes=1024))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(("127.0.0.1", port))
    while not running.records:  # datagrams sent before the bind are lost: probe until one arrives
        with contextlib.suppress(ConnectionRefusedError):  # "port unreachable" of an earlier probe
            client.send(b"<13>probe")
        time.sleep(0.02)
    running.records.clear()
    yield running, client
    running.stop.set()
    client.close()
    running.thread.join(2)


def tcp_source(tmp_path: Path | None = None, **options: str) -> tuple[Running, int]:
    port = free_port(socket.SOCK_STREAM)
    running = Running(SyslogTcpSource(address=f"127.0.0.1:{port}", max_message_bytes=1024, **options))  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return running, port
        except ConnectionRefusedError:
            time.sleep(0.02)
    raise AssertionError("listener did not start")


def send_in_pieces(sock: socket.socket | ssl.SSLSocket, data: bytes, size: int = 7) -> None:
    for at in range(0, len(data), size):  # odd pieces: frames must survive any split
        sock.sendall(data[at : at + size])
        time.sleep(0.001)


def test_it_receives_rfc3164_and_rfc5424_datagrams_with_their_sender(
    udp: tuple[Running, socket.socket],
) -> None:
    running, client = udp
    client.send(RFC3164 + b"\n")
    client.send(RFC5424)
    got = running.wait_for(2)
    assert [r.data for r in got] == [RFC3164, RFC5424]
    assert {r.sender for r in got} == {f"127.0.0.1:{client.getsockname()[1]}"}
    assert got[0].offset != got[1].offset
    assert got[0].source == got[1].source
    assert got[0].checkpoint is None


def test_it_flags_a_datagram_longer_than_the_limit(udp: tuple[Running, socket.socket]) -> None:
    running, client = udp
    client.send(b"<13>" + b"x" * 3000)
    (got,) = running.wait_for(1)
    assert len(got.data) == 1024
    assert got.flags == ("truncated",)


def test_it_keeps_an_octet_counted_message_cut_short_by_the_sender_closing() -> None:
    running, port = tcp_source()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"%d %s" % (len(RFC5424), RFC5424[:40]))
    (got,) = running.wait_for(1)
    running.stop.set()
    assert (got.data, got.flags) == (RFC5424[:40], ("truncated",))


def test_it_frames_tcp_messages_by_newline() -> None:
    running, port = tcp_source()
    with socket.create_connection(("127.0.0.1", port)) as s:
        send_in_pieces(s, RFC3164 + b"\n" + RFC5424 + b"\r\n" + b"<13>last without newline")
    got = running.wait_for(3)
    running.stop.set()
    assert [r.data for r in got] == [RFC3164, RFC5424, b"<13>last without newline"]
    assert got[1].offset == len(RFC3164) + 1


def test_it_frames_octet_counted_messages_even_with_newlines_inside() -> None:
    running, port = tcp_source()
    multi = b"<13>1 2024-01-01T00:00:00Z h app - - - line one\nline two"
    with socket.create_connection(("127.0.0.1", port)) as s:
        send_in_pieces(s, b"%d %s%d %s" % (len(multi), multi, len(SSHD), SSHD))
    got = running.wait_for(2)
    running.stop.set()
    assert [r.data for r in got] == [multi, SSHD]


def test_it_parses_network_records_like_file_records() -> None:
    running, port = tcp_source()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(RFC3164 + b"\n" + b"%d %s" % (len(SSHD), SSHD))
    got = running.wait_for(2)
    running.stop.set()
    ctx = make_context("auto", path=None, host=None, timezone="UTC", year=2024)
    events = [parse_one(record(r.data, r.offset, r.flags), ctx) for r in got]
    assert [e["event"]["dataset"] for e in events] == ["system.auth", "system.auth"]
    assert events[0]["host"]["hostname"] == "mymachine"
    assert events[1]["log"]["syslog"]["appname"] == "sshd"
    assert events[1]["source"]["ip"] == "203.0.113.9"  # the client in the message, not the sender


def test_it_accepts_tls_with_a_certificate_made_by_openssl(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    running, port = tcp_source(tls_cert_file=str(cert), tls_key_file=str(key))
    client = ssl.create_default_context(cafile=str(cert))
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        client.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        send_in_pieces(s, b"%d %s" % (len(RFC5424), RFC5424) + RFC3164 + b"\n", size=50)
        sender = f"127.0.0.1:{s.getsockname()[1]}"
        # closing before the listener has read resets the connection (the client never read
        # the TLS 1.3 session tickets), which would drop the unread tail
        got = running.wait_for(2)
    running.stop.set()
    assert [r.data for r in got] == [RFC5424, RFC3164]
    assert {r.sender for r in got} == {sender}


def test_it_reports_a_bad_address_and_half_a_tls_setup(tmp_path: Path) -> None:
    config = tmp_path / "collector.yml"
    config.write_text(
        "data_dir: /tmp/x\n"
        "sources:\n"
        "  udp: {type: syslog_udp, address: 'nowhere'}\n"
        "  tcp: {type: syslog_tcp, address: '127.0.0.1:6514', tls_cert_file: cert.pem}\n"
        "sinks:\n  soc: {type: soc, url: 'https://soc.example.vn', token_file: ''}\n"
    )
    with pytest.raises(collector_settings.ConfigError) as caught:
        collector_settings.load(config)
    text = "\n".join(caught.value.problems)
    assert "collector.yml:3: sources.udp: address must be host:port" in text
    assert "sources.tcp: TLS needs both tls_cert_file and tls_key_file" in text
    assert "sources.tcp: tls_cert_file 'cert.pem' does not exist" in text


messages = st.lists(
    st.binary(min_size=1, max_size=60).map(lambda b: b"<13>" + b.replace(b"\n", b" ").strip(b"\r\x00 ")),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(messages, st.lists(st.booleans(), min_size=8, max_size=8), st.integers(1, 40))
def test_it_frames_any_mix_of_framings_split_anywhere(
    msgs: list[bytes], counted: list[bool], piece: int
) -> None:
    framed = (b"%d %s" % (len(m), m) if c else m + b"\n" for m, c in zip(msgs, counted, strict=False))
    stream = b"".join(framed)
    framer = Framer(max_message_bytes=1024)
    out = []
    for at in range(0, len(stream), piece):
        out += framer.feed(stream[at : at + piece])
    out += framer.close()
    assert [m[2] for m in out] == [m.rstrip(b"\r\x00") for m in msgs]
    offsets = [m[0] for m in out]
    assert offsets[0] == 0
    assert offsets == sorted(set(offsets))
