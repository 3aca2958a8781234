"""`soc db|agencies|users|tokens|audit`: the app database from the command line.

The groups are registered by soc/cli.py. Each command reads the settings from the click context
when the main CLI has loaded them, else loads them itself, so the groups also work standalone.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from soc import settings as settings_mod
from soc.db import accounts, audit, migrate, tokens
from soc.db.session import make_engine, safe_url, session_scope
from soc.errors import ConfigError, SocError
from soc.settings import Settings

MESSAGES: dict[str, tuple[str, str]] = {  # key: (English, Vietnamese)
    "db.upgraded": ("Database {url} is at revision {rev}.", "Cơ sở dữ liệu {url} đang ở phiên bản {rev}."),
    "db.current": (
        "Database {url}: revision {rev} (newest: {head}).",
        "Cơ sở dữ liệu {url}: phiên bản {rev} (mới nhất: {head}).",
    ),
    "db.empty": ("none (empty database)", "chưa có (cơ sở dữ liệu trống)"),
    "db.outdated": (
        "The database is at revision {rev}, not {head}: run `soc db upgrade` first.",
        "Cơ sở dữ liệu đang ở phiên bản {rev}, chưa phải {head}: hãy chạy `soc db upgrade` trước.",
    ),
    "agency.added": ("Agency {code} added (id {id}).", "Đã thêm cơ quan {code} (id {id})."),
    "user.added": (
        "User {username} added with roles: {roles}.",
        "Đã thêm người dùng {username} với vai trò: {roles}.",
    ),
    "user.password": ("Password", "Mật khẩu"),
    "user.password_file": (
        "Cannot read the password file {path}: {error}",
        "Không đọc được tệp mật khẩu {path}: {error}",
    ),
    "role.bad": (
        "--role {spec}: expected ROLE or ROLE:AGENCY_CODE",
        "--role {spec}: cần dạng ROLE hoặc ROLE:MÃ_CƠ_QUAN",
    ),
    "none": ("none", "không có"),
    "empty": ("Nothing yet.", "Chưa có gì."),
    "token.created": (
        "Token {id} ({name}) created. Copy it now; it is not shown again:",
        "Đã tạo token {id} ({name}). Hãy sao chép ngay; token sẽ không hiển thị lại:",
    ),
    "token.revoked": ("Token {id} ({name}) revoked.", "Đã thu hồi token {id} ({name})."),
    "audit.ok": (
        "Audit log intact: {count} entries; latest hash {hash}.",
        "Nhật ký kiểm toán nguyên vẹn: {count} bản ghi; mã băm mới nhất {hash}.",
    ),
    "audit.bad": ("Audit log has {count} problem(s):", "Nhật ký kiểm toán có {count} vấn đề:"),
}


def msg(settings: Settings, key: str, **values: Any) -> str:
    english, vietnamese = MESSAGES[key]
    return (vietnamese if settings.lang == "vi" else english).format(**values)


def get_settings(ctx: click.Context) -> Settings:
    found = ctx.obj.get("settings") if isinstance(ctx.obj, dict) else None
    if isinstance(found, Settings):
        return found
    try:
        return settings_mod.load()
    except ConfigError as exc:
        raise click.ClickException("; ".join(exc.problems)) from exc


def actor() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = os.environ.get("USER", "unknown")
    return f"cli:{name}"


def _url(settings: Settings) -> str:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


@contextmanager
def unit_of_work(ctx: click.Context) -> Iterator[tuple[Settings, Session]]:
    """Settings and a session on an up-to-date database; service errors become one-line CLI errors."""
    settings = get_settings(ctx)
    url = _url(settings)
    try:
        rev, head = migrate.current(url), migrate.head()
        if rev != head:
            raise click.ClickException(
                msg(settings, "db.outdated", rev=rev or msg(settings, "none"), head=head)
            )
        engine = make_engine(url)
        try:
            with session_scope(engine) as session:
                yield settings, session
        finally:
            engine.dispose()
    except SocError as exc:
        raise click.ClickException(str(exc)) from exc


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else "-"


def _table(settings: Settings, header: list[str], body: list[list[str]]) -> None:
    if not body:
        click.echo(msg(settings, "empty"))
        return
    rows = [header, *body]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# --- soc db ---------------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """The app database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Revision to upgrade to.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or upgrade the database schema."""
    settings = get_settings(ctx)
    url = _url(settings)
    try:
        migrate.upgrade(url, revision)
        rev = migrate.current(url)
    except SocError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(msg(settings, "db.upgraded", url=safe_url(url), rev=rev or msg(settings, "db.empty")))


@db_group.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision of the database."""
    settings = get_settings(ctx)
    url = _url(settings)
    try:
        rev = migrate.current(url)
    except SocError as exc:
        raise click.ClickException(str(exc)) from exc
    empty = msg(settings, "db.empty")
    click.echo(msg(settings, "db.current", url=safe_url(url), rev=rev or empty, head=migrate.head()))


# --- soc agencies ---------------------------------------------------------------------------


@click.group("agencies")
def agencies_group() -> None:
    """Agencies whose systems the SOC monitors."""


@agencies_group.command("add")
@click.argument("code")
@click.argument("name")
@click.pass_context
def agencies_add(ctx: click.Context, code: str, name: str) -> None:
    """Add an agency: CODE (e.g. stttt) and its full NAME."""
    with unit_of_work(ctx) as (settings, session):
        agency = accounts.add_agency(session, code, name, actor())
        click.echo(msg(settings, "agency.added", code=agency.code, id=agency.id))


@agencies_group.command("list")
@click.pass_context
def agencies_list(ctx: click.Context) -> None:
    """List agencies."""
    with unit_of_work(ctx) as (settings, session):
        body = [[str(a.id), a.code, a.name] for a in accounts.list_agencies(session)]
        _table(settings, ["ID", "CODE", "NAME"], body)


# --- soc users ------------------------------------------------------------------------------


def _role_spec(settings: Settings, spec: str) -> tuple[str, str | None]:
    role, sep, code = spec.partition(":")
    if not role or (sep and not code):
        raise click.ClickException(msg(settings, "role.bad", spec=spec))
    return role, code or None


def _read_password(settings: Settings, path: Path | None) -> str:
    if path is None:
        password: str = click.prompt(
            msg(settings, "user.password"), hide_input=True, confirmation_prompt=True
        )
        return password
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise click.ClickException(
            msg(settings, "user.password_file", path=path, error=exc.strerror)
        ) from exc


@click.group("users")
def users_group() -> None:
    """People who use the SOC and their roles."""


@users_group.command("add")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--full-name", required=True)
@click.option("--role", "role_specs", multiple=True, help="ROLE or ROLE:AGENCY_CODE; repeat for more.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the password from this file instead of prompting.",
)
@click.option("--locale", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.pass_context
def users_add(
    ctx: click.Context,
    username: str,
    email: str,
    full_name: str,
    role_specs: tuple[str, ...],
    password_file: Path | None,
    locale: str,
) -> None:
    """Add a user with roles, e.g. --role soc_analyst --role agency_officer:stttt."""
    settings = get_settings(ctx)
    roles = [_role_spec(settings, spec) for spec in role_specs]
    password = _read_password(settings, password_file)
    with unit_of_work(ctx) as (settings, session):
        user = accounts.add_user(
            session,
            username=username,
            password=password,
            email=email,
            full_name=full_name,
            locale=locale,
            roles=roles,
            actor=actor(),
        )
        shown = ", ".join(_role_text(r, a) for r, a in accounts.roles_of(user)) or msg(settings, "none")
        click.echo(msg(settings, "user.added", username=user.username, roles=shown))


def _role_text(role: str, code: str | None) -> str:
    return f"{role}:{code}" if code else role


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List users and their roles."""
    with unit_of_work(ctx) as (settings, session):
        body = []
        for u in accounts.list_users(session):
            roles = ",".join(_role_text(r, a) for r, a in accounts.roles_of(u)) or "-"
            body.append([u.username, u.full_name, u.email, u.locale, "yes" if u.is_active else "no", roles])
        _table(settings, ["USERNAME", "FULL NAME", "EMAIL", "LOCALE", "ACTIVE", "ROLES"], body)


# --- soc tokens -----------------------------------------------------------------------------


@click.group("tokens")
def tokens_group() -> None:
    """Bearer tokens for collectors (one agency each) and the API."""


@tokens_group.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. the collector's host.")
@click.option("--kind", type=click.Choice(["collector", "api"]), required=True)
@click.option("--agency", "agency_code", help="Agency code; required for collector tokens.")
@click.option("--user", "username", help="User the API token acts for.")
@click.option("--scope", "scopes", multiple=True, help="A scope; repeat for more.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Expire after this many days.")
@click.pass_context
def tokens_create(
    ctx: click.Context,
    name: str,
    kind: str,
    agency_code: str | None,
    username: str | None,
    scopes: tuple[str, ...],
    expires_days: int | None,
) -> None:
    """Create a token and print it once, on stdout alone (the notice goes to stderr)."""
    with unit_of_work(ctx) as (settings, session):
        agency = accounts.require_agency(session, agency_code) if agency_code else None
        user = accounts.require_user(session, username) if username else None
        expires_at = datetime.now().astimezone() + timedelta(days=expires_days) if expires_days else None
        raw, token = tokens.create(
            session,
            name=name,
            kind=kind,
            agency_id=agency.id if agency else None,
            user_id=user.id if user else None,
            scopes=scopes,
            expires_at=expires_at,
            actor=actor(),
        )
        click.echo(msg(settings, "token.created", id=token.id, name=token.name), err=True)
        click.echo(raw)


@tokens_group.command("list")
@click.pass_context
def tokens_list(ctx: click.Context) -> None:
    """List tokens (never the tokens themselves: only their first characters)."""
    with unit_of_work(ctx) as (settings, session):
        body = []
        for t in tokens.list_tokens(session):
            status = "revoked" if t.revoked_at else "active"
            agency = t.agency.code if t.agency else "-"
            dates = [_when(t.created_at), _when(t.expires_at), _when(t.last_used_at)]
            body.append(
                [str(t.id), t.name, t.prefix + "…", t.kind, agency, ",".join(t.scopes) or "-", *dates, status]
            )
        header = [
            "ID",
            "NAME",
            "PREFIX",
            "KIND",
            "AGENCY",
            "SCOPES",
            "CREATED",
            "EXPIRES",
            "LAST USED",
            "STATUS",
        ]
        _table(settings, header, body)


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token by its ID (see `soc tokens list`)."""
    with unit_of_work(ctx) as (settings, session):
        token = tokens.revoke(session, token_id, actor())
        click.echo(msg(settings, "token.revoked", id=token.id, name=token.name))


# --- soc audit ------------------------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """The append-only audit log."""


@audit_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.pass_context
def audit_list(ctx: click.Context, limit: int) -> None:
    """Show the newest audit entries."""
    with unit_of_work(ctx) as (settings, session):
        body = []
        for e in audit.latest(session, limit=limit):
            agency = str(e.agency_id) if e.agency_id is not None else "-"
            at = e.at.strftime("%Y-%m-%d %H:%M:%S")
            body.append([str(e.id), at, e.actor, e.action, f"{e.target_type}:{e.target_id}", agency])
        _table(settings, ["ID", "AT (UTC)", "ACTOR", "ACTION", "TARGET", "AGENCY"], body)


@audit_group.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check the hash chain of the audit log; exits 1 when it is broken."""
    with unit_of_work(ctx) as (settings, session):
        problems = audit.verify_chain(session)
        if problems:
            click.echo(msg(settings, "audit.bad", count=len(problems)), err=True)
            for problem in problems:
                click.echo(f"  {problem}", err=True)
            ctx.exit(1)
        entries = audit.latest(session, limit=1)
        count = audit.count(session)
        last = entries[0].hash if entries else audit.GENESIS
        click.echo(msg(settings, "audit.ok", count=count, hash=last))
