"""Where packets come from: a pcap/pcapng file read raw, or a live interface through scapy.

Files are read with `RawPcapReader` (constant memory, no dissection). A live capture's BPF filter
is compiled before the sniffer starts, because an invalid filter inside scapy's sniffer thread
fails silently and leaves a sensor that captures nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapReader

from collectors.sensor.packets import ETHERNET
from collectors.sensor.sensor import Frame, Sensor


class CaptureError(ValueError):
    """A capture that cannot start: unreadable file, invalid filter, no libpcap."""


def events(path: str, sensor: Sensor | None = None) -> Iterator[dict[str, Any]]:
    """Every event of the capture at `path`, in packet order, open connections last."""
    return (sensor or Sensor()).run(read_pcap(path))


def read_pcap(path: str) -> Iterator[Frame]:
    try:
        reader = RawPcapReader(path)
    except (OSError, Scapy_Exception) as exc:
        raise CaptureError(f"{path}: cannot read capture: {exc}") from exc
    with reader:
        linktype = int(getattr(reader, "linktype", ETHERNET))
        packets = iter(reader)
        while True:
            try:
                data, meta = next(packets)
            except StopIteration:
                return
            except (Scapy_Exception, ValueError, OSError, EOFError):
                return  # a truncated last record ends the file, as with tcpdump
            yield int(getattr(meta, "linktype", linktype)), bytes(data), _seconds(meta)


def _seconds(meta: Any) -> float:
    if hasattr(meta, "sec"):
        return float(meta.sec) + float(meta.usec) / 1e6
    ticks = (int(meta.tshigh) << 32) | int(meta.tslow)
    return ticks / float(meta.tsresol)


def validate_filter(bpf: str, linktype: int = ETHERNET) -> None:
    """Raises `CaptureError` saying why `bpf` would not compile."""
    from scapy.arch.common import compile_filter

    try:
        compile_filter(bpf, linktype=linktype)
    except ImportError as exc:
        raise CaptureError(f"cannot check the BPF filter: {exc} (install libpcap)") from exc
    except Scapy_Exception as exc:
        raise CaptureError(f"invalid BPF filter {bpf!r}: {exc}") from exc


def sniff(iface: str, bpf: str, on_frame: Callable[[Frame], None], stop: threading.Event) -> None:
    """Capture on `iface` until `stop` is set; each frame is handed to `on_frame` undissected."""
    from scapy.config import conf
    from scapy.sendrecv import AsyncSniffer

    if bpf:
        validate_filter(bpf)
    conf.layers.filter([])  # frames arrive as Raw: the sensor's fast path does the dissection
    try:

        def handle(pkt: Any) -> None:
            on_frame((ETHERNET, bytes(pkt), float(pkt.time)))

        sniffer = AsyncSniffer(iface=iface, filter=bpf or None, prn=handle, store=False)
        sniffer.start()
        stop.wait()
        sniffer.stop()
    finally:
        conf.layers.unfilter()
