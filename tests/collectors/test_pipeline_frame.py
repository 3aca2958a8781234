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


def test_a_frame_splits_the_same_from_the_spool_whatever_its_header_length(tmp_path: Path) -> None:
    """The split looks for the header in the frame's first bytes; a longer header (a checkpoint key
    that is a deep path) is found in the whole frame."""
    (tmp_path / "c.yml").write_text(CONFIG.format(data=tmp_path / "data"))
    pipeline = Pipeline(settings.load(tmp_path / "c.yml"))
    line = b"<38>Nov 27 09:00:01 web01 sshd[42]: Accepted publickey for an from 203.0.113.9 port 22 ssh2"
    for key in ("", "file:/var/log/auth.log", "file:/" + "deep/" * 200 + "auth.log"):
        frame = pipeline._frame("net", SyslogRecord("syslog_udp:x", 7, 8, line, checkpoint=key or None))
        pipeline.spool.append([frame])
        batch = pipeline.spool.read(10, 1 << 20, 0)
        assert batch is not None
        pipeline.spool.ack(batch)
        spooled = _split(batch.frames[0])
        assert spooled == _split(frame)
        assert spooled.route.startswith("soc-events-_.system.auth-")
        assert orjson.loads(spooled.document)["user"]["name"] == "an"
        assert bytes(batch.frames[0]).startswith(f"{spooled.id}\t{key}\t8\n".encode())
