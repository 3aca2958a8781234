"""`soc-collector`: the agent run on agency servers."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

# httpx imports its command-line tool (rich, pygments: ~5 MB resident) whenever they are installed;
# the agent never uses it and is meant to stay small on agency servers. httpx falls back to a stub.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import click  # noqa: E402
import orjson  # noqa: E402

from collectors import clashes, settings  # noqa: E402
from collectors.enroll import enroll_command  # noqa: E402
from collectors.parsers import FORMATS, parse_lines  # noqa: E402
from collectors.settings import CollectorConfig  # noqa: E402
from collectors.ship import ShipError, ship  # noqa: E402

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
    "parse": {
        "en": "Parse log files (or - for standard input) to ECS events and print them as NDJSON.",
        "vi": "Phân tích tệp nhật ký (hoặc - cho đầu vào chuẩn) thành sự kiện ECS và in ra dạng NDJSON.",
    },
    "parsed": {
        "en": "{path}: {events} events, {unparsed} not understood (kept with error.message).",
        "vi": "{path}: {events} sự kiện, {unparsed} dòng không hiểu (vẫn giữ, kèm error.message).",
    },
    "validate": {
        "en": "Check collector.yml files and list every problem with its file and line, including "
        "files, ports and data directories claimed twice.",
        "vi": "Kiểm tra các tệp collector.yml và liệt kê mọi lỗi kèm tệp và dòng, kể cả tệp, cổng và "
        "thư mục dữ liệu bị dùng hai lần.",
    },
    "valid": {
        "en": "{path}: valid (sources: {sources}, sink '{sink}').",
        "vi": "{path}: hợp lệ ({sources} nguồn, đích '{sink}').",
    },
    "invalid": {
        "en": "Problems found: {count}.",
        "vi": "Phát hiện {count} lỗi.",
    },
    "run": {
        "en": "Run the collector: read the sources, parse, spool to disk, deliver to the sink.",
        "vi": "Chạy collector: đọc các nguồn, phân tích, lưu đệm ra đĩa, gửi tới đích.",
    },
    "running": {
        "en": "Collector running: sources: {sources}, sink '{sink}'; Ctrl+C to stop.",
        "vi": "Collector đang chạy: {sources} nguồn tới đích '{sink}'; Ctrl+C để dừng.",
    },
    "pcap": {
        "en": "Run the network sensor on a capture file: DNS, connection and scan events as NDJSON.",
        "vi": "Chạy cảm biến mạng trên tệp bắt gói: sự kiện DNS, kết nối và quét cổng dạng NDJSON.",
    },
    "sensed": {
        "en": "{path}: {packets} packets, {events} events, {malformed} malformed packets, "
        "{dns_malformed} malformed DNS messages.",
        "vi": "{path}: {packets} gói, {events} sự kiện, {malformed} gói hỏng, "
        "{dns_malformed} thông điệp DNS hỏng.",
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


@main.command("parse", help=_t("parse"))
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--timezone", default="Asia/Ho_Chi_Minh", show_default=True, help="Zone of times without one.")
@click.option("--year", type=int, help="Year of the first year-less timestamp (default: inferred).")
@click.option("--host", help="host.name to record (default: the syslog header's host).")
@click.option("--quiet", is_flag=True, help="No per-file summary on standard error.")
def parse_command(
    paths: tuple[str, ...], fmt: str, timezone: str, year: int | None, host: str | None, quiet: bool
) -> None:
    out = sys.stdout.buffer
    for path in paths:
        events = unparsed = 0
        try:
            named = None if path == "-" else path
            for event in parse_lines(
                _read(path), fmt=fmt, path=named, host=host, timezone=timezone, year=year
            ):
                events += 1
                unparsed += "error" in event
                out.write(orjson.dumps(event) + b"\n")
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        out.flush()
        if not quiet:
            click.echo(_t("parsed", path=path, events=events, unparsed=unparsed), err=True)


def _read(path: str) -> Iterator[bytes]:
    if path == "-":
        yield from sys.stdin.buffer
        return
    with open(path, "rb") as f:
        yield from f


@main.command("pcap", help=_t("pcap"))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--quiet", is_flag=True, help="No summary on standard error.")
def pcap_command(path: str, quiet: bool) -> None:
    from collectors.sensor.capture import CaptureError, events
    from collectors.sensor.sensor import Sensor

    sensor = Sensor()
    out = sys.stdout.buffer
    count = 0
    try:
        for event in events(path, sensor):
            count += 1
            out.write(orjson.dumps(event) + b"\n")
    except CaptureError as exc:
        raise click.ClickException(str(exc)) from exc
    out.flush()
    if not quiet:
        s = sensor.stats
        click.echo(
            _t(
                "sensed",
                path=path,
                packets=s.packets,
                events=count,
                malformed=s.malformed,
                dns_malformed=s.dns_malformed,
            ),
            err=True,
        )


@main.command("validate", help=_t("validate"))
@click.option(
    "--config",
    "config_paths",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A collector.yml; repeat it for every collector on this server to check them against each other.",
)
def validate_command(config_paths: tuple[Path, ...]) -> None:
    problems: list[str] = []
    loaded: list[tuple[Path, CollectorConfig]] = []
    for path in config_paths:
        try:
            loaded.append((path, settings.load(path)))
        except settings.ConfigError as exc:
            problems += exc.problems
    problems += clashes.problems([claim for _, config in loaded for claim in config.claims])
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(_t("invalid", count=len(problems)))
    for path, config in loaded:
        click.echo(_t("valid", path=path, sources=len(config.sources), sink=config.sink_name))


@main.command("run", help=_t("run"))
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
def run_command(config_path: Path) -> None:
    from collectors.pipeline import Pipeline

    config = _load(config_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: one line per batch (10 a second under load) would bury the
    # collector's own lines (retries, pauses, a full spool); a failed request still raises, and the
    # pipeline logs that itself ("delivery failed, will retry")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _few_malloc_arenas()
    pipeline = Pipeline(config)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: pipeline.stop.set())
    click.echo(_t("running", sources=len(config.sources), sink=config.sink_name), err=True)
    pipeline.run()


main.add_command(enroll_command)


def _few_malloc_arenas() -> None:
    """Two malloc arenas instead of glibc's 8 per core: each sink and source thread otherwise gets
    its own, and the batches they free stay mapped in it (several MB of RSS per thread at 10k
    events/s). Must run before the threads start; a no-op where libc is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)
        libc.mallopt(M_MMAP_THRESHOLD, 256 << 10)
    except (OSError, AttributeError):
        pass


M_ARENA_MAX = -8  # glibc's malloc.h
M_MMAP_THRESHOLD = -3


def _load(path: Path) -> CollectorConfig:
    try:
        return settings.load(path)
    except settings.ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(_t("invalid", count=len(exc.problems))) from exc
