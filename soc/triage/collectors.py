"""Collectors and agencies: last seen, events per second, ingest lag and a "silent" alarm, within
the principal's agencies.

Three sources, each cheap: the collector tokens (`api_tokens`, kind collector; `last_used_at` is
stamped on intake at most once a minute, and collectors send a heartbeat every minute, so it is a
live "last seen" per token), the heartbeat events collectors write into dataset `soc.collector`
(per collector host: time, spool backlog), and counts of the store by `event.ingested` windows per
agency and per collector host (`agent.name`). Ingest lag is `event.ingested − @timestamp` over a
sample of the latest events of each agency.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from soc import ecs
from soc.db.detection import Alert
from soc.db.models import Agency, ApiToken
from soc.store.base import EventStore, Hit, Window, scan
from soc.store.query import MatchAll
from soc.triage.principal import Principal

SILENT_AFTER = timedelta(minutes=15)
"""Default of the `collector_silent_minutes` setting."""
"""A collector (or an agency with collectors) that sent nothing for this long is flagged silent.
There is no setting for it yet; collectors beat every 60 s by default, so 15 missed beats."""
HEARTBEAT_DATASET = "soc.collector"
HEARTBEAT_SPAN = timedelta(minutes=60)
"""How far back heartbeats are read for a collector's last beat."""
LAG_SAMPLE = 500
"""Events per agency whose ingest lag is measured (the latest five minutes)."""
OPEN_STATUSES = ("new", "acknowledged", "in_progress")


@dataclass
class Lag:
    median_seconds: float | None = None
    max_seconds: float | None = None
    sampled: int = 0

    @classmethod
    def of(cls, values: list[float]) -> Lag:
        if not values:
            return cls()
        return cls(statistics.median(values), max(values), len(values))


@dataclass
class CollectorHost:
    """One collector, as its events name it (`agent.name`)."""

    agency: str
    name: str
    last_seen_at: datetime | None
    last_heartbeat_at: datetime | None
    events_5m: int
    events_60m: int
    lag: Lag
    spool_bytes: int | None
    silent: bool

    @property
    def eps_5m(self) -> float:
        return self.events_5m / 300

    @property
    def eps_60m(self) -> float:
        return self.events_60m / 3600


@dataclass
class CollectorToken:
    id: int
    name: str
    prefix: str
    agency: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool
    silent: bool
    """Active, and nothing sent with it for the silent threshold (or never)."""


@dataclass
class AgencyRow:
    code: str
    name: str
    events_24h: int
    events_5m: int
    open_alerts: int
    tokens: int
    """Active collector tokens."""
    hosts: int
    """Collector hosts seen in the last 60 minutes."""
    last_seen_at: datetime | None
    lag: Lag
    silent: bool

    @property
    def eps_5m(self) -> float:
        return self.events_5m / 300


@dataclass
class Overview:
    now: datetime
    silent_after_seconds: int
    agencies: list[AgencyRow] = field(default_factory=list)
    collectors: list[CollectorHost] = field(default_factory=list)
    tokens: list[CollectorToken] = field(default_factory=list)


def overview(
    session: Session,
    store: EventStore,
    principal: Principal,
    now: datetime,
    *,
    agency: str | None = None,
    silent_after: timedelta = SILENT_AFTER,
) -> Overview:
    principal.require("collectors.read")
    out = Overview(now=now, silent_after_seconds=int(silent_after.total_seconds()))
    visible = principal.allowed([agency] if agency else None)
    if visible is not None and not visible:
        return out
    agencies = _agencies(session, visible)
    if not agencies:
        return out
    codes = sorted(agencies)
    scope: Collection[str] | None = None if visible is None else codes
    out.tokens = _tokens(session, codes, now, silent_after)
    per_5m = store.group_counts(MatchAll(), [ecs.AGENCY, "agent.name"], agencies=scope,
                                window=Window(now - timedelta(minutes=5), now))  # fmt: skip
    per_60m = store.group_counts(MatchAll(), [ecs.AGENCY, "agent.name"], agencies=scope,
                                 window=Window(now - timedelta(minutes=60), now))  # fmt: skip
    per_day = store.group_counts(
        MatchAll(), [ecs.AGENCY], agencies=scope, window=Window(now - timedelta(days=1), now)
    )
    beats = _heartbeats(store, scope, now)
    samples = {code: _sample(store, code, now) for code in codes}
    lags: dict[tuple[str, str], list[float]] = defaultdict(list)
    latest: dict[tuple[str, str], datetime] = {}
    for code, hits in samples.items():
        for hit in hits:
            key = (code, str(_get(hit.source, "agent.name") or ""))
            lag = _lag(hit)
            if lag is not None:
                lags[key].append(lag)
            at = _ingested(hit)
            if key not in latest or at > latest[key]:
                latest[key] = at
    hosts = {(str(a), str(n)) for (a, n) in per_60m} | set(beats)
    seen: datetime | None
    for key in sorted(hosts):
        beat_at, snapshot = beats.get(key, (None, {}))
        seen = max((t for t in (beat_at, latest.get(key)) if t is not None), default=None)
        spool = snapshot.get("spool_bytes")
        out.collectors.append(
            CollectorHost(
                agency=key[0], name=key[1], last_seen_at=seen, last_heartbeat_at=beat_at,
                events_5m=per_5m.get(key, 0), events_60m=per_60m.get(key, 0), lag=Lag.of(lags.get(key, [])),
                spool_bytes=int(spool) if isinstance(spool, int | float) else None,
                silent=seen is None or now - seen > silent_after,
            )
        )  # fmt: skip
    open_query = (
        select(Alert.agency, func.count())
        .where(Alert.agency.in_(codes), Alert.status.in_(OPEN_STATUSES))
        .group_by(Alert.agency)
    )
    open_alerts = {str(a): int(n) for a, n in session.execute(open_query)}
    for code in codes:
        mine = [t for t in out.tokens if t.agency == code and not t.revoked]
        seen_times = [t.last_used_at for t in mine if t.last_used_at] + [
            c.last_seen_at for c in out.collectors if c.agency == code and c.last_seen_at
        ]
        last_seen = max(seen_times, default=None)
        events_5m = sum(n for (a, _), n in per_5m.items() if a == code)
        out.agencies.append(
            AgencyRow(
                code=code, name=agencies[code], events_24h=per_day.get((code,), 0), events_5m=events_5m,
                open_alerts=int(open_alerts.get(code, 0)), tokens=len(mine),
                hosts=sum(1 for c in out.collectors if c.agency == code and c.events_60m),
                last_seen_at=last_seen,
                lag=Lag.of([v for (a, _), vs in lags.items() if a == code for v in vs]),
                silent=bool(mine) and (last_seen is None or now - last_seen > silent_after),
            )
        )  # fmt: skip
    return out


def _agencies(session: Session, visible: frozenset[str] | None) -> dict[str, str]:
    query = select(Agency.code, Agency.name).order_by(Agency.code)
    if visible is not None:
        query = query.where(Agency.code.in_(sorted(visible)))
    return {str(c): str(n) for c, n in session.execute(query)}


def _tokens(
    session: Session, codes: list[str], now: datetime, silent_after: timedelta
) -> list[CollectorToken]:
    query = (
        select(ApiToken, Agency.code)
        .join(Agency, Agency.id == ApiToken.agency_id)
        .where(ApiToken.kind == "collector", Agency.code.in_(codes))
        .order_by(Agency.code, ApiToken.name, ApiToken.id)
    )
    out = []
    for token, code in session.execute(query):
        revoked = token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now)
        used = token.last_used_at
        out.append(
            CollectorToken(
                id=token.id, name=token.name, prefix=token.prefix, agency=str(code),
                created_at=token.created_at,
                last_used_at=used, expires_at=token.expires_at, revoked=revoked,
                silent=not revoked and (used is None or now - used > silent_after),
            )
        )  # fmt: skip
    return out


def _heartbeats(
    store: EventStore, scope: Collection[str] | None, now: datetime
) -> dict[tuple[str, str], tuple[datetime, dict[str, Any]]]:
    """The latest heartbeat of each collector host in the last HEARTBEAT_SPAN."""
    out: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = {}
    window = Window(now - HEARTBEAT_SPAN, now)
    for hit in scan(store, MatchAll(), agencies=scope, window=window, datasets=[HEARTBEAT_DATASET]):
        key = (str(_get(hit.source, ecs.AGENCY) or ""), str(_get(hit.source, "agent.name") or ""))
        at = _ingested(hit)
        if key not in out or at >= out[key][0]:
            snapshot = hit.source.get("soc_collector")
            out[key] = (at, snapshot if isinstance(snapshot, dict) else {})
    return out


def _sample(store: EventStore, code: str, now: datetime) -> list[Hit]:
    window = Window(now - timedelta(minutes=5), now)
    return store.search(MatchAll(), agencies=[code], window=window, size=LAG_SAMPLE).hits


def _get(doc: dict[str, Any], dotted: str) -> Any:
    """A field by its dotted name, whether the document nests it or not."""
    if dotted in doc:
        return doc[dotted]
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _ingested(hit: Hit) -> datetime:
    return ecs.parse_time(hit.cursor[0])


def _lag(hit: Hit) -> float | None:
    raw = _get(hit.source, ecs.TIMESTAMP)
    try:
        at = ecs.parse_time(raw)
    except ValueError:
        return None
    return max((_ingested(hit) - at).total_seconds(), 0.0)
