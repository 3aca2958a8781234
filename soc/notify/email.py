"""E-mail over SMTP: implicit TLS or required STARTTLS, verified certificates, multipart messages.

Certificate verification is on unless `verify=False` is configured, which is logged as a warning
on every connection. STARTTLS is required when chosen: a relay that does not offer it is refused,
never talked to in clear text. `plain` exists for local sinks (the demo, tests) and is warned
about when the host is not a loopback address.

Which failures are permanent: a 5xx answer to the message or its recipient (no such mailbox,
too large) cannot be fixed by retrying. Connection, TLS and login failures are temporary: an
operator fixes the relay or its certificate and the queued messages then go out.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import ClassVar

from soc.errors import NotifyError
from soc.notify.base import Outgoing
from soc.settings import Settings

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"tls": 465, "starttls": 587, "plain": 25}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 0
    security: str = "starttls"
    """tls, starttls or plain."""
    verify: bool = True
    ca_file: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_seconds: float = 30
    sender: str = "SOC <soc@localhost>"

    @classmethod
    def from_settings(cls, s: Settings) -> SmtpConfig:
        return cls(
            host=s.smtp_host,
            port=s.smtp_port,
            security=s.smtp_security,
            verify=s.smtp_verify,
            ca_file=s.smtp_ca_file,
            username=s.smtp_username,
            password=s.smtp_password,
            timeout_seconds=s.smtp_timeout_seconds,
            sender=s.smtp_from,
        )

    @property
    def resolved_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def domain(self) -> str:
        """The sender's domain, used on the right of Message-IDs."""
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"


def tls_context(config: SmtpConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.ca_file or None)
    if not config.verify:
        log.warning(
            "SMTP certificate verification is OFF (smtp_verify=false): anyone on the path can read "
            "and change alert e-mails; host=%s",
            config.host,
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_message(out: Outgoing, sender: str, *, now: datetime | None = None) -> Message:
    """multipart/alternative: text/plain first, then HTML; UTF-8; the subject RFC 2047-encoded.

    Built with the compat32 classes on purpose: the modern policy's header folder drops the space
    between two adjacent encoded words (a CPython bug), which garbles Vietnamese subjects.
    """
    msg = MIMEMultipart("alternative")
    name, address = parseaddr(sender)
    msg["From"] = formataddr((name, address), charset="utf-8")
    msg["To"] = out.recipient
    msg["Subject"] = Header(out.subject, "utf-8")  # type: ignore[assignment]  # typeshed: str only
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = out.message_id
    if out.in_reply_to:
        msg["In-Reply-To"] = out.in_reply_to
    if out.references:
        msg["References"] = " ".join(out.references)
    msg["Auto-Submitted"] = "auto-generated"
    if out.group_id:
        msg["X-SOC-Group"] = out.group_id
    msg.attach(MIMEText(out.text, "plain", "utf-8"))
    msg.attach(MIMEText(out.html, "html", "utf-8"))
    return msg


class Email:
    """Sends one message per connection; the outbox worker decides what to do with failures."""

    kind: ClassVar[str] = "email"

    def __init__(self, config: SmtpConfig) -> None:
        if config.security not in DEFAULT_PORTS:
            raise ValueError(f"unknown SMTP security '{config.security}'")
        self.config = config
        if config.security == "plain" and not _is_loopback(config.host):
            log.warning("SMTP without TLS to a non-local relay: host=%s", config.host)

    def send(self, message: Outgoing) -> None:
        c = self.config
        if not c.host:
            raise NotifyError("no SMTP relay configured (smtp_host)")
        msg = build_message(message, c.sender)
        where = f"{c.host}:{c.resolved_port}"
        try:
            with self._connect() as smtp:
                if c.username:
                    smtp.login(c.username, c.password)
                smtp.send_message(msg, from_addr=parseaddr(c.sender)[1], to_addrs=[message.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            raise NotifyError(
                f"{where} refused {message.recipient}: {code} {_text(reason)}", permanent=code >= 500
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"{where} refused the login: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:
            permanent = exc.smtp_code >= 500
            raise NotifyError(
                f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}", permanent=permanent
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise NotifyError(
                f"{where}: the relay's certificate did not verify: {exc.verify_message}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"{where}: {type(exc).__name__}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "tls":
            return smtplib.SMTP_SSL(
                c.host, c.resolved_port, timeout=c.timeout_seconds, context=tls_context(c)
            )
        smtp = smtplib.SMTP(c.host, c.resolved_port, timeout=c.timeout_seconds)
        try:
            smtp.ehlo()
            if c.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise NotifyError(
                        f"{c.host}:{c.resolved_port} does not offer STARTTLS; not sending in clear"
                    )
                smtp.starttls(context=tls_context(c))
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
