"""`soc retention show|apply`: what retention keeps and drops, from the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click

from soc.db import migrate
from soc.db.cli import actor, get_settings
from soc.db.session import make_engine
from soc.errors import ConfigError, SocError
from soc.store import open_store
from soc.store.retention import Decision, Policy, apply, plan


@click.group("retention")
def retention_group() -> None:
    """Per-dataset retention of events (settings retention_days and retention)."""


def _today(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected YYYY-MM-DD: {value!r}", param_hint="--today") from exc


@retention_group.command("show")
@click.option("--today", help="Pretend today is this UTC day (YYYY-MM-DD).")
@click.pass_context
def retention_show(ctx: click.Context, today: str | None) -> None:
    """Every dataset in the store: its days, the setting that decides, its oldest day, what expires."""
    settings = get_settings(ctx)
    try:
        policy = Policy.from_settings(settings)
        store = open_store(settings)
        try:
            decisions = plan(store, policy, _today(today))
        finally:
            store.close()
    except (SocError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not decisions:
        click.echo("No events stored yet.")
        return
    by_slug: dict[str, list[Decision]] = {}
    for d in decisions:
        by_slug.setdefault(d.partition.slug, []).append(d)
    click.echo(f"{'DATASET':<28} {'DAYS':>5}  {'SET BY':<28} {'OLDEST':<10}  {'PARTITIONS':>10}  EXPIRED")
    for slug, mine in sorted(by_slug.items()):
        first = mine[0]
        oldest = min(d.partition.day for d in mine).isoformat()
        expired = sum(1 for d in mine if d.expired)
        days = str(first.days) if first.days else "keep"
        click.echo(f"{slug:<28} {days:>5}  {first.rule:<28} {oldest:<10}  {len(mine):>10}  {expired}")


@retention_group.command("apply")
@click.option("--dry-run", is_flag=True, help="Only list the partitions that would be dropped.")
@click.option("--today", help="Pretend today is this UTC day (YYYY-MM-DD).")
@click.pass_context
def retention_apply(ctx: click.Context, dry_run: bool, today: str | None) -> None:
    """Drop the daily partitions older than each dataset's retention (audited)."""
    settings = get_settings(ctx)
    db = None
    try:
        policy = Policy.from_settings(settings)
        if not dry_run:
            url = settings.resolved_database_url
            if migrate.current(url) != migrate.head():
                raise click.ClickException("The database is not up to date: run `soc db upgrade` first.")
            db = make_engine(url)
        store = open_store(settings)
        try:
            outcomes = apply(store, policy, today=_today(today), dry_run=dry_run, db=db, actor=actor())
        finally:
            store.close()
    except (SocError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if db is not None:
            db.dispose()
    verb = "would drop" if dry_run else "dropped"
    for o in outcomes:
        click.echo(f"{o.dataset}: {verb} {len(o.partitions)} partition(s) before {o.cutoff}")
        for name in o.partitions:
            click.echo(f"  {name}")
    if not outcomes:
        click.echo("Nothing to drop.")
