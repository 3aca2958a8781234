"""The demo's collector: a real `soc-collector` pipeline, configured as on an agency server.

`soc demo` writes a collector.yml, a token file and the scenario's log file into its data
directory, loads the configuration with the same loader `soc-collector run` uses, and runs the
pipeline (file source → ECS parse → fsynced disk spool → the service's ingest endpoint) in a thread
until every line is acknowledged by the service. While the demo serves, the collector keeps tailing
the file, so a line appended to it shows up in the UI, and its heartbeat marks it alive.

Every run starts the collector with empty state, so a second run sends the same lines again and
shows the service recognising them as duplicates (their ids depend only on host, file and offset).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import orjson

from collectors import settings
from collectors.pipeline import Pipeline
from soc.errors import SocError

CONFIG = """\
# Written by `soc demo`: the collector an agency server runs, here tailing the demo's log file.
# Run the same configuration yourself with: soc-collector run --config {config}
data_dir: {state}
host: demo-collector
heartbeat_seconds: 60
sources:
  scenario: {{type: file, paths: [{log}], poll_seconds: 0.2}}
transforms:
  ecs: {{type: parse, inputs: [scenario], format: jsonl}}
sinks:
  soc: {{type: soc, url: {url}, token_file: {token}}}
"""
SOURCE = "scenario"
SINK = "soc"
WAIT_SECONDS = 60.0
OUTCOMES = ("created", "duplicate", "rejected")


@dataclass
class Shipped:
    lines: int
    created: int
    duplicates: int
    rejected: int
    unparsed: int
    problems: list[str] = field(default_factory=list)
    """`line N: reason` for each line the service refused (from the collector's rejected.ndjson)."""


class DemoCollector:
    def __init__(self, directory: Path, url: str, token: str) -> None:
        self.directory = directory
        self.log = directory / "logs" / "events.ndjson"
        self.config_path = directory / "collector.yml"
        self.state = directory / "state"
        shutil.rmtree(self.state, ignore_errors=True)  # a fresh collector each run (see above)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_bytes(resources.files("soc.demo").joinpath("events.ndjson").read_bytes())
        token_file = directory / "token"
        token_file.write_text(token + "\n", encoding="utf-8")
        os.chmod(token_file, 0o600)
        # JSON strings are YAML double-quoted scalars: any path or URL is written safely
        text = CONFIG.format(
            config=self.config_path,
            state=json.dumps(str(self.state)),
            log=json.dumps(str(self.log)),
            url=json.dumps(url),
            token=json.dumps(str(token_file)),
        )
        self.config_path.write_text(text, encoding="utf-8")
        self.pipeline = Pipeline(settings.load(self.config_path))
        self.thread = threading.Thread(target=self.pipeline.run, name="soc-demo-collector", daemon=True)

    def ship(self, timeout: float = WAIT_SECONDS) -> Shipped:
        """Start the collector and wait until the service acknowledged every line of the file."""
        lines = self.log.read_bytes().count(b"\n")
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self._delivered(lines):
            if time.monotonic() > deadline or not self.thread.is_alive():
                out = sum(self._out(outcome) for outcome in OUTCOMES)
                raise SocError(
                    f"the demo collector delivered {out} of {lines} events in {timeout:.0f} s "
                    f"(read {self._count('events_in', source=SOURCE)}); its log lines above say why"
                )
            time.sleep(0.1)
        return Shipped(
            lines=lines,
            created=self._out("created") - self._count("heartbeats"),
            duplicates=self._out("duplicate"),
            rejected=self._out("rejected"),
            unparsed=self._count("events_unparsed", source=SOURCE),
            problems=self._problems(),
        )

    def stop(self) -> None:
        self.pipeline.stop.set()
        if self.thread.is_alive():
            self.thread.join(15)

    def _delivered(self, lines: int) -> bool:
        """Every line read and acknowledged, and the first heartbeat (sent at start, counted once
        spooled) too, so that the count of created events can leave it out."""
        read = self._count("events_in", source=SOURCE) >= lines
        return read and self._count("heartbeats") >= 1 and self.pipeline.backlog == 0

    def _count(self, counter: str, **labels: str) -> int:
        """A counter of the collector's own metrics (collectors.metrics), 0 before its first event."""
        value = self.pipeline.metrics.registry.get_sample_value(f"soc_collector_{counter}_total", labels)
        return int(value or 0)

    def _out(self, outcome: str) -> int:
        return self._count("events_out", sink=SINK, outcome=outcome)

    def _problems(self) -> list[str]:
        """The service's reason for each refused line, with the line's number in the log file."""
        kept = self.state / "rejected.ndjson"
        if not kept.exists():
            return []
        text = self.log.read_bytes()
        out = []
        for row in kept.read_bytes().splitlines():
            item = orjson.loads(row)
            offset = int(orjson.loads(item["document"]).get("log", {}).get("offset", 0))
            number = text.count(b"\n", 0, offset) + 1
            out.append(f"line {number}: {item['reason']}")
        return out
