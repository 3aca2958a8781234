"""`soc-collector`: the agent run on agency servers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from collectors.ship import ShipError, ship

LANG = "vi" if os.environ.get("SOC_LANG", os.environ.get("LANG", "")).lower().startswith("vi") else "en"
TEXT = {
    "help": {
        "en": "SOC collector: ships an agency server's logs to the city SOC.",
        "vi": "Collector SOC: gửi nhật ký của máy chủ cơ quan về SOC thành phố.",
    },
    "ship": {
        "en": "Send an NDJSON file (or - for standard input) to the SOC's ingest endpoint.",
        "vi": "Gửi tệp NDJSON (hoặc - cho đầu vào chuẩn) tới điểm tiếp nhận của SOC.",
    },
    "done": {
        "en": "{lines} lines sent: {created} new, {duplicates} already stored, {rejected} rejected, "
        "{unparsed} kept unparsed.",
        "vi": "Đã gửi {lines} dòng: {created} mới, {duplicates} đã có, {rejected} bị từ chối, "
        "{unparsed} giữ nguyên dạng chưa phân tích.",
    },
    "no_token": {
        "en": "no token: give --token, --token-file or SOC_COLLECTOR_TOKEN",
        "vi": "thiếu token: dùng --token, --token-file hoặc SOC_COLLECTOR_TOKEN",
    },
}


def _t(key: str, **values: object) -> str:
    return TEXT[key][LANG].format(**values)


@click.group(help=_t("help"))
def main() -> None:
    pass


@main.command("ship", help=_t("ship"))
@click.argument("path", type=click.Path(allow_dash=True, dir_okay=False, path_type=Path))
@click.option(
    "--url", required=True, envvar="SOC_COLLECTOR_URL", help="SOC base URL, e.g. https://soc.example.vn"
)
@click.option("--token", envvar="SOC_COLLECTOR_TOKEN", help="Collector token (prefer --token-file).")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA bundle for the SOC's certificate."
)
@click.option("--batch-lines", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def ship_command(
    path: Path, url: str, token: str | None, token_file: Path | None, ca_file: str | None, batch_lines: int
) -> None:
    secret = token_file.read_text(encoding="utf-8").strip() if token_file else token
    if not secret:
        raise click.ClickException(_t("no_token"))
    try:
        if str(path) == "-":
            totals = ship(sys.stdin.buffer, url=url, token=secret, ca_file=ca_file, max_lines=batch_lines)
        else:
            with path.open("rb") as lines:
                totals = ship(lines, url=url, token=secret, ca_file=ca_file, max_lines=batch_lines)
    except (ShipError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in totals.problems:
        click.echo(f"{path}:{problem}", err=True)
    click.echo(
        _t(
            "done",
            lines=totals.lines,
            created=totals.created,
            duplicates=totals.duplicates,
            rejected=totals.rejected,
            unparsed=totals.unparsed,
        )
    )
