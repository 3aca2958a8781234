"""`soc demo` delivers its alert e-mails to a local SMTP sink and prints where to read them."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from click.testing import CliRunner

from soc.cli import cli


def test_it_writes_the_demo_alert_mails_as_eml_files_with_an_ack_link(tmp_path: Path) -> None:
    env = {"SOC_DATA_DIR": str(tmp_path / "data"), "SOC_CONFIG": None, "SOC_LANG": None}
    result = CliRunner().invoke(cli, ["demo", "--exit", "--data-dir", str(tmp_path / "demo")], env=env)

    assert result.exit_code == 0, result.output
    found = re.search(
        r"Alert e-mails: (\d+) delivered to the local SMTP sink, saved as \.eml files in (\S+)", result.output
    )
    assert found is not None
    files = sorted(Path(found.group(2)).glob("*.eml"))
    assert len(files) == int(found.group(1)) > 0
    assert re.search(
        r"Acknowledge link \(first e-mail\): http://127\.0\.0\.1:\d+/ack/ALR-\S+\?t=\S+", result.output
    )
    message = email.message_from_bytes(files[0].read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    assert str(message["Subject"]).startswith("[SOC][")
    assert "/ack/" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
