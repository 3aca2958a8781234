"""File → OpenSearch: soc-collector vs rsyslog (raw and parsing) vs the raw `_bulk` ceiling.

    .venv/bin/python -m bench.rsyslog_compare [--lines 200000] [--rounds 2] [--peer raw|parsed|both]
                                              [--rss-seconds 30] [--rss-rate 10000]
                                              [--url http://127.0.0.1:9200] [--only throughput|rss]
                                              [--ceiling-workers 2] [--rsyslog-workers 1]
                                              [--pin] [--node-pid PID]

Needs Debian's `rsyslog` and `rsyslog-elasticsearch` (`rsyslogd` on PATH; mmnormalize and
liblognorm5 come with `rsyslog`). Without --url it starts a local node (soc.engine.launcher, 1 GiB
heap) in a temporary home and stops it after.

Every round writes the same file of sshd lines into fresh indices and deletes them after; each
prefix first gets the service's events index template (soc.store.dsl, as `soc serve` installs it
in production: keywords, typed ECS fields, no replica), so the engine does the same per-field
work it does for the service:
- ceiling: the collector's own `_bulk` requests, byte for byte (its parse, ids, index names and
  request bodies, the collector's default batch size), built before the clock starts and posted
  as many at a time as the collector keeps in flight (`--ceiling-workers`): the engine's rate
  with no shipper work;
- rsyslog-raw: `rsyslogd -n` with a private rsyslog.conf and work directory (not the system
  daemon): imfile (inotify, syslog header parsed) → omelasticsearch, bulk mode, create with `_id` =
  file + offset, a 2,000-message dequeue batch, an in-memory queue; its documents carry
  @timestamp, message, event.original, host.name, log.file.path, event.dataset (no ECS parsing);
- rsyslog-parsed: the same input, queue and output, but mmnormalize parses each line with a
  liblognorm v2 rulebase written here (syslog header, then the sshd message) and a list template
  writes the same ECS fields as the collector's document (same names, same count, nested the same
  way; parsed values where rsyslog has them, the collector's constants otherwise). Lines the
  rulebase does not parse are still shipped, as the raw document: the share parsed is reported;
- collector: `python -m collectors run` on a collector.yml with the file source, the syslog/sshd
  parser to ECS, the fsynced disk spool and the opensearch sink.
Rates run from process start until the node has indexed the line count (its indexing counter, polled
every 0.1 s, without `_refresh`: see until_stored), so start-up and the last partial batch are
included for every shipper. Unreported ceiling passes warm the node first until its rate settles,
and the order of the four rotates from round to round (a cold node and the machine's other load
otherwise favour whoever runs later). The first round prints one stored document per shipper (the
file's first line) so they can be compared. When the node's pid is known (a node started here, or
--node-pid) each run also shows the node's CPU per event and how busy it was (100% = one CPU): a
shipper that keeps the node busy is not the bottleneck, and the node's own CPU per event varies from
run to run on a shared machine. The last lines give each ratio's median over the rounds and how many
rounds met the goal.

With `--pin` the node (every JVM thread) runs on CPU 0 and the script, the ceiling's posting and
every shipper on CPU 1: the production layout, where the shipper runs on the agency's server and
the engine on the SOC's, so that what a shipper spends does not come out of the engine's CPU.
Without it they share both CPUs and every µs a shipper spends is taken from the node. With --url,
--pin needs the node's --node-pid. A node started here with --pin starts on CPU 0 alone, so it sizes
its thread pools (one `write` thread per processor) for the one CPU it has, as an engine host does;
a --url node pinned after it started keeps the pools it sized for every CPU (the header says which).
With root, --pin also puts the kernel's unbound work (page-cache writeback, file-system workers) on
CPU 1 for the run, so the writeback of a shipper's own writes is not done on the node's CPU.

The RSS part appends lines to a file at `--rss-rate` lines/s for `--rss-seconds` while each
shipper tails it, sampling VmRSS every 0.25 s, and reports the peak and the rate delivered.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

from collectors.parsers import parse_lines
from collectors.pipeline import VERSION, event_id
from collectors.settings import CollectorConfig
from collectors.sinks.base import Spooled
from collectors.sinks.opensearch import FILTER, OpenSearchSink
from soc.store.dsl import events_template

LINE = b"Nov 27 09:%02d:%02d web1 sshd[%d]: Failed password for root from 10.0.%d.%d port %d ssh2\n"


def line(i: int) -> bytes:
    return LINE % (i // 60 % 60, i % 60, 1000 + i % 5000, i // 250 % 250, i % 250, 1024 + i % 60000)


def make_log(path: Path, lines: int) -> None:
    with path.open("wb") as f:
        for start in range(0, lines, 10_000):
            f.write(b"".join(line(i) for i in range(start, min(lines, start + 10_000))))


NODE_PID: int | None = None
"""The node's pid when known (a node started here, or --node-pid): its CPU per event is reported."""
TICKS = os.sysconf("SC_CLK_TCK")


def node_cpu() -> float:
    """CPU seconds the node has used so far (every thread; 0 when its pid is not known)."""
    if NODE_PID is None:
        return 0.0
    try:
        fields = Path(f"/proc/{NODE_PID}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def node_load(cpu_seconds: float, events: int, wall: float) -> str:
    """The node's CPU per event and how busy it was (100% = one CPU) over a run."""
    if NODE_PID is None or events <= 0 or wall <= 0:
        return ""
    return f", node {cpu_seconds / events * 1e6:.0f} µs/ev busy {cpu_seconds / wall:.0%}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


# -- rsyslog -------------------------------------------------------------------------------
RSYSLOG_INPUT = """
global(workDirectory="{work}" maxMessageSize="256k")
module(load="imfile" mode="inotify")
module(load="omelasticsearch")
template(name="raw" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
  property(outname="event.original" name="rawmsg" format="jsonf")
  property(outname="host.name" name="hostname" format="jsonf")
  property(outname="log.file.path" name="$!metadata!filename" format="jsonf")
  constant(outname="event.dataset" value="system.auth" format="jsonf")
}}
template(name="docid" type="string" string="%$!metadata!filename%:%$!metadata!fileoffset%")
input(type="imfile" File="{log}" Tag="auth" addMetadata="on" needParse="on" ruleset="ship")
"""
RSYSLOG_OUTPUT = """action(type="omelasticsearch" server="127.0.0.1" serverport="{port}"
         searchIndex="{index}" template="{template}" esVersion.major="8"
         bulkmode="on" bulkid="docid" dynbulkid="on" writeoperation="create"
         queue.type="LinkedList" queue.size="100000" queue.dequeueBatchSize="2000"
         queue.workerThreads="{workers}"
         action.resumeRetryCount="-1")"""
RSYSLOG_RAW = """
ruleset(name="ship") {{
  {output}
}}
"""
# imfile's lines are not from the network, so rsyslog's RFC 3164 parser takes no hostname from
# them ("web1" becomes the tag): the first rulebase parses the whole line's header itself.
HEADER_RULES = """version=2
rule=:%-:date-rfc3164% %hostname:word% %process_name:char-to{"extradata":"["}%[%pid:number%]: %message:rest%
"""
# The benchmark file's one line shape (see LINE), field for field what collectors/parsers/sshd.py
# takes from it; the template's event.outcome/type constants hold for this rule only.
SSHD_RULES = """version=2
rule=:%verdict:literal{"text":"Failed"}% %method:word% for %user:word% from %ip:ipv4% port %port:number% ssh2
"""
RSYSLOG_PARSED = """
module(load="mmnormalize")
template(name="ecs" type="list") {{
{ecs}
}}
ruleset(name="ship") {{
  action(type="mmnormalize" ruleBase="{rules}/header.rb" useRawMsg="on")
  if $parsesuccess == "OK" then {{
    action(type="mmnormalize" ruleBase="{rules}/sshd.rb" variable="$!message" path="$!ssh")
  }}
  if $parsesuccess == "OK" then {{
    {output}
  }} else {{
    {unparsed}
  }}
}}
"""


@dataclass(frozen=True)
class Prop:
    """An rsyslog property in a JSON template: quoted and JSON-escaped by rsyslog, or bare."""

    name: str
    number: bool = False
    """Written bare: only for values the rulebase's `number` parser (or imfile) vouches for."""
    date: bool = False


def parsed_document(agent_version: str) -> dict[str, Any]:
    """The collector's document for a LINE, with rsyslog's values in it (tuples join into one string)."""
    doc_id = (Prop("$!metadata!filename"), ":", Prop("$!metadata!fileoffset"))
    return {
        "@timestamp": Prop("timereported", date=True),
        "message": Prop("$!message"),
        "event": {
            "original": Prop("rawmsg"),
            "dataset": "system.auth",
            "kind": "event",
            "timezone": "UTC",
            "action": "ssh_login",
            "category": ["authentication"],
            "type": ["info"],
            "outcome": "failure",
            "id": doc_id,
            "hash": doc_id,
            "ingested": Prop("timegenerated", date=True),
        },
        "log": {
            "offset": Prop("$!metadata!fileoffset", number=True),
            "file": {"path": Prop("$!metadata!filename")},
        },
        "host": {"hostname": Prop("$!hostname"), "name": "bench"},
        "process": {"name": Prop("$!process_name"), "pid": Prop("$!pid", number=True)},
        "user": {"name": Prop("$!ssh!user")},
        "source": {"ip": Prop("$!ssh!ip"), "port": Prop("$!ssh!port", number=True)},
        "system": {"auth": {"ssh": {"event": Prop("$!ssh!verdict"), "method": Prop("$!ssh!method")}}},
        "agent": {"type": "rsyslog", "name": "bench", "version": agent_version},
        "organization": {"id": "bench"},
    }


def list_template(doc: dict[str, Any]) -> str:
    """The statements of an rsyslog list template that writes `doc` as one line of JSON."""
    pieces: list[str | Prop] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            pieces.append("{")
            for n, (key, item) in enumerate(value.items()):
                pieces.append(("," if n else "") + orjson.dumps(key).decode() + ":")
                walk(item)
            pieces.append("}")
        elif isinstance(value, Prop) and value.number:
            pieces.append(value)
        elif isinstance(value, Prop | tuple):
            pieces.append('"')
            for part in value if isinstance(value, tuple) else (value,):
                pieces.append(part if isinstance(part, Prop) else orjson.dumps(part).decode()[1:-1])
            pieces.append('"')
        else:
            pieces.append(orjson.dumps(value).decode())

    walk(doc)
    statements: list[str] = []
    text = ""
    for piece in [*pieces, Prop("")]:
        if isinstance(piece, str):
            text += piece
            continue
        if text:
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')  # rsyslog's string syntax
            statements.append(f'  constant(value="{escaped}")')
            text = ""
        if piece.date:
            statements.append(f'  property(name="{piece.name}" dateFormat="rfc3339")')
        elif piece.number:
            statements.append(f'  property(name="{piece.name}")')
        elif piece.name:
            statements.append(f'  property(name="{piece.name}" format="json")')
    return "\n".join(statements)


def rsyslog_version() -> str:
    first = subprocess.run(["rsyslogd", "-v"], capture_output=True, text=True, check=False).stdout
    return first.split()[1] if first.split()[:1] == ["rsyslogd"] else "unknown"


def start_rsyslog(
    parsed: bool, work: Path, log: Path, url: str, prefix: str, workers: int = 1
) -> subprocess.Popen[bytes]:
    (work / "rsyslog-work").mkdir(parents=True)
    conf = work / "rsyslog.conf"
    port = url.rsplit(":", 1)[1].rstrip("/")
    text = RSYSLOG_INPUT.format(work=work / "rsyslog-work", log=log)
    raw_out = RSYSLOG_OUTPUT.format(
        port=port, index=f"{prefix}-events-system_auth-2026.11.27", template="raw", workers=workers
    )
    if parsed:
        (work / "header.rb").write_text(HEADER_RULES)
        (work / "sshd.rb").write_text(SSHD_RULES)
        ecs = list_template(parsed_document(rsyslog_version()))
        # the collector's index name for these events (its agency is "bench")
        out = RSYSLOG_OUTPUT.format(
            port=port, index=f"{prefix}-events-bench.system.auth-2026.11.27", template="ecs", workers=workers
        )
        text += RSYSLOG_PARSED.format(ecs=ecs, rules=work, output=out, unparsed=raw_out)
    else:
        text += RSYSLOG_RAW.format(output=raw_out)
    conf.write_text(text)
    command = ["rsyslogd", "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")]
    out_file = (work / "rsyslogd.out").open("wb")
    env = {**os.environ, "TZ": "UTC"}  # the collector reads the file's times as UTC too
    return subprocess.Popen(command, stdout=out_file, stderr=subprocess.STDOUT, env=env)


# -- collector and ceiling -----------------------------------------------------------------
COLLECTOR_CONF = """
data_dir: {work}/state
host: bench
heartbeat_seconds: 0
sources:
  auth: {{type: file, paths: ["{log}"], poll_seconds: 0.05}}
transforms:
  p: {{type: parse, inputs: [auth], format: syslog, timezone: UTC, year: 2026}}
sinks:
  engine: {{type: opensearch, url: "{url}", index_prefix: {prefix}, agency: bench}}
"""


def start_collector(work: Path, log: Path, url: str, prefix: str) -> subprocess.Popen[bytes]:
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "collector.yml"
    conf.write_text(COLLECTOR_CONF.format(work=work, log=log, url=url, prefix=prefix))
    command = [sys.executable, "-m", "collectors", "run", "--config", str(conf)]
    return subprocess.Popen(command, stdout=(work / "collector.out").open("wb"), stderr=subprocess.STDOUT)


def ceiling(url: str, log: Path, prefix: str, workers: int = 1) -> tuple[float, str]:
    """The collector's own requests, byte for byte, posted with no shipper work in the clock.

    Each line is parsed, stamped and prepared as the collector spools it, and the `_bulk` bodies
    are built by the collector's sink (`Bulk.request`: same ids, index names, compression and
    answer filter; as many documents each as its default batch) before timing starts.
    """
    sink = OpenSearchSink(url=url, agency="bench", index_prefix=prefix)
    bulk = sink.connect()
    spooled: list[Spooled] = []
    agent = {"type": "soc-collector", "name": "bench", "version": VERSION}
    lines = log.open("rb")
    for doc in parse_lines(lines, fmt="syslog", timezone="UTC", year=2026, path=str(log), host="bench"):
        doc_id = event_id("bench", "ceiling", doc["log"]["offset"])
        doc["event"]["id"] = doc_id
        doc["agent"] = agent
        spooled.append(Spooled(doc_id, orjson.dumps(doc), sink.prepare(doc, doc_id)))
    lines.close()
    size = BATCH_EVENTS
    requests = [bulk.request(spooled[start : start + size]) for start in range(0, len(spooled), size)]
    with bulk.client as client:

        def post(request: tuple[bytes, dict[str, str]]) -> None:
            """Posted until every document is in. A 429 (the node's circuit breaker when its heap is
            full of garbage, or a full write queue) is waited out and posted again, as any client
            does (the collector too); documents already created then answer 409."""
            body, headers = request
            for attempt in range(8):
                answer = client.post(bulk.endpoint, content=body, headers=headers, params=FILTER)
                statuses = (
                    {next(iter(item.values()))["status"] for item in answer.json()["items"]}
                    if answer.status_code == 200
                    else {answer.status_code}
                )
                done = {201, 409} if attempt else {201}
                if statuses <= done:
                    return
                if statuses - done != {429}:
                    break
                time.sleep(0.05 * 2**attempt)
            raise SystemExit(f"ceiling: _bulk failed: {answer.text[:300]}")

        cpu, began = node_cpu(), time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            posted = [pool.submit(post, request) for request in requests]
            # timed as the shippers are: polled until stored, the same refreshes on the node

            def alive() -> bool:
                return not all(f.done() for f in posted)

            count, elapsed = until_stored(client, url, prefix, len(spooled), began, alive)
            node = node_load(node_cpu() - cpu, count, time.perf_counter() - began)
            for f in posted:
                f.result()
        client.delete(f"{url}/{prefix}-*")
    return count / elapsed, node


def until_stored(
    client: httpx.Client, url: str, prefix: str, lines: int, began: float, alive: Callable[[], bool]
) -> tuple[int, float]:
    """Poll the node's own count of documents indexed every POLL_SECONDS until `lines` are in, the
    writer is gone with nothing more arriving, or nothing arrived for STALL_SECONDS; then count
    the stored documents (refreshed) to confirm. Returns that count and the seconds from `began`
    to the poll that saw the last document indexed (not to when we gave up waiting).

    The indexing counter (`_stats/indexing`, primaries' `index_total`: successful writes only, so a
    create refused as a duplicate does not count) moves as documents are indexed, without a
    `_refresh`. Polling `_count` instead saw a run's end only at the index's next refresh (1 s) and
    the next 0.5 s poll: runs of 8-10 s came out in steps of about half a second, so two rounds'
    rates differed by 5% or agreed exactly by where an end fell between polls (session 10,
    docs/benchmarks.md). A `_refresh` at each poll would cut a segment each time, which cost the
    node more CPU per event the longer a run took (session 7).
    """
    count, changed = 0, began
    while count < lines and time.perf_counter() - changed < STALL_SECONDS:
        time.sleep(POLL_SECONDS)
        running = alive()
        now = indexed(client, url, prefix)
        if now != count:
            count, changed = now, time.perf_counter()
        elif not running:
            break
    final = stored(client, url, prefix)
    if final < count:
        raise SystemExit(f"{prefix}: the node counted {count:,} indexed but {final:,} are stored")
    if final != count:  # more stored than counted: a last look, timed now
        changed = time.perf_counter()
    return final, changed - began


def indexed(client: httpx.Client, url: str, prefix: str) -> int:
    """Documents the node has indexed into `<prefix>-*` so far, visible to search or not."""
    answer = client.get(f"{url}/{prefix}-*/_stats/indexing", params={"filter_path": "_all.primaries"})
    if answer.status_code != 200:
        return 0
    return int(answer.json().get("_all", {}).get("primaries", {}).get("indexing", {}).get("index_total", 0))


POLL_SECONDS = 0.1
STALL_SECONDS = 30
DEFAULTS = CollectorConfig.__dataclass_fields__
IN_FLIGHT = int(DEFAULTS["in_flight"].default)  # type: ignore[arg-type]
BATCH_EVENTS = int(DEFAULTS["batch_events"].default)  # type: ignore[arg-type]
Start = Callable[[Path, Path, str, str], "subprocess.Popen[bytes]"]
SHIPPERS: dict[str, Start] = {
    "rsyslog-raw": partial(start_rsyslog, False),
    "rsyslog-parsed": partial(start_rsyslog, True),
    "collector": start_collector,
}
PEERS = {"raw": ["rsyslog-raw"], "parsed": ["rsyslog-parsed"], "both": ["rsyslog-raw", "rsyslog-parsed"]}


def prepare(url: str, prefix: str) -> None:
    """The service's template for `<prefix>-events-*`, installed before anything is written."""
    with httpx.Client(timeout=60) as client:
        answer = client.put(f"{url}/_index_template/{prefix}-events", json=events_template(prefix))
        answer.raise_for_status()


def stored(client: httpx.Client, url: str, prefix: str) -> int:
    """Documents stored, everything made visible first."""
    client.post(f"{url}/{prefix}-*/_refresh")
    return visible(client, url, prefix)


def visible(client: httpx.Client, url: str, prefix: str) -> int:
    """Documents stored and already visible to search (refreshed)."""
    answer = client.get(f"{url}/{prefix}-*/_count")
    return int(answer.json().get("count", 0)) if answer.status_code == 200 else 0


def status(pid: int, field: str) -> float:
    """VmRSS / VmHWM of a process, in MB (0 once it is gone)."""
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(field + ":"):
                return int(row.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Run:
    events_per_second: float
    peak_rss_mb: float
    stored: int
    parsed: int
    """Documents with a `source.ip`: the lines the shipper parsed into ECS."""
    sample: dict[str, Any]
    """The document stored for the file's first line (offset 0), or the first one found."""
    node: str = ""
    """The node's CPU per event and busy share during the run (see node_load)."""


def inspect(client: httpx.Client, url: str, prefix: str) -> tuple[int, dict[str, Any]]:
    """How many stored documents were parsed, and one of them to show."""
    parsed = client.post(f"{url}/{prefix}-*/_count", json={"query": {"exists": {"field": "source.ip"}}})
    sample: dict[str, Any] = {}
    queries: list[dict[str, Any]] = [{"term": {"log.offset": 0}}, {"match_all": {}}]
    for query in queries:
        hits = client.post(f"{url}/{prefix}-*/_search", json={"size": 1, "query": query}).json()
        if hits.get("hits", {}).get("hits"):
            sample = hits["hits"]["hits"][0]["_source"]
            break
    return int(parsed.json().get("count", 0)), sample


def ship(name: str, work: Path, log: Path, url: str, prefix: str, lines: int, timeout: float) -> Run:
    """Time one shipper from start until `lines` documents are stored (or the timeout)."""
    prepare(url, prefix)
    with httpx.Client(timeout=60) as client:
        cpu, began = node_cpu(), time.perf_counter()
        proc = SHIPPERS[name](work, log, url, prefix)
        peak = 0.0

        def alive() -> bool:
            nonlocal peak
            peak = max(peak, status(proc.pid, "VmHWM"))
            return proc.poll() is None and time.perf_counter() - began < timeout

        try:
            count, elapsed = until_stored(client, url, prefix, lines, began, alive)
            node = node_load(node_cpu() - cpu, count, time.perf_counter() - began)
        finally:
            proc.terminate()
            proc.wait(30)
        if count < lines:
            print(
                f"  {name}: stored {count} of {lines}; nothing more in {STALL_SECONDS} s "
                f"(rate to the last one stored)",
                flush=True,
            )
        parsed, sample = inspect(client, url, prefix)
        client.delete(f"{url}/{prefix}-*")
    return Run(count / elapsed if elapsed > 0 else 0.0, peak, count, parsed, sample, node)


def leaves(doc: Any) -> int:
    """Fields in a document as the engine maps them (a list is one field)."""
    return sum(leaves(v) for v in doc.values()) if isinstance(doc, dict) else 1


def rss_under_load(name: str, work: Path, url: str, prefix: str, rate: int, seconds: float) -> dict[str, Any]:
    """Append `rate` lines/s for `seconds` while the shipper tails the file; sample its RSS."""
    work.mkdir(parents=True)
    log = work / "live.log"
    log.write_bytes(line(0))
    stop = threading.Event()
    written = [1]

    def writer() -> None:
        with log.open("ab", buffering=0) as f:
            began = time.perf_counter()
            while not stop.is_set() and time.perf_counter() - began < seconds:
                due = min(int((time.perf_counter() - began) * rate), int(seconds * rate))
                if due > written[0]:
                    f.write(b"".join(line(i) for i in range(written[0], due)))
                    written[0] = due
                time.sleep(0.05)

    prepare(url, prefix)
    with httpx.Client(timeout=60) as client:
        proc = SHIPPERS[name](work, log, url, prefix)
        samples: list[float] = []
        began = time.perf_counter()
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                time.sleep(0.25)
                samples.append(status(proc.pid, "VmRSS"))
            delivered = stored(client, url, prefix)
            hwm = status(proc.pid, "VmHWM")
        finally:
            stop.set()
            proc.terminate()
            proc.wait(30)
        client.delete(f"{url}/{prefix}-*")
    elapsed = time.perf_counter() - began
    steady = sorted(samples[len(samples) // 2 :])
    return {
        "written": written[0],
        "write_rate": written[0] / elapsed,
        "delivered_rate": delivered / elapsed,
        "rss_peak_mb": max(samples),
        "rss_median_2nd_half_mb": steady[len(steady) // 2] if steady else 0.0,
        "vmhwm_mb": hwm,
    }


def throughput_round(r: int, args: argparse.Namespace, work: Path, log: Path, url: str) -> dict[str, float]:
    """Ceiling, the rsyslog peers and the collector, in an order that rotates from round to round.
    Returns each one's events/s."""
    order = ["ceiling", *PEERS[args.peer], "collector"]
    order = order[r % len(order) :] + order[: r % len(order)]
    runs: dict[str, Run] = {}
    top = 0.0
    for name in order:
        if name == "ceiling":
            prepare(url, f"ceil{r}")
            top, node = ceiling(url, log, f"ceil{r}", args.ceiling_workers)
            print(
                f"  ceiling ({args.ceiling_workers} at a time) {top:,.0f} ev/s{node} ({load()})", flush=True
            )
            continue
        prefix = name.replace("rsyslog-", "rs")[:6] + str(r)
        run = runs[name] = ship(name, work / f"{name}{r}", log, url, prefix, args.lines, args.timeout)
        print(
            f"  {name} {run.events_per_second:,.0f} ev/s, {run.stored} stored, {run.parsed} parsed "
            f"({run.parsed / max(run.stored, 1):.1%}), peak RSS {run.peak_rss_mb:.0f} MB, "
            f"{leaves(run.sample)} fields{run.node} ({load()})",
            flush=True,
        )
        if r == 0:
            print(f"    {name} document: {orjson.dumps(run.sample, option=orjson.OPT_SORT_KEYS).decode()}")
    ours = runs["collector"].events_per_second
    rates = " ".join(f"{name}={run.events_per_second:,.0f}" for name, run in runs.items())
    ratios = " ".join(
        f"collector/{name}={ours / run.events_per_second:.2f}"
        for name, run in runs.items()
        if name != "collector" and run.events_per_second
    )
    print(
        f"round {r + 1}: lines={args.lines} ceiling={top:,.0f} {rates} ev/s {ratios} "
        f"collector/ceiling={ours / top:.2f} ({load()})",
        flush=True,
    )
    return {"ceiling": top, **{name: run.events_per_second for name, run in runs.items()}}


def summary(rounds: list[dict[str, float]]) -> None:
    """Collector / each other one over all rounds: the median, the range, and rounds at the goal."""
    goals = {"ceiling": 0.8}
    for other in [name for name in rounds[0] if name != "collector"]:
        ratios = sorted(r["collector"] / r[other] for r in rounds if r[other])
        if not ratios:
            continue
        goal = goals.get(other, 1.0)
        met = sum(ratio >= goal for ratio in ratios)
        print(
            f"collector/{other} over {len(ratios)} rounds: median {statistics.median(ratios):.2f}, "
            f"{ratios[0]:.2f}-{ratios[-1]:.2f}; {met} of {len(ratios)} rounds >= {goal}",
            flush=True,
        )


def warm_up(url: str, log: Path, workers: int) -> None:
    """Unreported ceiling passes until the node's rate settles (two in a row within 15%, at most
    WARM_PASSES): a node's first bulk requests run cold (JIT, caches) and it keeps speeding up for
    several passes, which would favour whoever runs later."""
    rates: list[float] = []
    while len(rates) < WARM_PASSES:
        prepare(url, f"warm{len(rates)}")
        rate, node = ceiling(url, log, f"warm{len(rates)}", workers)
        rates.append(rate)
        print(f"  warm-up {len(rates)}: ceiling {rate:,.0f} ev/s{node}, not counted", flush=True)
        if len(rates) >= 2 and abs(rates[-1] - rates[-2]) <= 0.15 * max(rates[-2:]):
            break


WARM_PASSES = 5


def allocated_processors(url: str) -> int:
    """How many processors the node sizes its thread pools for (its `write` pool has as many threads)."""
    wanted = {"filter_path": "nodes.*.os.allocated_processors"}
    answer = httpx.get(f"{url}/_nodes/os", params=wanted, timeout=30)
    answer.raise_for_status()
    return int(next(iter(answer.json()["nodes"].values()))["os"]["allocated_processors"])


def pin(node_pid: int) -> None:
    """Every thread of the node on CPU 0; this process, and so every shipper it starts, on CPU 1."""
    if os.cpu_count() is None or (os.cpu_count() or 0) < 2:
        sys.exit("--pin needs two CPUs")
    subprocess.run(["taskset", "-a", "-p", "-c", "0", str(node_pid)], check=True, stdout=subprocess.DEVNULL)
    os.sched_setaffinity(0, {1})
    print(f"pinned: node (pid {node_pid}) on CPU 0, shippers on CPU 1", flush=True)


UNBOUND_WORK = ("/sys/devices/virtual/workqueue/cpumask", "/sys/bus/workqueue/devices/writeback/cpumask")


@contextmanager
def kernel_work_on(cpu: int) -> Iterator[str]:
    """The kernel's unbound work (page-cache writeback, the file system's workers) on `cpu` alone,
    as it was again afterwards; yields what was done, for the header.

    With --pin the shippers' own work leaves CPU 0, but the kernel work they cause did not: the
    writeback of the collector's fsynced spool (~190 MB per 200k-line run) ran wherever the kernel
    put it, CPU 0 included, on the node's time. On separate machines it runs on the shipper's. The
    node's own writeback moves to `cpu` too, in every run alike (docs/benchmarks.md, session 9).
    Needs root; without it, the header says so.
    """
    before: dict[str, str] = {}

    def restore() -> None:
        for path, old in before.items():
            Path(path).write_text(old + "\n")

    try:
        for path in UNBOUND_WORK:
            old = Path(path).read_text().strip()
            Path(path).write_text(f"{1 << cpu:x}\n")
            before[path] = old
    except OSError as exc:
        restore()  # all or nothing: a half-moved mask would make the header wrong
        yield f"kernel work left where it was ({path}: {exc.strerror or exc})"
        return
    try:
        yield f"kernel unbound work (writeback) on CPU {cpu}"
    finally:
        restore()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--peer", choices=sorted(PEERS), default="both", help="which rsyslog rounds to run")
    parser.add_argument("--rss-seconds", type=float, default=30)
    parser.add_argument("--rss-rate", type=int, default=10_000)
    parser.add_argument("--url")
    parser.add_argument("--only", choices=["throughput", "rss"], help="run one part only")
    parser.add_argument(
        "--ceiling-workers",
        type=int,
        default=IN_FLIGHT,
        help=f"requests the ceiling keeps out at once (default: the collector's in_flight, {IN_FLIGHT})",
    )
    parser.add_argument(
        "--rsyslog-workers", type=int, default=1, help="omelasticsearch queue.workerThreads (default 1)"
    )
    parser.add_argument(
        "--pin", action="store_true", help="node on CPU 0, shippers on CPU 1 (separate machines' model)"
    )
    parser.add_argument(
        "--node-pid",
        type=int,
        help="the node's pid with --url: needed by --pin; shows the node's CPU per event",
    )
    args = parser.parse_args()
    if args.pin and args.url and not args.node_pid:
        parser.error("--pin with --url needs --node-pid")
    if args.node_pid and not Path(f"/proc/{args.node_pid}/stat").exists():
        parser.error(f"--node-pid {args.node_pid}: no such process")
    args.timeout = max(300.0, args.lines / 200)
    for name, parsed in (("rsyslog-raw", False), ("rsyslog-parsed", True)):
        SHIPPERS[name] = partial(start_rsyslog, parsed, workers=args.rsyslog_workers)
    if shutil.which("rsyslogd") is None:
        sys.exit("rsyslogd not found: apt-get install rsyslog rsyslog-elasticsearch")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        node = None
        url = args.url
        if url is None:
            from soc.engine.launcher import Node

            if args.pin:  # started on CPU 0 alone, so it sizes its thread pools for the one CPU it has
                os.sched_setaffinity(0, {0})
            node = Node.start(work / "engine", heap_mb=1024)
            url = node.url
            args.node_pid = node.pid
        global NODE_PID
        NODE_PID = args.node_pid
        kernel = ExitStack()
        if args.pin:
            pin(args.node_pid)
            print(kernel.enter_context(kernel_work_on(1)), flush=True)
        try:
            log = work / "auth.log"
            make_log(log, args.lines)
            print(
                f"{args.lines} lines, rsyslog {rsyslog_version()} with {args.rsyslog_workers} worker(s), "
                f"collector batch {BATCH_EVENTS} in_flight {IN_FLIGHT}, "
                f"ceiling {args.ceiling_workers} at a time, node sized for "
                f"{allocated_processors(url)} processor(s), {load()}",
                flush=True,
            )
            if args.only != "rss":
                warm_up(url, log, args.ceiling_workers)
            rounds = [
                throughput_round(r, args, work, log, url)
                for r in range(args.rounds if args.only != "rss" else 0)
            ]
            if rounds:
                summary(rounds)
            for r in range(args.rounds if args.only != "throughput" else 0):
                for name in ["collector", *PEERS[args.peer]]:
                    res = rss_under_load(
                        name,
                        work / f"rss-{name}{r}",
                        url,
                        f"rss{name.replace('rsyslog-', 'rs')[:6]}{r}",
                        args.rss_rate,
                        args.rss_seconds,
                    )
                    print(
                        f"rss round {r + 1}: {name} at {res['write_rate']:,.0f} lines/s written for "
                        f"{args.rss_seconds:.0f} s: delivered {res['delivered_rate']:,.0f} ev/s, "
                        f"RSS peak {res['rss_peak_mb']:.1f} MB, median of 2nd half "
                        f"{res['rss_median_2nd_half_mb']:.1f} MB, VmHWM {res['vmhwm_mb']:.1f} MB ({load()})",
                        flush=True,
                    )
        finally:
            kernel.close()
            if node is not None:
                node.stop()
            elif args.pin:  # someone else's node: give it its CPUs back
                every = f"0-{(os.cpu_count() or 1) - 1}"
                back = ["taskset", "-a", "-p", "-c", every, str(args.node_pid)]
                subprocess.run(back, stdout=subprocess.DEVNULL, check=False)


if __name__ == "__main__":
    main()
