"""What an alert e-mail says: the stable subject, the Message-ID scheme, and the vi/en bodies.

Threading: each recipient's first mail about a group carries the group's root id for that
recipient as its Message-ID; every follow-up (repeat, escalation, ack, resolve) gets a fresh
Message-ID and points In-Reply-To/References at that root, so every client shows one thread.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from soc.db.detection import Alert
from soc.db.notify import AlertGroup

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
STATE_LABELS = {
    "firing": "FIRING",
    "repeat": "FIRING",
    "escalation": "FIRING",
    "acknowledged": "ACKNOWLEDGED",
    "resolved": "RESOLVED",
}
EVIDENCE_LINES = 3
EVIDENCE_CHARS = 300


def subject(group: AlertGroup, kind: str, agency_name: str | None) -> str:
    """`[SOC][HIGH][FIRING:3] <rule> — <agency> — <group id>`: only the state part ever changes."""
    agency = agency_name or group.agency or "-"
    label = STATE_LABELS.get(kind, "FIRING")
    state = f"[SOC][{group.level.upper()}][{label}:{group.alert_count}]"
    return f"{state} {group.rule_title} — {agency} — {group.public_id}"


def root_message_id(group: AlertGroup, recipient: str, domain: str) -> str:
    who = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:10]
    return f"<{group.public_id}.{who}@{domain}>"


def new_message_id(group_public_id: str | None, domain: str) -> str:
    return f"<{group_public_id or 'soc'}.{secrets.token_hex(8)}@{domain}>"


def format_time(at: datetime, zone: ZoneInfo) -> str:
    """`27/11/2026 21:05:03 +07:00 (14:05:03 UTC)`: local time with its offset, and UTC."""
    local = at.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%d/%m/%Y %H:%M:%S} {offset[:3]}:{offset[3:]} ({at.astimezone(UTC):%H:%M:%S} UTC)"


@dataclass(frozen=True)
class Links:
    group: str
    runbook: str
    ack: str | None = None


@dataclass(frozen=True)
class Mail:
    kind: str
    group: AlertGroup
    alerts: list[Alert]
    agency_name: str | None
    links: Links
    zone: ZoneInfo
    extra: dict[str, Any] = field(default_factory=dict)
    """acked_by / acked_at / level (escalation) / items (digest) / failed (dead letter)."""


def render(mail: Mail, locale: str) -> tuple[str, str]:
    """The text and HTML bodies in the recipient's language (vi or en)."""
    lang = locale if locale in ("vi", "en") else "vi"
    context = {
        "kind": mail.kind,
        "g": mail.group,
        "agency": mail.agency_name or mail.group.agency or "-",
        "first_at": format_time(mail.group.first_at, mail.zone),
        "last_at": format_time(max((a.last_at for a in mail.alerts), default=mail.group.last_at), mail.zone),
        "fields": _matched_fields(mail.alerts),
        "evidence": _evidence(mail.alerts),
        "links": mail.links,
        "x": mail.extra,
        "fmt": lambda at: format_time(at, mail.zone),
    }
    text = _env.get_template(f"mail.{lang}.txt").render(context)
    html = _env.get_template(f"mail.{lang}.html").render(context)
    return text, html


def _matched_fields(alerts: list[Alert]) -> list[tuple[str, str]]:
    seen: dict[str, list[str]] = {}
    for alert in alerts:
        pairs = [("host.name", alert.host), ("user.name", alert.user_name), ("source.ip", alert.source_ip)]
        pairs += [(str(k), None if v is None else str(v)) for k, v in alert.group_key.items()]
        for name, value in pairs:
            if value and value not in seen.setdefault(name, []):
                seen[name].append(value)
    return [
        (name, ", ".join(values[:5]) + (" …" if len(values) > 5 else "")) for name, values in seen.items()
    ]


def _evidence(alerts: list[Alert]) -> list[str]:
    lines: list[str] = []
    for alert in alerts:
        for event in alert.events:
            original = event.get("original")
            if original and len(lines) < EVIDENCE_LINES:
                text = str(original)
                lines.append(text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS] + " …")
    return lines
