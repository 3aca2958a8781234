"""Real SMTP servers for the notification tests, and a CA the tests create (openssl CLI)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soc.notify.sink import MailSink


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    """The test CA: clients trust this."""
    server: ssl.SSLContext
    """Server context with a certificate for localhost/127.0.0.1 signed by the test CA."""
    stranger: ssl.SSLContext
    """Server context with a self-signed certificate nobody trusts."""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = [
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=SOC Test CA",
        *ca_ext,
        cwd=d,
    )
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d,
    )  # fmt: skip
    _openssl(
        "req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", cwd=d,
    )  # fmt: skip
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
