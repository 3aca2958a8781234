"""The file source on real files: offsets, rotation, truncation, restarts, long lines, multiline."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from collectors.checkpoints import Checkpoints
from collectors.multiline import Multiline
from collectors.sources.base import Record
from collectors.sources.file import FileSource, Tailer


def tailer(tmp: Path, pattern: str = "app.log*", **options: object) -> Tailer:
    config = FileSource(paths=(str(tmp / pattern),), rotate_wait_seconds=0.2, **options)  # type: ignore[arg-type]
    return Tailer(config, Checkpoints.load(tmp / "checkpoints.json"))


def drain_once(t: Tailer) -> list[Record]:
    """One poll, checkpointed like the pipeline does."""
    got = t.poll()
    for r in got:
        assert r.checkpoint is not None
        t.checkpoints.advance(r.checkpoint, r.end)
    return got


def drain(t: Tailer, quiet_polls: int = 4) -> list[Record]:
    """Poll until nothing came for a few polls, checkpointing like the pipeline does."""
    out: list[Record] = []
    quiet = 0
    while quiet < quiet_polls:
        got = drain_once(t)
        out += got
        quiet = 0 if got else quiet + 1
        if not got:
            time.sleep(0.1)
    t.checkpoints.save()
    return out


def write(path: Path, *lines: str) -> None:
    with path.open("ab") as f:
        f.write("".join(line + "\n" for line in lines).encode())


def texts(records: list[Record]) -> list[str]:
    return [r.data.decode().rstrip("\n") for r in records]


def test_it_reads_complete_lines_with_their_byte_ranges(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"first\nsecond\npartial")
    records = drain(tailer(tmp_path))
    assert [(r.offset, r.end, r.data) for r in records] == [(0, 6, b"first\n"), (6, 13, b"second\n")]


def test_it_finishes_a_renamed_file_before_its_successor(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, *(f"old {i}" for i in range(100)))
    t = tailer(tmp_path, "app.log")  # the rotated name is NOT matched: the open handle must finish it
    first = drain(t)
    os.rename(log, tmp_path / "rotated.1")
    write(tmp_path / "rotated.1", "old late")  # the writer had not reopened yet
    write(log, *(f"new {i}" for i in range(50)))
    rest = drain(t)
    assert texts(first + rest) == [f"old {i}" for i in range(100)] + ["old late"] + [
        f"new {i}" for i in range(50)
    ]


def test_it_loses_nothing_on_copytruncate(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, *(f"a {i}" for i in range(100)))
    t = tailer(tmp_path)
    got = drain(t)
    write(log, *(f"b {i}" for i in range(30)))  # written but not yet read when logrotate copies
    shutil.copyfile(log, tmp_path / "app.log.1")
    with log.open("r+b") as f:
        f.truncate(0)
    write(log, *(f"c {i}" for i in range(20)))
    got += drain(t)
    assert sorted(texts(got)) == sorted([f"a {i}" for i in range(100)] + [f"b {i}" for i in range(30)]
                                        + [f"c {i}" for i in range(20)])  # fmt: skip


OLD = 20_000
"""Old lines: more than one read chunk (64 KiB), so part of the old file is still unread when it
is rotated, and the new content reaches past the old offset."""


def copytruncate_and_write_again(tmp: Path) -> None:
    log = tmp / "app.log"
    shutil.copyfile(log, tmp / "app.log.1")
    with log.open("r+b") as f:
        f.truncate(0)
    write(log, *(f"new {i}" for i in range(OLD + 5000)))


def stored_once(records: list[Record]) -> list[str]:
    """What a create-only store keeps: the first record for each (identity, offset)."""
    kept: dict[tuple[str, int], Record] = {}
    for r in records:
        kept.setdefault((r.source, r.offset), r)
    return sorted(texts(list(kept.values())))


@pytest.mark.parametrize(
    "after",
    [
        pytest.param("scan", id="between-the-look-and-the-read"),
        pytest.param("_fingerprint", id="between-the-look-at-a-path-and-its-opening"),
    ],
)
def test_it_never_reads_new_content_under_the_old_identity_when_copytruncate_lands_between_looks(
    tmp_path: Path, after: str
) -> None:
    """copytruncate, and the application writing again, while a poll is under way: the open handle
    (or the path about to be opened) now shows the new content past the old offset. Read under the
    old identity and offsets, it would be stored twice, and its ids would take the places of the
    old lines still to be read from the copy (a create-only store then drops those)."""
    write(tmp_path / "app.log", *(f"old {i}" for i in range(OLD)))
    t = tailer(tmp_path, batch_records=1000)
    got = drain_once(t)
    look = getattr(t, after)

    def look_then_rotate(*args: str) -> object:
        seen = look(*args)
        copytruncate_and_write_again(tmp_path)
        setattr(t, after, look)
        return seen

    setattr(t, after, look_then_rotate)
    got += drain(t)
    expected = sorted([f"old {i}" for i in range(OLD)] + [f"new {i}" for i in range(OLD + 5000)])
    assert stored_once(got) == expected
    assert sorted(texts(got)) == expected  # and nothing read twice under another identity


def test_it_reads_a_file_truncated_in_place_again_as_a_new_generation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, "same header", *(f"x {i}" for i in range(10)))
    t = tailer(tmp_path)
    before = drain(t)
    with log.open("r+b") as f:
        f.truncate(0)
    write(log, "same header", "y 0")
    after = drain(t)
    assert texts(after) == ["same header", "y 0"]
    assert after[0].source != before[0].source  # new ids: the store must not take them for duplicates


def test_it_resumes_from_its_checkpoint_after_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, *(f"l {i}" for i in range(10)))
    drain(tailer(tmp_path))
    write(log, "l 10", "l 11")
    assert texts(drain(tailer(tmp_path))) == ["l 10", "l 11"]


def test_it_keeps_identity_by_content_not_by_name(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, "one", "two")
    t = tailer(tmp_path)
    drain(t)
    log.unlink()
    write(log, "other content", "two")  # same path, maybe the same inode: a different file
    assert texts(drain(t)) == ["other content", "two"]


def test_it_starts_at_the_end_of_files_present_at_first_start_only(tmp_path: Path) -> None:
    write(tmp_path / "app.log", "old 1", "old 2")
    t = tailer(tmp_path, start_at="end")
    assert drain(t) == []
    write(tmp_path / "app.log", "fresh")
    write(tmp_path / "app.log.2", "appeared later")
    assert sorted(texts(drain(t))) == ["appeared later", "fresh"]


def test_it_truncates_long_lines_with_a_flag_and_keeps_going(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"short\n" + b"x" * 5000 + b"\nafter\n")
    records = drain(tailer(tmp_path, max_line_bytes=100))
    assert [(len(r.data), r.flags) for r in records] == [(6, ()), (100, ("truncated",)), (6, ())]
    assert records[1].end == 6 + 5001
    assert records[2].offset == 6 + 5001


def test_it_joins_multiline_records_by_pattern(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, "2026-01-01 boom", "  at a()", "  at b()", "2026-01-01 ok")
    records = drain(tailer(tmp_path, multiline=Multiline(r"^\s")), quiet_polls=15)
    assert [r.data for r in records] == [b"2026-01-01 boom\n  at a()\n  at b()\n", b"2026-01-01 ok\n"]
    assert records[1].offset == len(b"2026-01-01 boom\n  at a()\n  at b()\n")
