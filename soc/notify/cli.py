"""`soc oncall who|check`: who is on call now (or at a given time), and where coverage has gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from soc.db.notify import OncallOverride
from soc.db.session import make_engine, session_scope
from soc.errors import ConfigError
from soc.notify import oncall
from soc.notify.message import format_time
from soc.settings import Settings


def _config(settings: Settings, path: Path | None) -> oncall.OncallConfig:
    path = path or (Path(settings.oncall_file) if settings.oncall_file else settings.data_dir / "oncall.yml")
    if not path.exists():
        raise click.ClickException(f"{path}: no on-call file (set SOC_ONCALL_FILE or use --file)")
    try:
        return oncall.load(path)
    except ConfigError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc


def _overrides(settings: Settings, at: datetime) -> tuple[oncall.Override, ...]:
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(engine) as s:
            query = select(OncallOverride).where(OncallOverride.end_at > at).order_by(OncallOverride.id)
            rows = s.scalars(query)
            return tuple(oncall.Override(o.schedule, o.username, o.start_at, o.end_at) for o in rows)
    except SQLAlchemyError:
        click.echo("warning: overrides not read: the app database is not reachable or not migrated", err=True)
        return ()
    finally:
        engine.dispose()


@click.group("oncall")
def oncall_group() -> None:
    """On-call schedules: who is on call, and gaps in coverage."""


@oncall_group.command()
@click.option("--at", "at_text", help="ISO time (default: now), e.g. 2026-11-28T09:00+07:00.")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="On-call YAML.")
@click.pass_context
def who(ctx: click.Context, at_text: str | None, path: Path | None) -> None:
    """Who is on call for every schedule."""
    settings: Settings = ctx.obj["settings"]
    config = _config(settings, path)
    try:
        at = datetime.fromisoformat(at_text) if at_text else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO time: {at_text}", param_hint="--at") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=config.zone)
    overrides = _overrides(settings, at)
    click.echo(format_time(at, config.zone))
    for name, schedule in sorted(config.schedules.items()):
        person = schedule.who(at, overrides)
        click.echo(f"  {name}: {person or '— NOBODY (gap) / KHÔNG AI TRỰC'}")


@oncall_group.command()
@click.option("--days", default=14, show_default=True, help="How far ahead to look for gaps.")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="On-call YAML.")
@click.pass_context
def check(ctx: click.Context, days: int, path: Path | None) -> None:
    """Validate the on-call file and list coverage gaps; exits 1 when there is a gap."""
    settings: Settings = ctx.obj["settings"]
    config = _config(settings, path)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    overrides = _overrides(settings, now)
    found = False
    for name, schedule in sorted(config.schedules.items()):
        for start, end in schedule.gaps(now, now + timedelta(days=days), overrides):
            found = True
            click.echo(f"{name}: gap {format_time(start, config.zone)} → {format_time(end, config.zone)}")
    if found:
        raise SystemExit(1)
    click.echo(f"ok: every schedule is covered for the next {days} days")
