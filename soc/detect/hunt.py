"""`soc hunt`: run the rules over log files offline, like Zircolite or Chainsaw for our sources.

Files are parsed by the collector's own parsers (format detected per line), loaded into a
temporary embedded store and every rule is evaluated over them, correlations included. Exit code:
0 no alerts, 1 alerts, 2 error.
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson

from soc import ecs
from soc.detect.evaluate import evaluate
from soc.detect.model import Finding, Rule
from soc.detect.rules import load_rules
from soc.errors import SocError
from soc.store.base import Window
from soc.store.sqlite import SqliteStore

BATCH = 5000
PROGRESS_BYTES = 2 * 1024 * 1024
"""Inputs larger than this show a progress bar (on a terminal)."""
INGESTED_AT = datetime(2000, 1, 1, tzinfo=UTC)
LEVEL_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}


def events_of(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    from collectors.parsers import parse_lines

    with path.open("rb") as handle:
        yield from parse_lines(handle, fmt=fmt, path=str(path))


def load(store: SqliteStore, files: list[Path], fmt: str, progress: bool) -> int:
    from rich.progress import Progress

    total = sum(f.stat().st_size for f in files)
    loaded = 0
    with Progress(transient=True, disable=not progress or total < PROGRESS_BYTES) as bar:
        task = bar.add_task("parse", total=total)
        for path in files:
            batch: list[dict[str, Any]] = []
            for event in events_of(path, fmt):
                batch.append(event)
                if len(batch) >= BATCH:
                    loaded += store.write(batch, agency="hunt", now=INGESTED_AT).created
                    bar.update(task, completed=_offset(batch[-1], bar, task))
                    batch = []
            loaded += store.write(batch, agency="hunt", now=INGESTED_AT).created
            bar.advance(task, 0)
    return loaded


def _offset(event: dict[str, Any], bar: Any, task: Any) -> int:
    done = int(bar.tasks[task].completed)
    offset = ecs.get(event, "log.offset")
    return max(done, int(offset)) if isinstance(offset, int) else done


def findings(store: SqliteStore, rules: list[Rule]) -> list[Finding]:
    window = Window(INGESTED_AT, INGESTED_AT + timedelta(seconds=1))
    everything = {r.id: r for r in rules}
    out = [f for rule in rules for f in evaluate(store, rule, window, rules=everything)]
    out.sort(key=lambda f: (LEVEL_ORDER.get(f.rule.level, 9), f.first_at, f.rule.title))
    return out


def as_record(f: Finding) -> dict[str, Any]:
    return {
        "rule": {"id": f.rule.id, "title": f.rule.title, "level": f.rule.level},
        "tags": list(f.rule.tags),
        "count": f.count,
        "first_at": ecs.format_time(f.first_at),
        "last_at": ecs.format_time(f.last_at),
        "group": {k: v for k, v in f.group},
        "events": [h.source for h in f.hits],
    }


def render(found: list[Finding], fmt: str) -> str:
    if fmt == "ndjson":
        return "".join(orjson.dumps(as_record(f), default=str).decode() + "\n" for f in found)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["rule.id", "rule.title", "rule.level", "tags", "count", "first_at", "last_at",
                         "group", "event.original"])  # fmt: skip
        for f in found:
            r = as_record(f)
            originals = [str(ecs.get(e, ecs.ORIGINAL) or e.get("message") or "") for e in r["events"]]
            writer.writerow([f.rule.id, f.rule.title, f.rule.level, ";".join(f.rule.tags), f.count,
                             r["first_at"], r["last_at"], orjson.dumps(r["group"], default=str).decode(),
                             "\n".join(originals)])  # fmt: skip
        return out.getvalue()
    return _table(found)


def _table(found: list[Finding]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("level", "rule", "count", "first seen (UTC)", "host", "detail"):
        table.add_column(column)
    for f in found:
        first = f.hits[0].source if f.hits else {}
        detail = ", ".join(f"{k}={v}" for k, v in f.group) or str(
            ecs.get(first, ecs.ORIGINAL) or ecs.get(first, "message") or ""
        )
        host = ecs.get(first, "host.name") or ecs.get(first, "host.hostname") or ""
        table.add_row(f.rule.level, f.rule.title, str(f.count), ecs.format_time(f.first_at), str(host),
                      detail[:120])  # fmt: skip
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(table)
    console.print(f"{len(found)} alerts")
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


@click.command("hunt")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--rules", "rules_dir", type=click.Path(exists=True, path_type=Path), default=Path("rules"),
              show_default=True, help="Rule files or directory.")  # fmt: skip
@click.option("--format", "out_format", type=click.Choice(["table", "ndjson", "csv"]), default="table",
              show_default=True)  # fmt: skip
@click.option("--input-format", "fmt", default="auto", show_default=True, help="Parser name, or auto.")
def hunt_command(files: tuple[Path, ...], rules_dir: Path, out_format: str, fmt: str) -> None:
    """Run the rules over log files offline and print the alerts (exit 1 when there are any)."""
    try:
        rules, problems = load_rules([rules_dir])
        for problem in problems:
            click.echo(f"warning: {problem}", err=True)
        if not rules:
            click.echo(f"error: no usable rule in {rules_dir}", err=True)
            sys.exit(2)
        with tempfile.TemporaryDirectory(prefix="soc-hunt-") as tmp:
            store = SqliteStore(Path(tmp) / "hunt.db", prefix="hunt")
            store.ensure_schema()
            try:
                load(store, list(files), fmt, progress=sys.stderr.isatty())
                found = findings(store, rules)
            finally:
                store.close()
    except (OSError, ValueError, SocError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(render(found, out_format), nl=False)
    sys.exit(1 if found else 0)
