"""The network sensor: DNS events, connection summaries and a port-scan indicator from packets.

`events(path)` is the entry point for a capture file (`soc-collector pcap FILE`); live capture
goes through `capture.sniff` with its BPF filter validated first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.sensor.capture import CaptureError, read_pcap, validate_filter
from collectors.sensor.sensor import Sensor, Stats

__all__ = ["CaptureError", "Sensor", "Stats", "events", "validate_filter"]


def events(path: str, sensor: Sensor | None = None) -> Iterator[dict[str, Any]]:
    """Every event of the capture at `path`, in packet order, open connections last."""
    return (sensor or Sensor()).run(read_pcap(path))
