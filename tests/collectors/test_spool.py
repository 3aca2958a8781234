"""The disk spool: order, restart, torn writes, damaged frames, bounds."""

from __future__ import annotations

import threading
from pathlib import Path

from collectors.spool import Spool


def drain(spool: Spool) -> list[bytes]:
    out: list[bytes] = []
    while (batch := spool.read(100, 1 << 20, 0)) is not None:
        out += map(bytes, batch.frames)
        spool.ack(batch)
    return out


def test_it_hands_frames_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=100)
    frames = [b"frame %d" % i for i in range(50)]
    for i in range(0, 50, 5):
        spool.append(frames[i : i + 5])
    assert drain(spool) == frames
    assert len(list(tmp_path.glob("seg-*.log"))) == 1  # acked segments are deleted


def test_it_keeps_unacked_frames_across_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([b"a", b"b", b"c"])
    batch = spool.read(1, 1 << 20, 0)
    assert batch is not None
    spool.ack(batch)
    spool.read(10, 1 << 20, 0)  # read but never acked: the process dies here
    spool.close()
    assert drain(Spool(tmp_path)) == [b"b", b"c"]


def test_it_cuts_a_torn_last_frame(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([b"whole"])
    spool.close()
    [segment] = tmp_path.glob("seg-*.log")
    with segment.open("ab") as f:
        f.write(b"\x00\x00\x00\x10\x00")  # a crash in the middle of the next write
    reopened = Spool(tmp_path)
    reopened.append([b"after"])
    assert drain(reopened) == [b"whole", b"after"]


def test_it_skips_and_counts_a_damaged_frame(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([b"good one", b"bad frame", b"good two"])
    spool.close()
    [segment] = tmp_path.glob("seg-*.log")
    data = bytearray(segment.read_bytes())
    data[data.index(b"bad frame")] ^= 0xFF
    segment.write_bytes(bytes(data))
    reopened = Spool(tmp_path)
    assert drain(reopened) == [b"good one", b"good two"]
    assert reopened.corrupt_frames == 1


def test_it_blocks_writers_while_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append([b"x" * 90])
    stop = threading.Event()
    stop.set()
    assert spool.append([b"y" * 50], stop) is False  # would overflow: waits, gives up on stop
    assert spool.full_waits >= 1
    drain(spool)
    assert spool.append([b"y" * 50]) is True


def test_it_reads_a_frame_larger_than_one_read_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1 << 30)
    big = b"x" * (3 << 20)  # larger than READ_BYTES and than the batch's byte budget
    frames = [b"before", big, b"after"]
    spool.append(frames)
    out: list[bytes] = []
    while (batch := spool.read(100, 1 << 20, 0)) is not None:
        out += map(bytes, batch.frames)
        spool.ack(batch)
    assert out == frames


def test_a_reader_keeps_up_with_a_writer_changing_segments(tmp_path: Path) -> None:
    """The sink reads while sources append; segment changes happen under its feet.

    Before, the reader could look at the writer's file object while it was being swapped (and die
    on a closed file), or skip a frame written to a segment just before the writer moved on.
    """
    spool = Spool(tmp_path, segment_bytes=64)
    frames = [b"frame %05d" % i for i in range(3000)]

    def write() -> None:
        for i in range(0, len(frames), 3):
            spool.append(frames[i : i + 3])

    writer = threading.Thread(target=write)
    writer.start()
    out: list[bytes] = []
    while writer.is_alive() or len(out) < len(frames):
        batch = spool.read(7, 1 << 20, 0.01)
        if batch is None:
            if not writer.is_alive() and spool.read_at >= spool.written:
                break
            continue
        out += map(bytes, batch.frames)
        spool.ack(batch)
    writer.join()
    assert out == frames
