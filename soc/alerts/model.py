"""From a detection finding to an alert row: the deterministic id and the fields analysts sort by.

Single-event rules: id = sha256(rule id, rule version, matched event index/id), so the same event
never alerts twice for the same rule version however often its window is evaluated. Correlations:
id = sha256(rule id, rule version, group key, window), one alert per group and window.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson

from soc import ecs
from soc.detect.model import Finding

MAX_EVIDENCE = 50
"""Matched events copied into the alert; `count` always holds the true number."""


def alert_id(finding: Finding, window: tuple[datetime, datetime]) -> str:
    rule = finding.rule
    if finding.group:
        parts: list[Any] = [rule.id, rule.version, list(finding.group), ecs.format_time(window[0])]
        parts.append(ecs.format_time(window[1]))
    else:
        parts = [rule.id, rule.version, [[h.index, h.id] for h in finding.hits]]
    return hashlib.sha256(orjson.dumps(parts, default=str)).hexdigest()


def alert_row(
    finding: Finding, window: tuple[datetime, datetime], *, backfill: bool, now: datetime
) -> dict[str, Any]:
    """The columns of one `alerts` row (soc.db.detection.Alert)."""
    rule = finding.rule
    first = finding.hits[0].source if finding.hits else {}
    return {
        "id": alert_id(finding, window),
        "rule_id": rule.id,
        "rule_version": rule.version,
        "rule_title": rule.title,
        "level": rule.level,
        "tags": list(rule.tags),
        "agency": _text(ecs.get(first, ecs.AGENCY)),
        "host": _text(ecs.get(first, "host.name") or ecs.get(first, "host.hostname")),
        "user_name": _text(ecs.get(first, "user.name")),
        "source_ip": _text(ecs.get(first, "source.ip")),
        "group_key": {str(k): v for k, v in finding.group},
        "first_at": finding.first_at,
        "last_at": finding.last_at,
        "count": finding.count,
        "events": [
            {
                "index": h.index,
                "id": h.id,
                "original": ecs.get(h.source, ecs.ORIGINAL) or h.source.get("message"),
            }
            for h in finding.hits[:MAX_EVIDENCE]
        ],
        "window_start": window[0],
        "window_end": window[1],
        "backfill": backfill,
        "status": "new",
        "suppression_id": None,
        "created_at": now,
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
