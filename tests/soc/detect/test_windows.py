from __future__ import annotations

from datetime import UTC, datetime, timedelta

from soc.detect.windows import Timing, chunks, plan

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
T = Timing(interval=timedelta(minutes=5), settle=timedelta(seconds=10))
END = NOW - T.settle


def test_it_starts_a_new_rule_with_the_latest_interval() -> None:
    p = plan(None, NOW, T)
    assert p.windows == [(END - T.interval, END)]
    assert p.gap is None


def test_it_continues_exactly_from_the_watermark() -> None:
    wm = END - timedelta(minutes=3)
    assert plan(wm, NOW, T).windows == [(wm, END)]


def test_it_catches_up_oldest_first_in_contiguous_bounded_windows() -> None:
    wm = END - timedelta(hours=3, minutes=7)
    p = plan(wm, NOW, Timing(interval=T.interval, settle=T.settle, max_windows_per_run=100))
    assert p.windows[0][0] == wm
    assert p.windows[-1][1] == END
    assert all(a[1] == b[0] for a, b in zip(p.windows, p.windows[1:], strict=False))
    assert max(e - s for s, e in p.windows) <= T.max_window
    assert [s < p.backfill_before for s, _ in p.windows][:3] == [True, True, True]


def test_it_bounds_the_work_of_one_run() -> None:
    wm = END - timedelta(hours=20)
    p = plan(wm, NOW, T)
    assert len(p.windows) == T.max_windows_per_run
    assert p.windows[-1][1] < END


def test_it_records_a_gap_beyond_the_catch_up_limit() -> None:
    wm = END - timedelta(days=3)
    p = plan(wm, NOW, T)
    assert p.gap == (wm, END - T.catch_up)
    assert p.windows[0][0] == END - T.catch_up


def test_it_has_nothing_to_do_when_up_to_date() -> None:
    assert plan(END, NOW, T).windows == []


def test_it_splits_a_backfill_span_into_chunks() -> None:
    start = NOW - timedelta(hours=2, minutes=30)
    assert chunks(start, NOW, timedelta(hours=1)) == [
        (start, start + timedelta(hours=1)),
        (start + timedelta(hours=1), start + timedelta(hours=2)),
        (start + timedelta(hours=2), NOW),
    ]
