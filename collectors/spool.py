"""A bounded, checksummed disk queue between the parsers and the sink, surviving restarts.

Segments `seg-<n>.log` hold frames `[length u32][crc32 u32][payload]`; `append` fsyncs before it
returns, so a record is durable when its source checkpoint moves. The sink reads from the acked
position (`ack`, rewritten atomically) and acks after its engine confirmed; fully acked segments
are deleted. On open, a torn last frame (crash mid-write) is cut off, and a frame whose checksum
fails is skipped and counted, never delivered damaged. `append` blocks while the queue holds
`max_bytes` or more: that is the backpressure a file source feels (it stops reading).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
HEADER = struct.Struct(">II")
READ_BYTES = 1 << 20
"""Bytes read from a segment at once (a batch's memory; a larger frame is read whole)."""


@dataclass(frozen=True)
class Batch:
    frames: list[memoryview]
    """Views into the bytes read from the segment (no copy per frame)."""
    end: tuple[int, int]
    """(segment, offset) just past the batch's last frame."""


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int = 256 << 20, segment_bytes: int = 8 << 20) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.corrupt_frames = 0
        self.full_waits = 0
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self.acked = self._load_ack()
        segments = self._segments()
        self.write_seg = segments[-1] if segments else max(self.acked[0], 1)
        self._repair(self.write_seg)
        self._out = open(self._path(self.write_seg), "ab")  # noqa: SIM115 - held for the spool's life
        self.written = (self.write_seg, self._out.tell())
        """(segment, offset) just past the last durable frame; replaced whole, so the reader's
        look at it is atomic (the writer's file object is closed and swapped at a segment change)."""
        self.read_at = self.acked
        self.pending_bytes = sum(self._size(s) for s in segments) - (self.acked[1] if segments else 0)

    # -- writer side --------------------------------------------------------------------------
    def append(self, payloads: list[bytes], stop: threading.Event | None = None) -> bool:
        """Write and fsync; waits while full. False if `stop` was set while waiting."""
        size = sum(len(p) + HEADER.size for p in payloads)
        with self._cond:
            while self.pending_bytes > 0 and self.pending_bytes + size > self.max_bytes:
                self.full_waits += 1
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(0.2)
        with self._write_lock:
            if self._out.tell() >= self.segment_bytes:
                self._out.close()
                self._out = open(self._path(self.write_seg + 1), "ab")  # noqa: SIM115
                self.write_seg += 1
            parts: list[bytes] = []
            for p in payloads:  # no header + payload copy per frame: one join of them all
                parts += (HEADER.pack(len(p), zlib.crc32(p)), p)
            self._out.write(b"".join(parts))
            del parts
            self._out.flush()
            os.fsync(self._out.fileno())
            self.written = (self.write_seg, self._out.tell())
        with self._cond:
            self.pending_bytes += size
            self._cond.notify_all()
        return True

    # -- reader side --------------------------------------------------------------------------
    def read(self, max_frames: int, max_bytes: int, wait_seconds: float) -> Batch | None:
        """Frames after the last read batch (not necessarily acked yet), or None when empty."""
        with self._cond:
            if not self._has_data():
                self._cond.wait(wait_seconds)
        frames: list[memoryview] = []
        seg, off = self.read_at
        total = 0
        while len(frames) < max_frames and total < max_bytes:
            # looked at before reading: a segment the writer had already left is complete, so an
            # empty read of it means "go on to the next"; one it was still writing may yet grow
            complete = seg < self.written[0]
            try:
                data = self._chunk(seg, off, min(max_bytes - total, READ_BYTES))
            except FileNotFoundError:
                data = b""
            pos = 0
            view = memoryview(data)
            while pos + HEADER.size <= len(data) and len(frames) < max_frames and total < max_bytes:
                length, crc = HEADER.unpack_from(data, pos)
                if pos + HEADER.size + length > len(data):
                    break
                payload = view[pos + HEADER.size : pos + HEADER.size + length]
                pos += HEADER.size + length
                total += HEADER.size + length
                if zlib.crc32(payload) != crc:
                    self.corrupt_frames += 1
                    log.error(
                        "spool frame failed its checksum, skipped; segment=%s offset=%s", seg, off + pos
                    )
                    continue
                frames.append(payload)
            off += pos
            if pos == 0:
                if complete:
                    seg, off = seg + 1, 0  # this segment is done: the writer has moved on
                    continue
                break
            # a full READ_BYTES chunk (~1,200 events) does not end the batch: read on, so batches
            # are `max_frames` long and the sink sends fewer, larger requests
        if not frames and (seg, off) == self.read_at:
            return None
        self.read_at = (seg, off)
        return Batch(frames, (seg, off))

    def _chunk(self, seg: int, off: int, size: int) -> bytes:
        """At most `size` bytes from (seg, off), more only when the first frame is larger."""
        size = max(size, HEADER.size)
        with open(self._path(seg), "rb") as f:
            while True:
                f.seek(off)
                data = f.read(size)
                if len(data) < size or len(data) < HEADER.size:
                    return data  # the end of what is written
                need = HEADER.size + HEADER.unpack_from(data, 0)[0]
                if need <= len(data):
                    return data
                size = need

    def ack(self, batch: Batch) -> None:
        seg, off = batch.end
        old_seg, old_off = self.acked
        freed = 0
        for s in range(old_seg, seg):
            freed += self._size(s) - (old_off if s == old_seg else 0)
            self._path(s).unlink(missing_ok=True)
        freed += off - (old_off if seg == old_seg else 0)
        self.acked = (seg, off)
        tmp = self.dir / "ack.tmp"
        tmp.write_text(f"{seg} {off}\n", encoding="ascii")
        os.replace(tmp, self.dir / "ack")
        with self._cond:
            self.pending_bytes -= freed
            self._cond.notify_all()

    def rewind(self) -> None:
        """Read again from the acked position (after a failed delivery)."""
        self.read_at = self.acked

    def unacked(self) -> list[bytes]:
        """Every frame not yet acked (to recover checkpoints at start)."""
        saved = self.read_at
        self.read_at = self.acked
        out: list[bytes] = []
        while (batch := self.read(10_000, 64 << 20, 0)) is not None:
            out += (bytes(frame) for frame in batch.frames)
        self.read_at = saved
        return out

    def close(self) -> None:
        self._out.close()

    # -- helpers ------------------------------------------------------------------------------
    def _has_data(self) -> bool:
        return self.read_at < self.written

    def _path(self, seg: int) -> Path:
        return self.dir / f"seg-{seg:012d}.log"

    def _size(self, seg: int) -> int:
        try:
            return self._path(seg).stat().st_size
        except FileNotFoundError:
            return 0

    def _segments(self) -> list[int]:
        return sorted(int(p.name[4:16]) for p in self.dir.glob("seg-*.log"))

    def _load_ack(self) -> tuple[int, int]:
        try:
            seg, off = (self.dir / "ack").read_text(encoding="ascii").split()
            return int(seg), int(off)
        except (FileNotFoundError, ValueError):
            segments = self._segments()
            return (segments[0] if segments else 1), 0

    def _repair(self, seg: int) -> None:
        """Cut a torn frame off the end of the last segment (a crash in the middle of a write)."""
        path = self._path(seg)
        if not path.exists():
            return
        data = path.read_bytes()
        pos = 0
        while pos + HEADER.size <= len(data):
            length, _ = HEADER.unpack_from(data, pos)
            if pos + HEADER.size + length > len(data):
                break
            pos += HEADER.size + length
        if pos < len(data):
            log.warning("spool segment ended in a torn frame, cut; segment=%s bytes=%s", seg, len(data) - pos)
            with open(path, "r+b") as f:
                f.truncate(pos)
