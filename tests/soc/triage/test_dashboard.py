"""Dashboard numbers over a small seeded set: alerts over time by severity, top rules, per agency,
MTTA and MTTR, open by status — and agency isolation of every one of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from soc.db.models import User
from soc.db.session import session_scope
from soc.triage import dashboard
from soc.triage.principal import Forbidden, Invalid, Principal
from tests.soc.web.conftest import Web

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)


def add(w: Web, agency: str, n: int, at: datetime, **fields: object) -> None:
    w.add_alert(agency, n=n, first_at=at, created_at=at, **fields)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """Read-only tests share one seeded service (signing up the actors is slow)."""
    w = Web(tmp_path_factory.mktemp("dashboard"))
    at = NOW - timedelta(hours=3)  # 09:30 UTC = 16:30 local
    # so-a: 2 high (one acked after 10 min and closed after 60 min, one acked after 20 min), 1 low open
    add(w, "so-a", 1, at, id="a1", level="high", status="closed",
                acknowledged_at=at + timedelta(minutes=10), closed_at=at + timedelta(minutes=60))  # fmt: skip
    add(w, "so-a", 2, at, id="a2", level="high", status="acknowledged",
                acknowledged_at=at + timedelta(minutes=20))  # fmt: skip
    add(w, "so-a", 3, at - timedelta(hours=1), id="a3", level="low", rule_id="r-other",
        rule_title="Other rule")  # fmt: skip
    # so-b: 1 critical acked after 2 h (would change the means if it leaked), in progress
    add(w, "so-b", 4, at, id="b1", level="critical", status="in_progress",
                acknowledged_at=at + timedelta(hours=2), in_progress_at=at + timedelta(hours=2))  # fmt: skip
    # outside the 24 h range
    add(w, "so-a", 5, NOW - timedelta(days=3), id="old", level="medium")
    yield w
    w.store.close()


def principal(web: Web, name: str) -> Principal:
    with session_scope(web.db) as s:
        user = s.scalar(select(User).where(User.username == name))
        assert user is not None
        return Principal.of(user)


def load(web: Web, name: str, range_key: str = "24h", agencies: tuple[str, ...] = ()) -> dashboard.Dashboard:
    with session_scope(web.db) as s:
        return dashboard.dashboard(
            s, principal(web, name), range_key=range_key, now=NOW, zone=ZONE, agencies=agencies
        )


def test_it_counts_alerts_per_hour_and_level(web: Web) -> None:
    d = load(web, "analyst")
    assert d.total == 4
    chart = d.over_time
    assert chart.bucket == "hour"
    assert len(chart.starts) == 25
    hour = chart.starts.index(datetime(2026, 11, 27, 16, 0, tzinfo=ZONE))
    assert chart.counts["high"][hour] == 2
    assert chart.counts["critical"][hour] == 1
    assert chart.counts["low"][hour - 1] == 1
    assert sum(chart.totals) == 4


def test_it_uses_local_days_for_longer_ranges(web: Web) -> None:
    d = load(web, "analyst", "7d")
    assert d.over_time.bucket == "day"
    assert d.total == 5
    assert d.over_time.starts[-1] == datetime(2026, 11, 27, 0, 0, tzinfo=ZONE)
    assert d.over_time.counts["medium"][d.over_time.starts.index(datetime(2026, 11, 24, tzinfo=ZONE))] == 1


def test_it_computes_mean_times_to_acknowledge_and_resolve(web: Web) -> None:
    times = load(web, "analyst").times
    assert times.acknowledged == 3
    assert times.resolved == 1
    assert times.mtta_seconds == pytest.approx((10 + 20 + 120) * 60 / 3)
    assert times.mttr_seconds == pytest.approx(60 * 60)


def test_it_ranks_rules_and_agencies(web: Web) -> None:
    d = load(web, "analyst")
    assert d.top_rules == [("r-ssh-brute", "SSH brute force", 3), ("r-other", "Other rule", 1)]
    assert d.per_agency == [("so-a", "Sở A", 3), ("so-b", "Sở B", 1)]


def test_it_counts_open_alerts_by_status_whatever_their_age(web: Web) -> None:
    assert load(web, "analyst").open_by_status == {"new": 2, "acknowledged": 1, "in_progress": 1}


def test_officer_sees_only_own_agency_numbers(web: Web) -> None:
    d = load(web, "officer_a")
    assert d.total == 3
    assert d.per_agency == [("so-a", "Sở A", 3)]
    assert d.over_time.counts["critical"] == [0] * len(d.over_time.starts)
    assert d.times.mtta_seconds == pytest.approx(15 * 60)
    assert d.open_by_status == {"new": 2, "acknowledged": 1, "in_progress": 0}


def test_officer_asking_for_another_agency_gets_nothing(web: Web) -> None:
    d = load(web, "officer_a", agencies=("so-b",))
    assert d.total == 0
    assert d.per_agency == []
    assert d.times.acknowledged == 0
    assert sum(d.open_by_status.values()) == 0


def test_outsider_is_refused(web: Web) -> None:
    with pytest.raises(Forbidden):
        load(web, "outsider")


def test_it_refuses_unknown_ranges(web: Web) -> None:
    with pytest.raises(Invalid):
        load(web, "analyst", "1y")


def test_list_chart_follows_the_alert_list_filters(web: Web) -> None:
    with session_scope(web.db) as s:
        p = principal(web, "analyst")
        since = {"from": ["2026-11-27T00:00"], "to": ["2026-11-28T00:00"]}  # local days
        chart, start, end = dashboard.list_chart(s, p, since, NOW, ZONE)
        assert (start, end) == (datetime(2026, 11, 27, tzinfo=ZONE), datetime(2026, 11, 28, tzinfo=ZONE))
        assert sum(chart.totals) == 3  # open by default: not a1 (closed), not old (out of range)
        chart, *_ = dashboard.list_chart(s, p, since | {"status": ["all"], "level": ["high"]}, NOW, ZONE)
        assert sum(chart.totals) == 2
        chart, *_ = dashboard.list_chart(
            s, principal(web, "officer_a"), since | {"agency": ["so-b"]}, NOW, ZONE
        )
        assert sum(chart.totals) == 0
        with pytest.raises(Invalid):
            dashboard.list_chart(s, p, {"level": ["severe"]}, NOW, ZONE)


def test_bucket_starts_are_contiguous_local_hours_and_days() -> None:
    start = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)
    hours = dashboard.bucket_starts(start, start + timedelta(hours=3), "hour", ZONE)
    assert [h.hour for h in hours] == [0, 1, 2, 3]
    days = dashboard.bucket_starts(start, start + timedelta(days=3), "day", ZONE)
    assert [d.day for d in days] == [27, 28, 29, 30]
