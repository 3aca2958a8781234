"""`soc collectors enroll|list|revoke`: collectors' credentials from the command line."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from soc.collect import enroll as service
from soc.db import accounts, tokens
from soc.db.cli import _table, actor, unit_of_work
from soc.db.models import utcnow


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else "-"


@click.group("collectors")
def collectors_group() -> None:
    """Collectors on agency servers: enrol, list, revoke."""


@collectors_group.command("enroll")
@click.option("--agency", "agency_code", required=True, help="Agency code the collector sends for.")
@click.option("--name", required=True, help="The server's host name (names its collector token).")
@click.option(
    "--ttl-minutes", type=click.IntRange(1, 7 * 24 * 60), default=60, show_default=True,
    help="How long the enrolment token can be redeemed.",
)  # fmt: skip
@click.option("--url", "soc_url", help="The SOC's public URL, to print the command for the server.")
@click.pass_context
def collectors_enroll(
    ctx: click.Context, agency_code: str, name: str, ttl_minutes: int, soc_url: str | None
) -> None:
    """Issue a one-time enrolment token (printed once, on stdout alone)."""
    with unit_of_work(ctx) as (settings, session):
        agency = accounts.require_agency(session, agency_code)
        raw, row = service.issue(
            session, agency, name=name, actor=actor(), ttl=timedelta(minutes=ttl_minutes)
        )
        url = soc_url or settings.base_url or "https://SOC"
        click.echo(
            f"Enrolment token {row.id} for {agency.code} ({row.name}), single use, expires "
            f"{row.expires_at:%Y-%m-%d %H:%M} UTC. On the server run:\n"
            f"  soc-collector enroll --url {url} --token-file FILE [--ca-file CA.pem]",
            err=True,
        )
        click.echo(raw)


@collectors_group.command("list")
@click.option("--agency", "agency_code", help="Only this agency's collectors.")
@click.pass_context
def collectors_list(ctx: click.Context, agency_code: str | None) -> None:
    """Collector credentials (and enrolment tokens not yet used)."""
    with unit_of_work(ctx) as (settings, session):
        agency = accounts.require_agency(session, agency_code) if agency_code else None
        now = utcnow()
        body = []
        for t in service.collectors(session, agency):
            expired = t.expires_at is not None and t.expires_at <= now
            status = "revoked" if t.revoked_at else "expired" if expired else "active"
            code = t.agency.code if t.agency else "-"
            body.append(
                [str(t.id), code, t.name, t.prefix + "…", _when(t.created_at), _when(t.last_used_at), status]
            )
        _table(settings, ["ID", "AGENCY", "NAME", "PREFIX", "CREATED", "LAST USED", "STATUS"], body)
        waiting = [e for e in service.pending(session, now) if agency is None or e.agency_id == agency.id]
        if waiting:
            click.echo("\nEnrolment tokens not used yet:")
            rows = [[str(e.id), e.agency.code, e.name, e.prefix + "…", _when(e.expires_at)] for e in waiting]
            _table(settings, ["ID", "AGENCY", "NAME", "PREFIX", "EXPIRES"], rows)


@collectors_group.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def collectors_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a collector's credential (see `soc collectors list`); its deliveries get 401 from then on."""
    with unit_of_work(ctx) as (_, session):
        found = [t for t in service.collectors(session) if t.id == token_id]
        if not found:
            raise click.ClickException(f"no collector credential with id {token_id}")
        token = tokens.revoke(session, token_id, actor())
        click.echo(
            f"Collector {token.id} ({token.name}, {token.agency.code if token.agency else '-'}) revoked."
        )
