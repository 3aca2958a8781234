"""`file`: tail files matched by globs, surviving rotation, truncation and restarts without loss.

Identity is the content fingerprint (hash of the first line, or of the first `fingerprint_bytes`
when that line is longer), not the inode: a renamed file keeps its identity (and its checkpoint),
a re-used inode or a recreated file gets a new one. Open files are kept open after a rename or a
delete until they have been read to the end and stayed quiet for `rotate_wait_seconds`, and the
oldest identity is read first, so a rotated file is finished before its successor. A file whose
fingerprint is unchanged but which shrank was truncated in place: it starts a new generation.
Truncation can land between two looks (copytruncate while the application keeps writing), so a
file is checked against its identity when it is opened and after every read: new content never
goes out under the old identity and offsets.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import ClassVar

from collectors.checkpoints import Checkpoints, Position
from collectors.multiline import Multiline
from collectors.sources.base import Emit, Record, Stop
from collectors.sources.reader import Reader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSource:
    type: ClassVar[str] = "file"
    pausable: ClassVar[bool] = True
    """Its data waits on disk, so under an EPS cap it stops reading rather than filling the spool."""
    paths: tuple[str, ...]
    """Glob patterns; include rotated names (`access.log*`) so a restart mid-rotation loses nothing."""
    start_at: str = "beginning"
    """Where to start a file never seen before that exists at first start: `beginning` or `end`."""
    multiline: Multiline | None = None
    """Join continuation lines into one record."""
    max_line_bytes: int = 256 * 1024
    """Longer lines are truncated to this many bytes and flagged `truncated`, never dropped."""
    fingerprint_bytes: int = 1024
    """At most this many leading bytes identify a file."""
    rotate_wait_seconds: float = 5.0
    """How long a file that left its path is still read after its last new byte."""
    poll_seconds: float = 0.2
    """Pause between looks for new data when everything has been read."""
    batch_records: int = 2000
    """Records handed on at once."""

    def resources(self) -> list[str]:
        return [f"file:{p}" for p in self.paths]

    def run(self, emit: Emit, stop: Stop, checkpoints: Checkpoints) -> None:
        Tailer(self, checkpoints).run(emit, stop)


@dataclass
class Tailer:
    config: FileSource
    checkpoints: Checkpoints
    readers: dict[str, Reader] = field(default_factory=dict)
    first_scan: bool = True

    def run(self, emit: Emit, stop: Stop) -> None:
        while not stop.is_set():
            records = self.poll()
            if records:
                emit(records)
            else:
                stop.wait(self.config.poll_seconds)

    def poll(self) -> list[Record]:
        """Records ready now (at most one batch), oldest identity first."""
        self.scan()
        out: list[Record] = []
        now = time.monotonic()
        for key in sorted(self.readers, key=lambda k: self.readers[k].first_seen):
            reader = self.readers[key]
            out += reader.read(self.config.batch_records - len(out), now)
            if reader.finished(now):
                log.info("file finished after rotation; path=%s identity=%s", reader.path, key)
                reader.close()
                del self.readers[key]
            if len(out) >= self.config.batch_records:
                break
        return out

    def scan(self) -> None:
        found: dict[str, tuple[str, int]] = {}
        for pattern in self.config.paths:
            for path in sorted(glob.glob(pattern)):
                seen = self._fingerprint(path)
                if seen is not None and (seen[0] not in found or seen[1] > found[seen[0]][1]):
                    found[seen[0]] = (path, seen[1])
        for key, reader in list(self.readers.items()):
            if not reader.still_same(self.config.fingerprint_bytes):
                # the open file was truncated or rewritten under us (copytruncate): its old
                # content, if anywhere, is at another path with this fingerprint
                log.info("file changed under an open handle; path=%s identity=%s", reader.path, key)
                reader.close()
                del self.readers[key]
            elif key in found:
                reader.path = found[key][0]
                reader.gone = False
            else:
                reader.gone = True
        for fp, (path, size) in found.items():
            if fp not in self.readers:
                self._open(fp, path, size)
        self.first_scan = False

    def _fingerprint(self, path: str) -> tuple[str, int] | None:
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                head = f.read(self.config.fingerprint_bytes)
        except OSError:
            return None
        fp = fingerprint(head, self.config.fingerprint_bytes)
        return None if fp is None else (fp, size)

    def _open(self, fp: str, path: str, size: int) -> None:
        position = self.checkpoints.get(fp)
        generation = 0
        if position is None:
            start = size if (self.first_scan and self.config.start_at == "end") else 0
            first_seen = time.time()
        else:
            start, generation, first_seen = position.offset, position.generation, position.first_seen
            if size < start:
                log.warning("file shrank, reading it again as a new generation; path=%s", path)
                start, generation = 0, generation + 1
        try:
            reader = Reader.open(path, fp, generation, start, first_seen, self.config)
        except OSError as exc:
            log.warning("cannot open file; path=%s error=%s", path, exc)
            return
        if fingerprint(reader.head, self.config.fingerprint_bytes) != fp:
            # rotated again since the scan looked (copytruncate, then written anew): this is no
            # longer that content; the next scan finds where it went
            reader.close()
            return
        if position is None or generation != position.generation:
            self.checkpoints.reset(fp, Position(start, path, generation, first_seen))
        else:
            self.checkpoints.advance(fp, start, path=path)
        self.readers[fp] = reader


def fingerprint(head: bytes, limit: int) -> str | None:
    """A file's identity from its first `limit` bytes: the hash of its first line, or of all
    `limit` bytes when that line is longer; None while the first line is not complete."""
    cut = head.find(b"\n")
    if cut >= 0:
        head = head[: cut + 1]
    elif len(head) < limit:
        return None
    return hashlib.sha256(head).hexdigest()[:32]
