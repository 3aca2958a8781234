"""`pcap` and `sniff`: the sensor as collector sources, its events handed on as ECS JSON records.

Records carry the event as one JSON line, which the `parse` transform's auto-detection passes
through the `jsonl` parser unchanged (dataset and all), so sensor events share the spool, ids,
acknowledgement and sinks of every other source.

A capture file's identity is a hash of its first 64 KiB and size; its checkpoint is the number
of events already made durable. The sensor is deterministic, so a restart reads the file again
and skips exactly those: the event ids (identity + event number) are the same both times.
A live capture cannot be re-read: its records carry no checkpoint.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from collectors.checkpoints import Checkpoints
from collectors.sources.base import Emit, Record, Stop

if TYPE_CHECKING:
    from collectors.sensor.sensor import Frame


def _record(identity: str, number: int, event: dict[str, Any], checkpoint: str | None) -> Record:
    return Record(identity, number, number + 1, orjson.dumps(event), checkpoint=checkpoint)


@dataclass(frozen=True)
class PcapSource:
    type: ClassVar[str] = "pcap"
    pausable: ClassVar[bool] = True
    path: str
    """A pcap or pcapng file, read once to its end."""
    batch_records: int = 2000
    """Events handed on at once."""

    def resources(self) -> list[str]:
        return [f"file:{self.path}"]

    def problems(self) -> list[str]:
        return [] if os.path.isfile(self.path) else [f"capture file '{self.path}' does not exist"]

    def identity(self) -> str:
        with open(self.path, "rb") as f:
            head = f.read(64 * 1024)
        digest = hashlib.sha256(head + str(os.path.getsize(self.path)).encode()).hexdigest()[:32]
        return f"pcap:{digest}"

    def run(self, emit: Emit, stop: Stop, checkpoints: Checkpoints) -> None:
        from collectors.sensor.capture import events  # scapy loads only when a sensor runs

        identity = self.identity()
        done = checkpoints.get(identity)
        skip = done.offset if done is not None else 0
        batch: list[Record] = []
        for number, event in enumerate(events(self.path)):
            if stop.is_set():
                return
            if number >= skip:
                batch.append(_record(identity, number, event, identity))
            if len(batch) >= self.batch_records:
                emit(batch)
                batch = []
        if batch:
            emit(batch)


@dataclass(frozen=True)
class SniffSource:
    type: ClassVar[str] = "sniff"
    pausable: ClassVar[bool] = False
    interface: str
    """Network interface to capture on (needs CAP_NET_RAW)."""
    filter: str = ""
    """BPF filter, checked when the configuration is validated and again before capture starts."""
    flush_seconds: float = 1.0
    """Longest time an event waits before being handed on."""

    def resources(self) -> list[str]:
        return [f"interface:{self.interface}"]

    def problems(self) -> list[str]:
        if not self.filter:
            return []
        if ctypes.util.find_library("pcap") is None:
            return ["a BPF filter needs libpcap (Debian: libpcap0.8)"]
        from collectors.sensor.capture import CaptureError, validate_filter

        try:
            validate_filter(self.filter)
        except CaptureError as exc:
            return [str(exc)]
        return []

    def run(self, emit: Emit, stop: Stop, checkpoints: Checkpoints | None = None) -> None:
        from collectors.sensor.capture import sniff
        from collectors.sensor.sensor import Sensor

        identity = f"sniff:{self.interface}:{time.time_ns()}"
        sensor, lock = Sensor(), threading.Lock()
        pending: list[Record] = []
        counter = iter(range(1 << 62))

        def on_frame(frame: Frame) -> None:
            events = sensor.packet(*frame)
            with lock:
                pending.extend(_record(identity, next(counter), e, None) for e in events)

        capture = threading.Thread(
            target=sniff, args=(self.interface, self.filter, on_frame, stop), daemon=True
        )
        capture.start()
        while not stop.wait(self.flush_seconds):
            with lock:
                batch, pending[:] = list(pending), []
            if batch:
                emit(batch)
        capture.join(5)
