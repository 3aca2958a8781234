"""Real SMTP servers for the notification tests, and a CA the tests create (openssl CLI)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soc.notify.sink import MailSink
from tests.pki import make_pki


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    """The test CA: clients trust this."""
    server: ssl.SSLContext
    """Server context with a certificate for localhost/127.0.0.1 signed by the test CA."""
    stranger: ssl.SSLContext
    """Server context with a self-signed certificate nobody trusts."""


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = make_pki(tmp_path_factory.mktemp("pki"))
    return Pki(
        ca_file=d / "ca.pem",
        server=_server_context(d / "server.pem", d / "server.key"),
        stranger=_server_context(d / "other.pem", d / "other.key"),
    )


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    """A plain SMTP server on 127.0.0.1 that writes .eml files under tmp_path/mail."""
    with MailSink(tmp_path / "mail") as server:
        yield server


# The app-database fixtures (SQLite and a real PostgreSQL per test) from tests/soc/db.
from tests.soc.db.conftest import db_url, engine, postgres_admin_url, postgres_url  # noqa: E402, F401
