"""`soc engine start|stop|status|classpath`: run the local OpenSearch node from the command line."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType
from typing import IO, Any

import click

from soc.engine.launcher import STATE_FILE, Node, classpath, default_cache_dir
from soc.errors import EngineError

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "started": "Engine ready at {url} in {seconds:.1f} s (pid {pid}, RSS {rss_mb} MB).",
        "log": "Log: {log}",
        "foreground": "Running in the foreground; press Ctrl+C to stop.",
        "stopped": "Engine stopped (pid {pid}).",
        "not_running": "No engine is running from {home}.",
        "running": "Engine running at {url}: {status}, pid {pid}, RSS {rss_mb} MB, since {started_at}.",
        "classpath": "Engine classpath resolved: {jars} jars (cache: {cache}).",
        "error": "Error: {message}",
    },
    "vi": {
        "started": "Engine sẵn sàng tại {url} sau {seconds:.1f} giây (pid {pid}, RSS {rss_mb} MB).",
        "log": "Nhật ký: {log}",
        "foreground": "Đang chạy ở chế độ tiền cảnh; nhấn Ctrl+C để dừng.",
        "stopped": "Đã dừng engine (pid {pid}).",
        "not_running": "Không có engine nào đang chạy từ {home}.",
        "running": "Engine đang chạy tại {url}: {status}, pid {pid}, RSS {rss_mb} MB, từ {started_at}.",
        "classpath": "Đã phân giải classpath của engine: {jars} tệp jar (bộ đệm: {cache}).",
        "error": "Lỗi: {message}",
    },
}

HOME_HELP = (
    "Engine home (data, config, engine.log, engine.json). Default: $SOC_ENGINE_HOME or .soc-data/engine."
)


def message(key: str, **values: object) -> str:
    """`key` in the language chosen by SOC_LANG (en or vi), filled with `values`."""
    lang = os.environ.get("SOC_LANG", "en").strip().lower()
    return MESSAGES.get(lang, MESSAGES["en"])[key].format(**values)


def engine_home(option: Path | None) -> Path:
    return option or Path(os.environ.get("SOC_ENGINE_HOME") or ".soc-data/engine")


class EngineFailure(click.ClickException):
    """One clear line (Maven's own lines follow it), prefixed in the chosen language."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(message("error", message=self.format_message()), file=file, err=True)


def _fail(exc: EngineError) -> click.ClickException:
    return EngineFailure(str(exc))


@click.group("engine")
def engine_group() -> None:
    """Run the local OpenSearch node used for tests, demos and single hosts."""


@engine_group.command("start")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help=HOME_HELP)
@click.option("--port", type=click.IntRange(1, 9299), help="HTTP port on 127.0.0.1 (default: a free one).")
@click.option("--heap-mb", type=click.IntRange(128), default=512, show_default=True, help="Java heap.")
@click.option("--timeout", "timeout_s", type=float, default=120, show_default=True, help="Seconds to wait.")
@click.option("--foreground", is_flag=True, help="Stay attached; stop the engine on Ctrl+C or SIGTERM.")
def start(home: Path | None, port: int | None, heap_mb: int, timeout_s: float, foreground: bool) -> None:
    """Start the engine and wait until its cluster health is green or yellow."""
    try:
        node = Node.start(engine_home(home), port=port, heap_mb=heap_mb, timeout_s=timeout_s)
    except EngineError as exc:
        raise _fail(exc) from exc
    rss_mb = node.rss_bytes() // 2**20
    click.echo(
        message("started", url=node.url, seconds=node.start_seconds or 0.0, pid=node.pid, rss_mb=rss_mb)
    )
    click.echo(message("log", log=node.log_path))
    if not foreground:
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    click.echo(message("foreground"))
    try:
        node.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
        signal.signal(signal.SIGTERM, previous)
        click.echo(message("stopped", pid=node.pid))


@engine_group.command("stop")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help=HOME_HELP)
@click.option(
    "--timeout", "timeout_s", type=float, default=30, show_default=True, help="Seconds before SIGKILL."
)
def stop(home: Path | None, timeout_s: float) -> None:
    """Stop the engine recorded in the home's engine.json (SIGTERM, then SIGKILL)."""
    where = engine_home(home).resolve()
    # Not attach(): an engine that hangs while starting must be stoppable too.
    node = Node.find(where)
    if node is None:
        (where / STATE_FILE).unlink(missing_ok=True)  # stopping twice is not an error
        click.echo(message("not_running", home=where))
        return
    node.stop(timeout_s=timeout_s)
    click.echo(message("stopped", pid=node.pid))


@engine_group.command("status")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help=HOME_HELP)
def status(home: Path | None) -> None:
    """Show whether the engine runs and answers; exit 1 when it does not."""
    where = engine_home(home).resolve()
    node = Node.attach(where)
    if node is None:
        click.echo(message("not_running", home=where), err=True)
        raise SystemExit(1)
    try:
        health = node.health()
    except EngineError as exc:
        raise _fail(exc) from exc
    rss_mb = node.rss_bytes() // 2**20
    started_at = node.started_at.isoformat(timespec="seconds")
    click.echo(
        message(
            "running",
            url=node.url,
            status=health.get("status"),
            pid=node.pid,
            rss_mb=rss_mb,
            started_at=started_at,
        )
    )


@engine_group.command("classpath")
def classpath_command() -> None:
    """Resolve the engine's jars with Maven (once; later calls use the cache)."""
    cache = default_cache_dir()
    try:
        jars = classpath(cache)
    except EngineError as exc:
        raise _fail(exc) from exc
    click.echo(message("classpath", jars=len(jars.split(os.pathsep)), cache=cache))


@engine_group.command("bootstrap")
@click.option(
    "--agency", "agencies", multiple=True, help="Agency code; repeat. Default: every agency in the app DB."
)
@click.option(
    "--file-realm", "conf_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Write roles.yml, users and users_roles into this node config directory instead of calling the "
    "security API (repeat on every node).",
)  # fmt: skip
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the new credentials, one 0600 file each.",
)  # fmt: skip
@click.pass_context
def bootstrap_command(
    ctx: click.Context, agencies: tuple[str, ...], conf_dir: Path | None, out_dir: Path
) -> None:
    """Least privilege on Elasticsearch: index templates, a write-only role per agency, soc_reader,
    soc_service, and a credential per agency collector (the store settings must be an administrator)."""
    from soc.db.cli import get_settings
    from soc.engine import bootstrap
    from soc.errors import SocError
    from soc.store import open_store
    from soc.store.clients import connect

    settings = get_settings(ctx)
    if settings.store != "elasticsearch":
        raise EngineFailure(
            f"bootstrap supports store: elasticsearch only (this service uses {settings.store})"
        )
    codes = list(agencies) or _agency_codes(ctx)
    if not codes:
        raise EngineFailure("no agencies: add them with `soc agencies add` or give --agency")
    try:
        store = open_store(settings)  # installs the index templates
        store.close()
        if conf_dir is not None:
            creds = bootstrap.apply_files(conf_dir, settings.store_index_prefix, codes)
        else:
            engine = connect(settings)
            try:
                creds = bootstrap.apply_api(getattr(engine, "client"), settings.store_index_prefix, codes)  # noqa: B009
            finally:
                engine.close()
    except (SocError, OSError) as exc:
        raise EngineFailure(str(exc)) from exc
    except Exception as exc:  # the engine client's own errors (authorisation, connection)
        raise EngineFailure(f"{type(exc).__name__}: {exc}") from exc
    for path, cred in zip(bootstrap.write_credentials(out_dir, creds), creds, strict=True):
        who = cred.username or "API key"
        click.echo(f"{cred.role}: {who} -> {path}")


def _agency_codes(ctx: click.Context) -> list[str]:
    from soc.db import accounts
    from soc.db.cli import unit_of_work

    with unit_of_work(ctx) as (_, session):
        return [a.code for a in accounts.list_agencies(session)]
