"""Line in a watched file → alert e-mail in an SMTP sink: p50/p95 latency over 100 events, on OpenSearch.

    .venv/bin/python -m bench.e2e_latency [--events 100] [--spread 240] [--interval 60]
                                          [--group-wait 2s] [--url http://127.0.0.1:9200]

Everything is the real part, wired as `soc serve` wires it: a `soc-collector run` subprocess tails
a file (file source → syslog parser → `soc` sink) and posts to the service's `/api/v1/ingest`
(uvicorn + FastAPI in this process, event store on OpenSearch); the real Detector runs every
bundled rule as APScheduler jobs, every rule's interval set to `--interval`; the notification
runner (`soc.notify.runner.jobs_for`, woken by the detector when it writes alerts, and at the
moment a group's wait ends) decides and drains the outbox to an aiosmtpd sink over SMTP. The only
differences from `soc serve` are the rule interval (rules carry no interval of their own yet)
and an on-call file for the benchmark (below).

Each event is one `Accepted password for root` line (rule `ssh_root_login`, level high) with a
unique source port; lines are written one at a time at random moments spread over `--spread`
seconds, so their phase against the 60 s detection cycle is uniform. An event's latency is from
the moment its line was written (flushed) to the moment the sink accepted the first FIRING e-mail
of the alert group its alert was counted in. Groups are keyed by (rule, agency), so the on-call
file resolves a group 20 s after its last alert: each detection cycle then opens a new group and
pages, instead of folding later cycles into one thread that repeats every 4 h.

Without --url a local OpenSearch node (soc.engine.launcher) is started in a temporary home.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select

from soc.db import accounts, migrate, tokens
from soc.db.detection import Alert, RuleRun
from soc.db.notify import AlertGroup, AlertGroupMember
from soc.db.session import make_engine, session_scope
from soc.detect import windows
from soc.detect.rules import load_rules
from soc.detect.scheduler import Detector
from soc.notify.runner import jobs_for
from soc.notify.sink import MailSink, free_port
from soc.settings import Settings
from soc.web.app import create_app

ROOT_LOGIN = "15d80bef-440e-57bd-8feb-50484ebb4247"
"""Rule `ssh_root_login` (rules/linux/auth/ssh_root_login.yml), level high."""
AGENCY = "bench"
PORT_BASE = 40000
LINE = "{stamp} web1 sshd[4242]: Accepted password for root from 203.0.113.9 port {port} ssh2\n"


class TimedSink(MailSink):
    """The real sink, also noting when each message was accepted."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.received: list[tuple[float, str, str]] = []
        """(time.time() at acceptance, the group id in the subject, subject)."""

    def keep(self, raw: bytes, recipients: list[str]) -> None:
        at = time.time()
        super().keep(raw, recipients)
        message = self.messages[-1]
        subject = str(message.get("Subject", ""))
        group = re.search(r"ALR-\d{8}-[0-9A-F]+", subject)
        self.received.append((at, group.group(0) if group else "", subject))


class MissedRuns(logging.Handler):
    """Counts APScheduler's "Run time of job ... was missed" warnings (a skipped rule run)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "was missed by" in record.getMessage():
            self.count += 1


def oncall_yaml(group_wait: str) -> str:
    return f"""
group: {{wait: {group_wait}, repeat: 4h, resolve_after: 20s}}
policies:
  default:
    ack_timeout: 30m
    repeat: 0
    levels:
      - {{delay: 0m, targets: ["user:oncall"]}}
"""


def collector_yaml(work: Path, log: Path, url: str, token_file: Path) -> str:
    return f"""
data_dir: {work / "collector"}
host: web1
heartbeat_seconds: 0
sources:
  auth: {{type: file, paths: ["{log}"]}}
transforms:
  p: {{type: parse, inputs: [auth], format: syslog, timezone: UTC}}
sinks:
  soc: {{type: soc, url: "{url}", token_file: "{token_file}"}}
"""


def prepare(settings: Settings, token_file: Path) -> None:
    migrate.upgrade(settings.resolved_database_url)
    db = make_engine(settings.resolved_database_url)
    with session_scope(db) as s:
        agency = accounts.add_agency(s, AGENCY, "Benchmark agency", actor="bench")
        accounts.add_user(
            s, username="oncall", password=secrets.token_urlsafe(16), email="oncall@bench.example.vn",
            full_name="On call", locale="en", roles=[("oncall", None)], actor="bench",
        )  # fmt: skip
        raw, _ = tokens.create(
            s, name="bench collector", kind="collector", agency_id=agency.id, actor="bench"
        )
    token_file.write_text(raw, encoding="utf-8")
    db.dispose()


def write_events(log: Path, schedule: list[float], began: float) -> list[float]:
    """Append one line per scheduled offset; returns when each line was flushed (time.time())."""
    written: list[float] = []
    with log.open("a", encoding="utf-8") as f:
        for i, offset in enumerate(schedule):
            delay = began + offset - time.time()
            if delay > 0:
                time.sleep(delay)
            stamp = datetime.now(UTC).strftime("%b %d %H:%M:%S")
            f.write(LINE.format(stamp=stamp, port=PORT_BASE + i))
            f.flush()
            written.append(time.time())
    return written


def ingested_at(url: str, index: str, doc_id: str) -> float | None:
    r = httpx.get(f"{url}/{index}/_doc/{doc_id}", timeout=30)
    if r.status_code != 200:
        return None
    value = r.json()["_source"].get("event", {}).get("ingested")
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() if value else None


def measure(args: argparse.Namespace, url: str, work: Path) -> dict[str, Any]:
    missed = MissedRuns()
    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.addHandler(missed)
    scheduler_log.propagate = False
    sink = TimedSink(work / "mail")
    sink.start()
    port = free_port()
    settings = Settings(
        data_dir=work / "soc", store="opensearch", store_url=url, store_index_prefix="e2e",
        host="127.0.0.1", port=port, secret_key=secrets.token_urlsafe(32), smtp_host=sink.host,
        smtp_port=sink.port, smtp_security="plain", smtp_from="SOC <soc@bench.example.vn>",
        oncall_file=str(work / "oncall.yml"),
    )  # fmt: skip
    settings.data_dir.mkdir(parents=True)
    (work / "oncall.yml").write_text(oncall_yaml(args.group_wait), encoding="utf-8")
    token_file = work / "token"
    prepare(settings, token_file)

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    web = threading.Thread(target=server.run, name="bench-web", daemon=True)
    web.start()
    while not server.started:
        time.sleep(0.05)
    rules, problems = load_rules([settings.resolved_rules_dir])
    assert not problems, problems
    every = timedelta(seconds=args.interval)
    rules = [
        dataclasses.replace(r, interval=every) for r in rules if not args.rule or r.path.stem in args.rule
    ]
    detector = Detector(
        app.state.store,
        app.state.db,
        rules,
        timing=windows.Timing(settle=timedelta(seconds=settings.settle_seconds)),
    )
    notify = jobs_for(settings, app.state.db).start()
    detector.on_alerts.append(notify.wake)  # as `soc serve` wires them
    jobs = detector.schedule()

    log = work / "auth.log"
    log.touch()
    (work / "collector.yml").write_text(collector_yaml(work, log, f"http://127.0.0.1:{port}", token_file))
    collector = subprocess.Popen(
        [str(Path(sys.executable).parent / "soc-collector"), "run", "--config", str(work / "collector.yml")],
        stdout=subprocess.DEVNULL, stderr=open(work / "collector.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    rng = random.Random(args.seed)
    schedule = sorted(rng.uniform(0, args.spread) for _ in range(args.events))
    began = time.time() + 5  # the collector settles in
    try:
        written = write_events(log, schedule, began)
        print(
            f"wrote {len(written)} lines over {written[-1] - written[0]:.0f} s; waiting for mail", flush=True
        )
        deadline = time.time() + args.interval + 120 + _seconds(args.group_wait)
        while time.time() < deadline:
            if len(firing_by_event(app.state.db, sink)) >= args.events:
                break
            time.sleep(2)
        result = firing_by_event(app.state.db, sink)
        stages = stage_times(app.state.db, url, written)
        with session_scope(app.state.db) as s:
            runs = s.scalar(select(func.count()).select_from(RuleRun).where(RuleRun.rule_id == ROOT_LOGIN))
    finally:
        collector.terminate()
        collector.wait(30)
        jobs.stop()
        notify.stop()
        server.should_exit = True
        web.join(10)
        sink.stop()
        app.state.store.close()
    latencies = sorted(result[i] - written[i] for i in result)
    return {
        "latencies": latencies, "missing": args.events - len(latencies), "stages": stages,
        "mails": len(sink.received), "rules": len(rules), "runs": runs, "missed": missed.count,
    }  # fmt: skip


def _event_index(alert: Alert) -> int | None:
    for e in alert.events:
        m = re.search(r" port (\d+) ", str(e.get("original", "")))
        if m:
            return int(m.group(1)) - PORT_BASE
    return None


def firing_by_event(db: Any, sink: TimedSink) -> dict[int, float]:
    """Event number → when the first FIRING mail of its alert's group arrived."""
    first: dict[str, float] = {}
    for at, group, subject in list(sink.received):
        if "[FIRING" in subject and group not in first:
            first[group] = at
    out: dict[int, float] = {}
    with session_scope(db) as s:
        rows = s.execute(
            select(Alert, AlertGroup.public_id)
            .join(AlertGroupMember, AlertGroupMember.alert_id == Alert.id)
            .join(AlertGroup, AlertGroup.id == AlertGroupMember.group_id)
            .where(Alert.rule_id == ROOT_LOGIN)
        ).all()
        for alert, public_id in rows:
            i = _event_index(alert)
            if i is not None and public_id in first:
                out[i] = first[public_id]
    return out


def stage_times(db: Any, url: str, written: list[float]) -> dict[str, list[float]]:
    """Per event: line → event.ingested, → alert written, and the alert's detection window lag."""
    stages: dict[str, list[float]] = {"ingest": [], "detect": []}
    with session_scope(db) as s:
        for alert in s.scalars(select(Alert).where(Alert.rule_id == ROOT_LOGIN)):
            i = _event_index(alert)
            if i is None or not alert.events:
                continue
            ingested = ingested_at(url, str(alert.events[0]["index"]), str(alert.events[0]["id"]))
            if ingested is None:
                continue
            stages["ingest"].append(ingested - written[i])
            stages["detect"].append(alert.created_at.timestamp() - ingested)
    return stages


def _seconds(duration: str) -> float:
    value, unit = int(duration[:-1]), duration[-1]
    return value * {"s": 1, "m": 60, "h": 3600}[unit]


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--spread", type=float, default=240, help="seconds over which lines are written")
    parser.add_argument("--interval", type=int, default=60, help="rule interval, seconds")
    parser.add_argument("--group-wait", default="2s", help="on-call group.wait (the shipped default: 2s)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--rule", action="append", help="run only this bundled rule (file stem; repeatable); default: all"
    )
    parser.add_argument("--work", help="keep the data (collector, databases, mail) here for a look after")
    parser.add_argument("--url", help="an OpenSearch node to use instead of starting one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        node = None
        url = args.url
        if url is None:
            from soc.engine.launcher import Node

            node = Node.start(work / "engine", heap_mb=768)
            url = node.url
        try:
            out = measure(args, url, work)
        finally:
            if node is not None:
                node.stop()
    lat: list[float] = out["latencies"]
    goal = args.interval + 15
    if not lat:
        print(f"no event reached the sink (missing={out['missing']})")
        sys.exit(1)
    p50, p95 = statistics.median(lat), pct(lat, 0.95)
    print(
        f"events={args.events} delivered={len(lat)} missing={out['missing']} mails={out['mails']} "
        f"interval={args.interval}s group_wait={args.group_wait}"
    )
    print(
        f"rules scheduled={out['rules']} ssh_root_login runs={out['runs']} "
        f"skipped rule runs (APScheduler misfires)={out['missed']}"
    )
    print(f"latency p50={p50:.1f}s p95={p95:.1f}s min={lat[0]:.1f}s max={lat[-1]:.1f}s")
    for name, values in out["stages"].items():
        if values:
            print(f"  stage {name}: p50={statistics.median(values):.1f}s p95={pct(values, 0.95):.1f}s")
    print(f"goal p95 <= interval + 15 s = {goal} s; ratio p95/goal = {p95 / goal:.2f}")


if __name__ == "__main__":
    main()
