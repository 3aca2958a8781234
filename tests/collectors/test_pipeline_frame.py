"""How one record becomes a spooled event: id, parse, and the network sender kept."""

from __future__ import annotations

from pathlib import Path

import orjson

from collectors import settings
from collectors.pipeline import Pipeline, _split
from collectors.sources.syslog import SyslogRecord

CONFIG = """
data_dir: {data}
host: sensor01
sources:
  net: {{type: syslog_udp, address: "127.0.0.1:5514"}}
transforms:
  p: {{type: parse, inputs: [net], format: auto}}
sinks:
  engine: {{type: opensearch, url: "https://engine:9200", api_key: abc}}
"""


def test_it_records_the_sender_of_a_network_message(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(CONFIG.format(data=tmp_path / "data"))
    pipeline = Pipeline(settings.load(tmp_path / "c.yml"))
    line = b"<38>Nov 27 09:00:01 web01 sshd[42]: Failed password for root from 203.0.113.9 port 22 ssh2"
    frame = pipeline._frame("net", SyslogRecord("syslog_udp:x", 0, 1, line, sender="10.20.1.11:40001"))
    event = orjson.loads(_split(frame).document)
    assert event["log"]["source"]["address"] == "10.20.1.11:40001"
    assert event["source"]["ip"] == "203.0.113.9"
    assert event["event"]["id"]
