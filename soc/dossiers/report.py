"""Reports: the "approved X of Y" status per agency and for the city (by level, overdue), and the
annual report (Form 08 content) as CSV (the XLSX workbook is in `workbook.py`).

The count is per current dossier: for each information system, its newest dossier that was not
withdrawn. Legacy-regime approvals count as approved and are flagged with their compliance deadline.
Every function takes an optional `Scope` (what one reader may see); None is the whole city.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db.dossiers import Dossier, InformationSystem
from soc.db.models import Agency
from soc.dossiers.deadlines import overdue
from soc.dossiers.playbook import LEVELS, Text
from soc.dossiers.service import DossierService


@dataclass(frozen=True)
class Scope:
    """What one reader may count: every system of `agencies` (their officers) and any dossier
    `sees` lets through (routed to them). Build it with `browse.scope_of`."""

    agencies: frozenset[int]
    sees: Callable[[Dossier], bool]

    def dossier(self, dossier: Dossier) -> bool:
        return dossier.agency_id in self.agencies or self.sees(dossier)

    def system(self, system: InformationSystem, dossier: Dossier | None) -> bool:
        return system.agency_id in self.agencies or (dossier is not None and self.sees(dossier))


@dataclass
class Status:
    approved: int = 0
    total: int = 0
    overdue: int = 0
    by_level: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Level: (approved, total)."""
    by_state: dict[str, int] = field(default_factory=dict)

    def headline(self, lang: str = "en") -> str:
        if lang == "vi":
            return f"{self.approved}/{self.total} hồ sơ đã được phê duyệt"
        return f"{self.approved} of {self.total} dossiers approved"


@dataclass(frozen=True)
class AgencyStatus:
    code: str
    name: str
    status: Status


def current_dossiers(session: Session, scope: Scope | None = None) -> list[Dossier]:
    """Each system's newest dossier that was not withdrawn (a dossier may cover several systems)."""
    newest: dict[int, Dossier] = {}
    for dossier in session.scalars(select(Dossier).order_by(Dossier.id)):
        if dossier.state == "withdrawn":
            continue
        for system in dossier.systems:
            newest[system.id] = dossier
    current = sorted({d.id: d for d in newest.values()}.values(), key=lambda d: d.id)
    return [d for d in current if scope is None or scope.dossier(d)]


def status(
    session: Session,
    service: DossierService,
    now: datetime,
    agency_id: int | None = None,
    scope: Scope | None = None,
) -> Status:
    dossiers = [d for d in current_dossiers(session, scope) if agency_id is None or d.agency_id == agency_id]
    late = {t.dossier_id for t in overdue(session, service, now)}
    out = Status()
    levels = {n: [0, 0] for n in LEVELS}
    for d in dossiers:
        ok = d.state in service.playbook_of(d).approved_states()
        out.total += 1
        out.approved += ok
        out.overdue += d.id in late
        levels[d.level][0] += ok
        levels[d.level][1] += 1
        out.by_state[d.state] = out.by_state.get(d.state, 0) + 1
    out.by_level = {n: (a, t) for n, (a, t) in levels.items() if t}
    return out


def by_agency(
    session: Session, service: DossierService, now: datetime, scope: Scope | None = None
) -> list[AgencyStatus]:
    agencies = session.scalars(select(Agency).order_by(Agency.name)).all()
    rows = [AgencyStatus(a.code, a.name, status(session, service, now, a.id, scope)) for a in agencies]
    return [r for r in rows if r.status.total]


COLUMNS = [
    ("agency", "Cơ quan / Agency"),
    ("system", "Hệ thống thông tin / Information system"),
    ("type", "Loại hệ thống / System type"),
    ("proposed_level", "Cấp độ đề xuất / Proposed level"),
    ("approved_level", "Cấp độ được phê duyệt / Approved level"),
    ("state", "Trạng thái hồ sơ / Dossier status"),
    ("regime", "Căn cứ pháp lý / Legal regime"),
    ("approved_on", "Ngày phê duyệt / Approved on"),
    ("implementation", "Tình hình triển khai phương án / Plan implementation"),
    ("security_regulation", "Quy chế bảo đảm ATTT / Security regulation"),
    ("inspections", "Kiểm tra, đánh giá / Inspections"),
    ("legacy_deadline", "Hạn đáp ứng luật mới (hồ sơ theo NĐ 85) / Legacy compliance deadline"),
]
IMPLEMENTATION = {
    "implementing": Text(en="Implementing", vi="Đang triển khai"),
    "in_operation": Text(en="In operation", vi="Đã triển khai, đang vận hành"),
}
NO_DOSSIER = Text(en="No dossier", vi="Chưa có hồ sơ")
NOT_ISSUED = Text(en="Not issued", vi="Chưa ban hành")


def headers(lang: str | None = None) -> list[str]:
    """Column titles: both languages (None, as the CSV has them) or one of them."""
    return [_say(Text(en=t.split(" / ", 1)[1], vi=t.split(" / ", 1)[0]), lang) for _, t in COLUMNS]


def annual_rows(
    session: Session, service: DossierService, scope: Scope | None = None, lang: str | None = None
) -> list[dict[str, str]]:
    """Form 08 content: one row per information system, with its current dossier; texts in both
    languages ("vi / en") unless `lang` picks one."""
    current = {s.id: d for d in current_dossiers(session) for s in d.systems}
    rows = []
    systems = session.scalars(
        select(InformationSystem).order_by(InformationSystem.agency_id, InformationSystem.name)
    )
    for system in systems:
        d = current.get(system.id)
        if scope is not None and not scope.system(system, d):
            continue
        state = service.playbook_of(d).states[d.state].title if d else NO_DOSSIER
        implementation = IMPLEMENTATION.get(d.state) if d else None
        rows.append({
            "agency": system.agency.name,
            "system": system.name,
            "type": system.system_type,
            "proposed_level": str(system.proposed_level),
            "approved_level": str(system.approved_level or ""),
            "state": _say(state, lang),
            "regime": d.regime if d else "",
            "approved_on": _day(d.approved_at if d else None, service) if not (d and d.legacy_approved_on)
            else d.legacy_approved_on.strftime("%d/%m/%Y"),
            "implementation": _say(implementation, lang) if implementation else "",
            "security_regulation": _regulation(system, lang),
            "inspections": "",
            "legacy_deadline": d.legacy_deadline.strftime("%d/%m/%Y") if d and d.legacy_deadline else "",
        })  # fmt: skip
    return rows


def annual_csv(
    session: Session, service: DossierService, scope: Scope | None = None, lang: str | None = None
) -> str:
    """The annual report as CSV (UTF-8 with BOM so spreadsheet programs read Vietnamese right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers(lang))
    for row in annual_rows(session, service, scope, lang):
        writer.writerow([_cell(row[key]) for key, _ in COLUMNS])
    return "\ufeff" + buffer.getvalue()


def _cell(value: str) -> str:
    """Spreadsheet programs run a cell starting with = + - @ as a formula: keep user text text."""
    return "'" + value if value.startswith(("=", "+", "-", "@")) else value


def _say(text: Text, lang: str | None) -> str:
    return f"{text.vi} / {text.en}" if lang is None else text.get(lang)


def _regulation(system: InformationSystem, lang: str | None = None) -> str:
    if system.security_regulation_issued_on is None:
        return _say(NOT_ISSUED, lang)
    return f"{system.security_regulation_ref or ''} ({system.security_regulation_issued_on:%d/%m/%Y})".strip()


def _day(at: datetime | None, service: DossierService) -> str:
    return service.calendar.local_date(at).strftime("%d/%m/%Y") if at else ""
