"""Reading one open file: complete lines from a byte position, long lines cut, multiline joined.

A record is emitted only when complete: its line ended, or (multiline) the next record started or
the file stayed quiet for a moment, or the file left its path for good (then a last line without
its newline is emitted too). `end` is the offset just past the record, which becomes the
checkpoint once the record is durable.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from collectors.sources.base import Record

if TYPE_CHECKING:
    from collectors.sources.file import FileSource

CHUNK = 64 * 1024
"""Bytes read at once: about `batch_records` short lines, so a batch stays a few MB in memory."""
MULTILINE_QUIET_SECONDS = 1.0


@dataclass
class Reader:
    path: str
    fp: str
    generation: int
    fd: int
    pos: int
    first_seen: float
    config: FileSource
    head: bytes = b""
    gone: bool = False
    changed: bool = False
    """The file was truncated or rewritten under the open handle: read nothing more from it."""
    buffer: bytearray = field(default_factory=bytearray)
    buffer_at: int = 0
    long_line: tuple[int, bytes] | None = None
    pending: list[tuple[int, int, bytes, tuple[str, ...]]] = field(default_factory=list)
    last_data: float = field(default_factory=time.monotonic)

    @classmethod
    def open(
        cls, path: str, fp: str, generation: int, start: int, first_seen: float, config: FileSource
    ) -> Reader:
        fd = os.open(path, os.O_RDONLY)
        head = os.pread(fd, config.fingerprint_bytes, 0)
        cut = head.find(b"\n")
        return cls(
            path,
            fp,
            generation,
            fd,
            start,
            first_seen,
            config,
            head=head[: cut + 1] if cut >= 0 else head,
            buffer_at=start,
        )

    @property
    def identity(self) -> str:
        return self.fp if self.generation == 0 else f"{self.fp}.{self.generation}"

    def still_same(self, fingerprint_bytes: int) -> bool:
        try:
            size = os.fstat(self.fd).st_size
            head = os.pread(self.fd, len(self.head), 0)
        except OSError:
            return False
        return not self.changed and head == self.head and size >= self.buffer_at

    def read(self, limit: int, now: float) -> list[Record]:
        out: list[Record] = []
        if self.changed:
            return out
        while len(out) < limit:
            chunk = os.pread(self.fd, CHUNK, self.pos)
            if not chunk:
                break
            if os.pread(self.fd, len(self.head), 0) != self.head:
                # Truncated (copytruncate) since the last scan, and perhaps already written again:
                # this chunk may be the new content, which must not go out under this identity and
                # these offsets. The head is checked after the read, so a chunk that passes was read
                # before any truncation. The next scan closes this reader; the old content is read on
                # from its copy, from the confirmed checkpoint. (A chunk read just before the
                # truncation is dropped too: after the read the two orders look alike.)
                self.changed = True
                break
            self.pos += len(chunk)
            self.buffer += chunk
            self.last_data = now
            out += self._lines()
        if self.changed:
            return out  # a partial line or pending multiline record is finished from the copy
        if self.pending and (now - self.last_data >= MULTILINE_QUIET_SECONDS or self.gone):
            out += self._flush_pending()
        if (
            self.gone
            and not self.pending
            and self.buffer
            and now - self.last_data >= self.config.rotate_wait_seconds
        ):
            out += self._complete(self.buffer_at, bytes(self.buffer), self.buffer_at + len(self.buffer))
            self.buffer_at += len(self.buffer)
            self.buffer.clear()
            out += self._flush_pending()
        return out

    def finished(self, now: float) -> bool:
        """Left its path, read to the end and quiet long enough: safe to close."""
        return (
            self.gone
            and not self.changed  # closed by the next scan instead, not as a finished rotation
            and not self.buffer
            and not self.pending
            and now - self.last_data >= self.config.rotate_wait_seconds
        )

    def close(self) -> None:
        os.close(self.fd)

    def _lines(self) -> list[Record]:
        out: list[Record] = []
        buf = self.buffer
        start = 0
        limit = self.config.max_line_bytes
        plain = self.config.multiline is None
        identity, path, fp = self.identity, self.path, self.fp
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(buf[start : nl + 1])
            at = self.buffer_at + start
            if self.long_line is not None:
                at, kept = self.long_line
                self.long_line = None
                out += self._complete(at, kept, self.buffer_at + nl + 1, ("truncated",))
            elif len(line) > limit:
                out += self._complete(at, line[:limit], at + len(line), ("truncated",))
            elif plain:  # the common case, without a list per line
                out.append(Record(identity, at, at + len(line), line, path, (), fp))
            else:
                out += self._complete(at, line, at + len(line))
            start = nl + 1
        rest = len(buf) - start
        if self.long_line is None and rest > limit:
            self.long_line = (self.buffer_at + start, bytes(buf[start : start + limit]))
        if self.long_line is not None:
            start = len(buf)  # drop what is beyond the limit, keep only the kept head
        del buf[:start]
        self.buffer_at += start
        return out

    def _complete(self, at: int, data: bytes, end: int, flags: tuple[str, ...] = ()) -> list[Record]:
        rule = self.config.multiline
        if rule is None:
            return [Record(self.identity, at, end, data, self.path, flags, self.fp)]
        out: list[Record] = []
        if self.pending and (len(self.pending) >= rule.max_lines or not rule.continues(data)):
            out = self._flush_pending()
        self.pending.append((at, end, data, flags))
        return out

    def _flush_pending(self) -> list[Record]:
        if not self.pending:
            return []
        first, last = self.pending[0], self.pending[-1]
        flags = tuple(sorted({f for p in self.pending for f in p[3]}))
        data = b"".join(p[2] for p in self.pending)
        self.pending.clear()
        return [Record(self.identity, first[0], last[1], data, self.path, flags, self.fp)]
