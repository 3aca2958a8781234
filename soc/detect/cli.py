"""`soc rules check|convert|test` and `soc hunt`: thin commands over soc.detect."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import orjson

from soc.detect import cases
from soc.detect.check import check
from soc.detect.hunt import hunt_command
from soc.detect.model import Rule
from soc.detect.rules import load_rules
from soc.errors import SocError
from soc.settings import Settings
from soc.store.base import EventStore

TEXT: dict[str, dict[str, str]] = {
    "ok": {"en": "{n} rule files checked, no problems.", "vi": "Đã kiểm tra {n} tệp luật, không có lỗi."},
    "problems": {"en": "{n} problems.", "vi": "{n} lỗi."},
    "passed": {
        "en": "{rules} rules, {cases} cases passed on {backend}.",
        "vi": "{rules} luật, {cases} trường hợp đạt trên {backend}.",
    },
    "failed": {
        "en": "{n} failures on {backend}.",
        "vi": "{n} trường hợp không đạt trên {backend}.",
    },
    "not_found": {"en": "No rule in {path}.", "vi": "Không có luật nào trong {path}."},
}


def say(key: str, **values: Any) -> str:
    ctx = click.get_current_context(silent=True)
    settings = (ctx.find_root().obj or {}).get("settings") if ctx is not None else None
    lang = getattr(settings, "lang", None) or os.environ.get("SOC_LANG", "en")
    entry = TEXT[key]
    return (entry.get(lang) or entry["en"]).format(**values)


DEFAULT_RULES = Path("rules")
PATHS = click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))


@click.group("rules")
def rules_group() -> None:
    """Check, convert and test the Sigma rules."""


@rules_group.command("check")
@PATHS
def check_command(paths: tuple[Path, ...]) -> None:
    """Validate rules (pySigma validators and ours); print every problem as file:line."""
    from soc.detect.rules import rule_files

    chosen = list(paths) or [DEFAULT_RULES]
    problems = check(chosen)
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(say("problems", n=len(problems)), err=True)
        sys.exit(1)
    click.echo(say("ok", n=len(rule_files(chosen))))


@rules_group.command("convert")
@click.argument("rule", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--backend",
    type=click.Choice(["sqlite", "opensearch", "elasticsearch"]),
    default="sqlite",
    show_default=True,
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where referenced rules of a correlation are (default: ./rules).",
)
def convert_command(rule: Path, backend: str, rules_dir: Path | None) -> None:
    """Print a rule's query: the neutral tree (sqlite) or the search DSL (engines)."""
    extra = [rules_dir or DEFAULT_RULES]
    loaded, problems = load_rules([rule, *[p for p in extra if p.exists()]])
    wanted = rule.resolve()
    mine = [r for r in loaded if r.path.resolve() == wanted]
    own = [p for p in problems if Path(p.split(":", 1)[0]).resolve() == wanted]
    if own or not mine:
        for problem in own or [say("not_found", path=rule)]:
            click.echo(problem, err=True)
        sys.exit(2)
    for r in mine:
        click.echo(render(r, backend, {x.id: x for x in loaded}))


def render(rule: Rule, backend: str, everything: dict[str, Rule]) -> str:
    from soc.store import dsl

    if rule.correlation is not None:
        corr = rule.correlation
        head = (
            f"# {corr.type} over {corr.timespan}, group by {list(corr.group_by)}, "
            f"condition {corr.condition.op} {corr.condition.value}"
        )
        parts = [head] + [render(everything[r], backend, everything) for r in corr.rules]
        return "\n".join(parts)
    assert rule.query is not None
    if backend == "sqlite":
        return f"# datasets {list(rule.datasets or [])}\n{rule.query!r}"
    body = {"query": dsl.scoped(rule.query, None, None, rule.datasets)}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()


@rules_group.command("test")
@PATHS
@click.option(
    "--engine-url",
    envvar="SOC_TEST_OPENSEARCH_URL",
    help="Also run the cases on this OpenSearch node (default: $SOC_TEST_OPENSEARCH_URL).",
)
@click.option(
    "--on-store",
    is_flag=True,
    help="Also run the cases on the configured engine (SOC_STORE, SOC_STORE_URL, its API key or "
    "user and CA), in temporary soc-rules-test-* indices that are deleted afterwards.",
)
@click.pass_context
def test_command(ctx: click.Context, paths: tuple[Path, ...], engine_url: str | None, on_store: bool) -> None:
    """Run every rule's match / no-match cases on SQLite (and on OpenSearch or Elasticsearch when given)."""
    loaded, problems = load_rules(list(paths) or [DEFAULT_RULES])
    for problem in problems:
        click.echo(problem)
    failures = len(problems)
    targets: list[tuple[str, Settings | None]] = [("sqlite", None)]
    if engine_url:
        from soc import settings as settings_mod

        targets.append(
            ("opensearch", settings_mod.load(environ={}, store="opensearch", store_url=engine_url))
        )
    if on_store:
        configured: Settings = ctx.find_root().obj["settings"]
        if configured.store == "sqlite":
            raise click.UsageError(
                "--on-store needs SOC_STORE=opensearch or elasticsearch (and SOC_STORE_URL)"
            )
        targets.append((configured.store, configured))
    try:
        for backend, settings in targets:
            failures += run_cases(loaded, backend, settings)
    except SocError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    sys.exit(1 if failures else 0)


def run_cases(rules: list[Rule], backend: str, settings: Settings | None) -> int:
    """Run and print; returns the number of failures."""
    everything = {r.id: r for r in rules}
    with tempfile.TemporaryDirectory(prefix="soc-rules-test-") as tmp:
        store = open_test_store(Path(tmp), settings)
        try:
            results = cases.run(store, rules, everything)
        finally:
            close_test_store(store)
    failed = [f for r in results for f in r.failures]
    for failure in failed:
        click.echo(f"[{backend}] {failure}")
    total = sum(r.cases for r in results)
    if failed:
        click.echo(say("failed", n=len(failed), backend=backend), err=True)
    else:
        click.echo(say("passed", rules=len(results), cases=total, backend=backend))
    return len(failed)


def open_test_store(tmp: Path, settings: Settings | None) -> EventStore:
    """SQLite under `tmp` without settings; else the engine they name, under a prefix of its own."""
    prefix = f"soc-rules-test-{os.getpid()}"
    store: EventStore
    if settings is None:
        from soc.store.sqlite import SqliteStore

        store = SqliteStore(tmp / "events.db", prefix=prefix)
    else:
        from soc.store.clients import connect
        from soc.store.search import SearchStore

        store = SearchStore(connect(settings), prefix=prefix)
    store.ensure_schema()
    return store


def close_test_store(store: EventStore) -> None:
    from soc.store.search import SearchStore

    if isinstance(store, SearchStore):
        for pattern in (f"{store.prefix}-events-*", f"{store.prefix}-rejected-*"):
            for name in store.engine.indices(pattern):
                store.engine.delete_index(name)
    store.close()


__all__ = ["hunt_command", "rules_group"]
