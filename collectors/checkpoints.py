"""Where each source has got to, persisted atomically (write, fsync, rename).

A key is a source identity (for files: content fingerprint + generation); the value is the byte
offset just after the last record that reached durable storage (the spool). On start the
pipeline also folds in the offsets found in the spool itself, so a crash between the spool's
fsync and this file's save never makes a record be read twice.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Position:
    offset: int
    path: str = ""
    generation: int = 0
    first_seen: float = 0.0


@dataclass
class Checkpoints:
    path: Path
    positions: dict[str, Position] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path) -> Checkpoints:
        cp = cls(path)
        try:
            raw: dict[str, Any] = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return cp
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: checkpoint file is damaged ({exc}); move it aside to re-read") from exc
        for key, value in raw.get("positions", {}).items():
            cp.positions[key] = Position(**value)
        return cp

    def get(self, key: str) -> Position | None:
        with self._lock:
            return self.positions.get(key)

    def advance(self, key: str, offset: int, **extra: Any) -> None:
        """Move a key forward; never back (records may be confirmed twice after a restart)."""
        with self._lock:
            current = self.positions.get(key)
            if current is None:
                self.positions[key] = Position(offset, **extra)
            elif offset > current.offset:
                current.offset = offset
            for name, value in extra.items():
                if current is not None and name != "first_seen":
                    setattr(current, name, value)

    def reset(self, key: str, position: Position) -> None:
        """Start a key over (a file truncated in place begins a new generation at 0)."""
        with self._lock:
            self.positions[key] = position

    def save(self) -> None:
        with self._lock:
            body = orjson.dumps(
                {"positions": {k: vars(v) for k, v in self.positions.items()}}, option=orjson.OPT_INDENT_2
            )
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
