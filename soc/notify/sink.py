"""A local SMTP server (aiosmtpd, in-process) that keeps what it accepts: in memory and as .eml files.

The demo delivers its alert e-mails here and prints where to read them; tests use it as the real
SMTP server, with STARTTLS or implicit TLS, authentication, and failures on demand.
"""

from __future__ import annotations

import email
import re
import socket
import ssl
import threading
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.fail_with:
            return self.sink.fail_with
        raw = bytes(envelope.original_content or envelope.content)
        self.sink.keep(raw, list(envelope.rcpt_tos))
        return "250 2.0.0 OK: queued"


class MailSink:
    def __init__(
        self,
        directory: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.fail_with: str | None = None
        """An SMTP reply such as `451 4.3.0 try later` to answer every message with."""
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if login is not None:
            kwargs.update(authenticator=_authenticator(*login), auth_required=True)
        self._controller = Controller(
            _Handler(self), hostname=host, port=self.port, ssl_context=implicit_tls, **kwargs
        )

    def keep(self, raw: bytes, recipients: list[str]) -> None:
        message = email.message_from_bytes(raw, policy=default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append(recipients)
            n = len(self.messages)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(message.get("Message-ID", "")).strip("<>"))[:80]
            (self.directory / f"{n:04d}-{name}.eml").write_bytes(raw)

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _authenticator(username: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return check


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
