"""`syslog_udp` and `syslog_tcp`: syslog received over the network, RFC 3164 or 5424.

The sources only frame messages; the `parse` transform recognises RFC 3164 and RFC 5424 (and the
programs inside them) as it does for files. Over TCP, senders frame either with a newline or by
octet counting (RFC 6587 `LEN SP MSG`); each message is framed by what it starts with, a digit
or not, so one listener serves both kinds of sender. TLS (RFC 5425) is on when a certificate
and key are configured. A message longer than `max_message_bytes` is cut and flagged
`truncated`, never dropped.

Network input cannot be re-read, so records carry no checkpoint; their identity is the listener,
the sender, and the start of the connection (or of the listener for UDP), with the byte offset
in the stream (the datagram number for UDP), so event ids never collide across restarts.
"""

from __future__ import annotations

import itertools
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

from collectors.checkpoints import Checkpoints
from collectors.sources.base import Emit, Record, Stop

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2
MAX_COUNT_DIGITS = 10


@dataclass(slots=True)
class SyslogRecord(Record):
    sender: str = ""
    """`ip:port` the message came from (ECS `log.source.address`, as Filebeat's syslog input)."""


def split_address(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` as a bind address; raises ValueError naming what is wrong."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"address must be host:port (e.g. 0.0.0.0:514), not {address!r}")
    return host.strip("[]"), int(port)


def _problems(address: str, cert: str = "", key: str = "") -> list[str]:
    out = []
    try:
        split_address(address)
    except ValueError as exc:
        out.append(str(exc))
    if bool(cert) != bool(key):
        out.append("TLS needs both tls_cert_file and tls_key_file")
    return out


def _peer(addr: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(address: str, kind: socket.SocketKind) -> socket.socket:
    host, port = split_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.settimeout(POLL_SECONDS)
    return sock


@dataclass(frozen=True)
class SyslogUdpSource:
    type: ClassVar[str] = "syslog_udp"
    pausable: ClassVar[bool] = False
    """Senders cannot be asked to wait: under an EPS cap the excess spills to the spool."""
    address: str
    """Where to listen, `host:port` (`0.0.0.0:514`, `[::]:514` for IPv6)."""
    max_message_bytes: int = 64 * 1024
    """Longer datagrams are cut to this size and flagged `truncated`."""
    batch_records: int = 500
    """Datagrams handed on at once when they arrive faster than they are spooled."""

    def resources(self) -> list[str]:
        return [f"udp:{self.address}"]

    def problems(self) -> list[str]:
        return _problems(self.address)

    def run(self, emit: Emit, stop: Stop, checkpoints: Checkpoints | None = None) -> None:
        with _bind(self.address, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # bursts while the spool syncs
            identity = f"syslog_udp:{self.address}:{time.time_ns()}"
            numbers = itertools.count()
            log.info("syslog listener started; transport=udp address=%s", self.address)
            while not stop.is_set():
                batch: list[Record] = []
                try:
                    while len(batch) < self.batch_records:
                        data, addr = sock.recvfrom(self.max_message_bytes + 1)
                        batch.append(self._record(identity, next(numbers), data, _peer(addr)))
                        sock.settimeout(0)  # drain what is queued, then hand it on
                except (TimeoutError, BlockingIOError):
                    pass
                finally:
                    sock.settimeout(POLL_SECONDS)
                if batch:
                    emit(batch)

    def _record(self, identity: str, number: int, data: bytes, sender: str) -> SyslogRecord:
        flags: tuple[str, ...] = ()
        if len(data) > self.max_message_bytes:
            data, flags = data[: self.max_message_bytes], ("truncated",)
        data = data.rstrip(b"\r\n\x00")
        return SyslogRecord(identity, number, number + 1, data, flags=flags, sender=sender)


@dataclass(frozen=True)
class SyslogTcpSource:
    type: ClassVar[str] = "syslog_tcp"
    pausable: ClassVar[bool] = False
    address: str
    """Where to listen, `host:port` (port 601 is syslog over TCP, 6514 over TLS)."""
    tls_cert_file: str = ""
    """PEM certificate (chain) of this listener; with `tls_key_file`, turns TLS on."""
    tls_key_file: str = ""
    """PEM private key of `tls_cert_file`."""
    max_message_bytes: int = 64 * 1024
    """Longer messages are cut to this size and flagged `truncated`."""
    max_connections: int = 256
    """Further connections are refused until one closes."""

    def resources(self) -> list[str]:
        return [f"tcp:{self.address}"]

    def problems(self) -> list[str]:
        return _problems(self.address, self.tls_cert_file, self.tls_key_file)

    def tls_context(self) -> ssl.SSLContext | None:
        if not (self.tls_cert_file or self.tls_key_file):
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        return context

    def run(self, emit: Emit, stop: Stop, checkpoints: Checkpoints | None = None) -> None:
        tls = self.tls_context()
        open_connections = threading.BoundedSemaphore(self.max_connections)
        with _bind(self.address, socket.SOCK_STREAM) as server:
            server.listen(64)
            log.info("syslog listener started; transport=tcp address=%s tls=%s", self.address, bool(tls))
            while not stop.is_set():
                try:
                    conn, addr = server.accept()
                except TimeoutError:
                    continue
                if not open_connections.acquire(blocking=False):
                    log.warning("syslog connection refused, too many open; sender=%s", _peer(addr))
                    conn.close()
                    continue
                args = (conn, _peer(addr), tls, emit, stop, open_connections)
                name = f"syslog-{_peer(addr)}"
                threading.Thread(target=self._serve, args=args, name=name, daemon=True).start()

    def _serve(
        self,
        conn: socket.socket,
        sender: str,
        tls: ssl.SSLContext | None,
        emit: Emit,
        stop: Stop,
        slots: threading.BoundedSemaphore,
    ) -> None:
        identity = f"syslog_tcp:{self.address}:{sender}:{time.time_ns()}"
        framer = Framer(self.max_message_bytes)
        try:
            conn.settimeout(10.0)
            stream = tls.wrap_socket(conn, server_side=True) if tls else conn
            stream.settimeout(POLL_SECONDS)
            while not stop.is_set():
                try:
                    chunk = stream.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                messages = framer.feed(chunk) if chunk else framer.close()
                if messages:
                    emit([SyslogRecord(identity, o, e, d, flags=f, sender=sender) for o, e, d, f in messages])
                if not chunk:
                    break
        except (OSError, ssl.SSLError) as exc:
            log.warning("syslog connection failed; sender=%s error=%s", sender, exc)
        finally:
            conn.close()
            slots.release()


Message = tuple[int, int, bytes, tuple[str, ...]]
"""(offset of the frame, offset after it, message, flags)."""


@dataclass
class Framer:
    """RFC 6587 framing of one TCP stream: octet counting (`LEN SP MSG`) or a trailing LF.

    Each message is framed by its first byte: a digit starts an octet count (RFC 3164 and 5424
    messages start with `<`), anything else runs to the next LF.
    """

    max_message_bytes: int
    buffer: bytearray = field(default_factory=bytearray)
    offset: int = 0
    """Stream offset of `buffer[0]`."""
    skipping: int = 0
    """Bytes still to discard from an octet-counted message cut at `max_message_bytes`."""
    skip_line: bool = False
    """Discarding the rest of a newline-framed message cut at `max_message_bytes`."""

    def feed(self, chunk: bytes) -> list[Message]:
        self.buffer += chunk
        out: list[Message] = []
        while True:
            if self.skipping:
                dropped = min(self.skipping, len(self.buffer))
                self._consume(dropped)
                self.skipping -= dropped
                if self.skipping:
                    return out
            if self.skip_line:
                end = self.buffer.find(b"\n")
                self._consume(len(self.buffer) if end < 0 else end + 1)
                if end < 0:
                    return out
                self.skip_line = False
            message = self._next()
            if message is None:
                return out
            out.append(message)

    def close(self) -> list[Message]:
        """The last message of a stream that ended without its LF."""
        out = self.feed(b"")
        if self.buffer.strip(b"\r\n\x00 "):
            start, data = self.offset, bytes(self.buffer)
            self._consume(len(self.buffer))
            count, space, body = data.partition(b" ")
            cut = bool(space) and count.isdigit() and len(count) <= MAX_COUNT_DIGITS
            out.append(self._message(start, self.offset, body if cut else data, truncated=cut))
        return out

    def _next(self) -> Message | None:
        buf = self.buffer
        while buf and buf[0] in (0x0A, 0x0D, 0x00):  # stray separators between frames
            self._consume(1)
        if not buf:
            return None
        if buf[:1].isdigit():
            space = buf.find(b" ", 0, MAX_COUNT_DIGITS + 1)
            if space > 0 and buf[:space].isdigit():
                size = int(buf[:space])
                start, body = self.offset, space + 1
                if len(buf) >= body + size:
                    data = bytes(buf[body : body + size])
                    self._consume(body + size)
                    return self._message(start, self.offset, data)
                if len(buf) - body < self.max_message_bytes:
                    return None
                data = bytes(buf[body : body + self.max_message_bytes])
                self._consume(len(buf))
                self.skipping = body + size - (self.offset - start)
                return self._message(start, start + body + size, data, truncated=True)
            if space < 0 and len(buf) <= MAX_COUNT_DIGITS and buf.isdigit():
                return None  # the count itself is still arriving
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) <= self.max_message_bytes:
                return None
            start, data = self.offset, bytes(buf[: self.max_message_bytes])
            self._consume(len(buf))
            self.skip_line = True
            return self._message(start, self.offset, data, truncated=True)
        start, data = self.offset, bytes(buf[:end])
        self._consume(end + 1)
        return self._message(start, self.offset, data)

    def _consume(self, size: int) -> None:
        del self.buffer[:size]
        self.offset += size

    def _message(self, start: int, end: int, data: bytes, truncated: bool = False) -> Message:
        return start, end, data.rstrip(b"\r\n\x00"), ("truncated",) if truncated else ()
