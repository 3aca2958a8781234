"""SMTP transport and message format against real aiosmtpd servers (plain, STARTTLS, implicit TLS)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from soc.errors import NotifyError
from soc.notify.base import Outgoing
from soc.notify.email import Email, SmtpConfig
from soc.notify.sink import MailSink, free_port
from tests.soc.notify.conftest import Pki

SENDER = "SOC Cần Thơ <soc@soc.example.vn>"


def outgoing(**changes: str) -> Outgoing:
    values = {
        "recipient": "an@example.vn",
        "subject": "[SOC][HIGH][FIRING:3] Đăng nhập SSH thất bại — Sở Y tế — ALR-1",
        "message_id": "<ALR-1.abc@soc.example.vn>",
        "text": "Cảnh báo mới: đăng nhập SSH thất bại nhiều lần",
        "html": "<p>Cảnh báo mới: <b>đăng nhập SSH</b></p>",
    }
    return Outgoing(**(values | changes))  # type: ignore[arg-type]


def config(sink: MailSink, **changes: object) -> SmtpConfig:
    base = SmtpConfig(host="127.0.0.1", port=sink.port, security="plain", sender=SENDER, timeout_seconds=5)
    return SmtpConfig(**(base.__dict__ | changes))


def test_it_delivers_multipart_utf8_over_plain_smtp(sink: MailSink) -> None:
    Email(config(sink)).send(outgoing(in_reply_to="<root@x>", references=("<root@x>",)))  # type: ignore[arg-type]

    [msg] = sink.messages
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content_charset() == "utf-8"
    assert "đăng nhập SSH thất bại" in text.get_content()
    assert msg["Subject"] == "[SOC][HIGH][FIRING:3] Đăng nhập SSH thất bại — Sở Y tế — ALR-1"
    assert msg["Message-ID"] == "<ALR-1.abc@soc.example.vn>"
    assert msg["In-Reply-To"] == "<root@x>"
    assert msg["References"] == "<root@x>"
    assert sink.envelopes == [["an@example.vn"]]


def test_it_encodes_a_vietnamese_subject_per_rfc_2047(sink: MailSink, tmp_path: object) -> None:
    Email(config(sink)).send(outgoing())

    assert sink.directory is not None
    [eml] = sink.directory.glob("*.eml")
    header = eml.read_bytes().split(b"\r\n\r\n")[0]
    assert b"Subject: =?utf-8?b?" in header
    assert header.isascii()


def test_it_delivers_over_required_starttls_with_a_ca_the_test_created(pki: Pki) -> None:
    with MailSink(starttls=pki.server, login=("soc", "s3cret")) as server:
        cfg = config(server, security="starttls", ca_file=str(pki.ca_file), username="soc", password="s3cret")
        Email(cfg).send(outgoing())

        assert len(server.messages) == 1


def test_it_delivers_over_implicit_tls(pki: Pki) -> None:
    with MailSink(implicit_tls=pki.server) as server:
        Email(config(server, security="tls", ca_file=str(pki.ca_file), host="localhost")).send(outgoing())

        assert len(server.messages) == 1


def test_it_refuses_a_relay_whose_certificate_does_not_verify(pki: Pki) -> None:
    with MailSink(starttls=pki.stranger) as server:
        with pytest.raises(NotifyError, match="certificate did not verify") as caught:
            Email(config(server, security="starttls", ca_file=str(pki.ca_file))).send(outgoing())

        assert server.messages == []
        assert caught.value.permanent is False


def test_it_refuses_to_send_in_clear_when_starttls_is_not_offered(sink: MailSink) -> None:
    with pytest.raises(NotifyError, match="does not offer STARTTLS"):
        Email(config(sink, security="starttls")).send(outgoing())

    assert sink.messages == []


def test_it_sends_unverified_only_when_told_and_warns(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    with MailSink(starttls=pki.stranger) as server, caplog.at_level(logging.WARNING):
        Email(config(server, security="starttls", verify=False)).send(outgoing())

        assert len(server.messages) == 1
    assert "verification is OFF" in caplog.text


def test_it_says_a_5xx_is_permanent_and_a_4xx_is_not(sink: MailSink) -> None:
    sink.fail_with = "550 5.1.1 no such mailbox"
    with pytest.raises(NotifyError) as permanent:
        Email(config(sink)).send(outgoing())
    sink.fail_with = "451 4.3.0 try again later"
    with pytest.raises(NotifyError) as temporary:
        Email(config(sink)).send(outgoing())

    assert permanent.value.permanent is True
    assert temporary.value.permanent is False


def test_it_reports_a_relay_that_is_down_as_temporary() -> None:
    cfg = SmtpConfig(host="127.0.0.1", port=free_port(), security="plain", timeout_seconds=2)
    with pytest.raises(NotifyError, match="Connection refused") as caught:
        Email(cfg).send(outgoing())

    assert caught.value.permanent is False


def test_it_formats_times_in_vietnam_with_offset_and_utc() -> None:
    from soc.notify.message import format_time

    at = datetime(2026, 11, 27, 14, 5, 3, tzinfo=UTC)

    assert format_time(at, ZoneInfo("Asia/Ho_Chi_Minh")) == "27/11/2026 21:05:03 +07:00 (14:05:03 UTC)"
