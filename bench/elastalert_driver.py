"""One ElastAlert2 detection cycle, run by bench/elastalert_compare.py with ElastAlert2's own python.

    /tmp/ea2/bin/python bench/elastalert_driver.py SPEC.json RESULT.json

Standard library plus `elastalert` only (it runs in the ElastAlert2 venv, not ours). SPEC holds
es_host, es_port, rules_folder, writeback_index, start and end (ISO, UTC). Builds an
`ElastAlerter` on a generated config.yaml in debug mode (matches go to the debug alerter, nothing
is written back to the node: our cycle does not persist its findings either), then calls
`run_rule(rule, end, start)` for every rule in turn, inside the same try/except as the
scheduler's `handle_rule_execution`, and times the whole loop. `buffer_time` is set to the whole
range so each rule runs one query (with its scroll pages) instead of many segments.

Per rule the result records the matches `run_rule` returned, the distinct event ids the rule
took in (`processed_hits`: for `type: any` every hit is one match), the first page's
`hits.total.value` (exact, since the search opens a scroll; ElastAlert2 keeps scrolling
`max_query_size` pages while its hit count is below it, at most `max_scrolling_count` pages), and
the errors ElastAlert2 logged while running it.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any


class Errors(logging.Handler):
    """Keeps the ERROR records ElastAlert2 logs (handle_error does not raise)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:300])


def config(spec: dict[str, Any], start: datetime, end: datetime) -> str:
    hours = int((end - start).total_seconds() // 3600) + 2
    lines = [
        f"rules_folder: {spec['rules_folder']}",
        f"es_host: {spec['es_host']}",
        f"es_port: {spec['es_port']}",
        "es_conn_timeout: 300",
        f"writeback_index: {spec['writeback_index']}",
        "run_every: {minutes: 5}",
        f"buffer_time: {{hours: {hours}}}",
        "alert_time_limit: {days: 2}",
        "disable_rules_on_error: false",
    ]
    return "\n".join(lines) + "\n"


def run(spec: dict[str, Any]) -> dict[str, Any]:
    from elastalert import elastalert as ea  # type: ignore[import-not-found]

    start = datetime.fromisoformat(spec["start"])
    end = datetime.fromisoformat(spec["end"])
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "config.yaml"
        path.write_text(config(spec, start, end))
        loaded = time.perf_counter()
        alerter = ea.ElastAlerter(["--config", str(path), "--debug", "--pin_rules"])
        loaded = time.perf_counter() - loaded
    # Debug mode logs every alert and skipped write at INFO: keep them off the terminal.
    logger = logging.getLogger("elastalert")
    logger.setLevel(logging.WARNING)
    errors = Errors()
    logger.addHandler(errors)
    rules: list[dict[str, Any]] = []
    began = time.perf_counter()
    for rule in alerter.rules:
        errors.messages = []
        alerter.thread_data.total_hits = 0
        one = time.perf_counter()
        matches = 0
        try:
            matches = alerter.run_rule(rule, end, start)
        except ea.EAException as exc:
            alerter.handle_error(f"Error running rule {rule['name']}: {exc}", {"rule": rule["name"]})
        except Exception as exc:
            alerter.handle_uncaught_exception(exc, rule)
        rules.append(
            {
                "name": rule["name"],
                "matches": int(matches),
                "total_hits": int(getattr(alerter.thread_data, "total_hits", 0)),
                "seconds": time.perf_counter() - one,
                "errors": list(errors.messages),
            }
        )
    cycle = time.perf_counter() - began
    for rule, out in zip(alerter.rules, rules, strict=True):
        out["ids"] = list(rule["processed_hits"])
    return {
        "load_seconds": loaded,
        "cycle_seconds": cycle,
        "max_query_size": alerter.max_query_size,
        "rules": rules,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(run(spec)))


if __name__ == "__main__":
    main()
