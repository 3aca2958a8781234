"""`soc`: one command line over the service (demo, serve, engine, database, accounts, tokens)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from soc import settings as settings_mod
from soc.collect.cli import collectors_group
from soc.db.cli import agencies_group, audit_group, db_group, tokens_group, users_group
from soc.detect.cli import hunt_command, rules_group
from soc.dossiers.cli import validate_command
from soc.engine.cli import engine_group
from soc.errors import ConfigError, SocError
from soc.i18n import t
from soc.notify.cli import oncall_group
from soc.store.cli import retention_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), help="YAML settings file (SOC_CONFIG)."
)
@click.option("--lang", type=click.Choice(["en", "vi"]), help="Language of messages (SOC_LANG).")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, lang: str | None, verbose: bool) -> None:
    """SOC monitoring service — Hệ thống giám sát an toàn thông tin.

    Start with `soc demo`; see `soc COMMAND --help` for each command.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        ctx.obj = {"settings": settings_mod.load(config, lang=lang)}
    except ConfigError as exc:
        language = lang or "en"
        click.echo(t("error.config", language), err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


@cli.command()
@click.option("--host", help="Address to listen on (SOC_HOST).")
@click.option("--port", type=int, help="Port to listen on (SOC_PORT).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the service: web UI, API and collector intake."""
    import uvicorn

    from soc.db import migrate
    from soc.detect.service import detector_for
    from soc.notify.runner import jobs_for
    from soc.store.retention import job_for as retention_job
    from soc.web.app import create_app

    os.umask(0o077)  # the databases, uploads and mail hold agencies' logs and credentials
    settings = ctx.obj["settings"]
    if not settings.secret_key:
        raise click.ClickException("SOC_SECRET_KEY (or SOC_SECRET_KEY_FILE) must be set for `soc serve`")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.resolved_database_url)
        app = create_app(settings)
        detector = detector_for(settings, app.state.store, app.state.db)
        notify_jobs = jobs_for(settings, app.state.db, registry=app.state.metrics.registry).start()
        detector.on_alerts.append(notify_jobs.wake)  # a new group's wait starts now, not a tick later
        jobs = detector.schedule()
        retention = retention_job(
            settings, app.state.store, app.state.db, registry=app.state.metrics.registry
        ).start()
    except ConfigError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc
    except SocError as exc:
        raise click.ClickException(str(exc)) from exc
    host = host or settings.host
    port = port or settings.port
    click.echo(t("serve.listening", settings.lang, url=f"http://{host}:{port}"))
    try:
        # Proxy headers are believed only from the configured proxies (uvicorn rewrites the client).
        proxies = settings.trusted_proxies.strip()
        uvicorn.run(
            app, host=host, port=port, log_level="warning",
            proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
        )  # fmt: skip
    finally:
        jobs.stop()
        notify_jobs.stop()
        retention.stop()


@cli.command()
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the demo keeps its data."
)
@click.option("--port", type=int, default=0, help="Port for the web service (0 = a free one).")
@click.option(
    "--exit", "exit_after", is_flag=True, help="Stop once the demo data is in (for scripts and CI)."
)
@click.pass_context
def demo(ctx: click.Context, data_dir: Path | None, port: int, exit_after: bool) -> None:
    """Run the whole service on the embedded default (SQLite) with a bundled attack scenario."""
    from soc.demo import run

    os.umask(0o077)
    try:
        run(ctx.obj["settings"], data_dir=data_dir, port=port, serve_forever=not exit_after)
    except SocError as exc:
        raise click.ClickException(str(exc)) from exc


for group in (
    engine_group,
    db_group,
    agencies_group,
    users_group,
    tokens_group,
    collectors_group,
    audit_group,
    rules_group,
    hunt_command,
    validate_command,
    oncall_group,
    retention_group,
):
    cli.add_command(group)


def main() -> None:
    cli(prog_name="soc")
