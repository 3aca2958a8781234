"""`soc db|agencies|users|tokens|audit` through click's test runner, on SQLite."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from soc.db import migrate, tokens
from soc.db.cli import agencies_group, audit_group, db_group, tokens_group, users_group
from soc.db.session import make_engine, session_scope
from soc.settings import Settings

PASSWORD = "correct horse battery"


@click.group()
def soc() -> None:
    """Stands in for soc/cli.py, which registers the groups the same way."""


for group in (db_group, agencies_group, users_group, tokens_group, audit_group):
    soc.add_command(group)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def run(settings: Settings, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(soc, list(args), obj={"settings": settings}, input=stdin)


@pytest.fixture
def ready(settings: Settings) -> Settings:
    """Settings on a migrated database with agency stttt."""
    assert run(settings, "db", "upgrade").exit_code == 0
    assert run(settings, "agencies", "add", "stttt", "Sở Thông tin và Truyền thông").exit_code == 0
    return settings


def test_it_upgrades_and_reports_the_revision(settings: Settings) -> None:
    before = run(settings, "db", "current")
    upgraded = run(settings, "db", "upgrade")
    after = run(settings, "db", "current")

    assert "none (empty database)" in before.output
    assert upgraded.exit_code == 0, upgraded.output
    assert f"revision {migrate.head()}" in upgraded.output
    assert f"revision {migrate.head()} (newest: {migrate.head()})" in after.output
    assert (settings.data_dir / "soc.db").exists()


def test_it_loads_settings_itself_without_the_main_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOC_DATA_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("SOC_LANG", "vi")

    result = CliRunner().invoke(soc, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert "Cơ sở dữ liệu" in result.output
    assert (tmp_path / "own" / "soc.db").exists()


def test_it_speaks_vietnamese_when_asked(settings: Settings) -> None:
    result = run(Settings(data_dir=settings.data_dir, lang="vi"), "db", "upgrade")

    assert "Cơ sở dữ liệu" in result.output


def test_it_asks_for_an_upgrade_before_other_commands(settings: Settings) -> None:
    result = run(settings, "agencies", "list")

    assert result.exit_code == 1
    assert "run `soc db upgrade` first" in result.output


def test_it_adds_and_lists_agencies(ready: Settings) -> None:
    result = run(ready, "agencies", "list")

    assert result.exit_code == 0
    assert "stttt" in result.output
    assert "Sở Thông tin và Truyền thông" in result.output


def test_it_refuses_a_duplicate_agency_in_one_line(ready: Settings) -> None:
    result = run(ready, "agencies", "add", "stttt", "Khác")

    assert result.exit_code == 1
    assert result.output.strip() == "Error: agency 'stttt' already exists"


def test_it_adds_a_user_with_a_password_file(ready: Settings, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")

    added = run(
        ready, "users", "add", "officer_a", "--email", "a@stttt.gov.vn", "--full-name", "Trần Thị A",
        "--role", "agency_officer:stttt", "--role", "appraiser", "--password-file", str(secret),
    )  # fmt: skip
    listed = run(ready, "users", "list")

    assert added.exit_code == 0, added.output
    assert "agency_officer:stttt, appraiser" in added.output
    assert "officer_a" in listed.output
    assert "Trần Thị A" in listed.output


def test_it_prompts_for_a_hidden_confirmed_password(ready: Settings) -> None:
    result = run(
        ready, "users", "add", "analyst", "--email", "soc@hcm.gov.vn", "--full-name", "Lê Văn B",
        "--role", "soc_analyst", stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


def test_it_refuses_an_agency_officer_without_agency(ready: Settings, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)

    result = run(
        ready, "users", "add", "officer_a", "--email", "a@b.vn", "--full-name", "A",
        "--role", "agency_officer", "--password-file", str(secret),
    )  # fmt: skip

    assert result.exit_code == 1
    assert "role agency_officer needs an agency" in result.output


def test_it_prints_a_new_token_once_and_it_verifies(ready: Settings) -> None:
    created = run(ready, "tokens", "create", "--name", "web01", "--kind", "collector", "--agency", "stttt")
    listed = run(ready, "tokens", "list")

    assert created.exit_code == 0, created.output
    raw = created.stdout.strip()
    assert raw.startswith("soc_")
    assert "\n" not in raw
    assert "not shown again" in created.stderr
    assert raw not in listed.output
    assert raw[:8] in listed.output
    engine = make_engine(ready.resolved_database_url)
    with session_scope(engine) as session:
        info = tokens.verify(session, raw)
    engine.dispose()
    assert info is not None
    assert info.agency_code == "stttt"


def test_it_refuses_a_collector_token_without_agency(ready: Settings) -> None:
    result = run(ready, "tokens", "create", "--name", "web01", "--kind", "collector")

    assert result.exit_code == 1
    assert "collector token needs exactly one agency" in result.output


def test_it_revokes_a_token(ready: Settings) -> None:
    raw = run(
        ready, "tokens", "create", "--name", "siem", "--kind", "api", "--scope", "alerts:read"
    ).stdout.strip()

    revoked = run(ready, "tokens", "revoke", "1")
    again = run(ready, "tokens", "revoke", "1")

    assert revoked.exit_code == 0
    assert "Token 1 (siem) revoked." in revoked.output
    assert again.exit_code == 1
    assert "revoked" in run(ready, "tokens", "list").output
    engine = make_engine(ready.resolved_database_url)
    with session_scope(engine) as session:
        assert tokens.verify(session, raw) is None
    engine.dispose()


def test_it_lists_and_verifies_the_audit_log(ready: Settings) -> None:
    run(ready, "tokens", "create", "--name", "web01", "--kind", "collector", "--agency", "stttt")

    listed = run(ready, "audit", "list")
    verified = run(ready, "audit", "verify")

    assert "agency.create" in listed.output
    assert "token.create" in listed.output
    assert verified.exit_code == 0
    assert "Audit log intact: 2 entries" in verified.output


def test_it_fails_audit_verify_on_a_broken_chain(ready: Settings) -> None:
    engine = make_engine(ready.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_entries_no_update"))
        conn.execute(text("UPDATE audit_entries SET actor = 'x'"))
    engine.dispose()

    result = run(ready, "audit", "verify")

    assert result.exit_code == 1
    assert "audit entry 1: content does not match its hash (edited)" in result.output
