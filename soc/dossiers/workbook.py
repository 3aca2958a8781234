"""The status report and the annual report (Form 08 content) as one XLSX workbook (openpyxl).

Sheets: the summary ("N of M approved", by level, by state), each agency's status, the overdue
deadlines, and the Form 08 list of systems. Headers and state names in Vietnamese or English;
everything is limited to the reader's `Scope`. Cells are written as values, never as formulas, so
a system name starting with "=" stays text.
"""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from soc.dossiers import report
from soc.dossiers.browse import clocks
from soc.dossiers.playbook import Text
from soc.dossiers.service import DossierService

LABELS: dict[str, Text] = {
    "summary": Text(en="Summary", vi="Tổng hợp"),
    "by_agency": Text(en="By agency", vi="Theo cơ quan"),
    "overdue": Text(en="Overdue", vi="Quá hạn"),
    "form08": Text(en="Form 08", vi="Mẫu 08"),
    "generated": Text(en="Generated at", vi="Thời điểm lập"),
    "level": Text(en="Level", vi="Cấp độ"),
    "approved": Text(en="Approved", vi="Đã phê duyệt"),
    "total": Text(en="Total", vi="Tổng số"),
    "state": Text(en="State", vi="Trạng thái"),
    "count": Text(en="Dossiers", vi="Số hồ sơ"),
    "agency": Text(en="Agency", vi="Cơ quan"),
    "overdue_count": Text(en="Overdue", vi="Quá hạn"),
    "dossier": Text(en="Dossier", vi="Hồ sơ"),
    "title": Text(en="Title", vi="Tên hồ sơ"),
    "deadline": Text(en="Deadline", vi="Thời hạn"),
    "due_on": Text(en="Last day", vi="Hạn cuối"),
    "days_over": Text(en="Working days overdue", vi="Số ngày làm việc quá hạn"),
}
BOLD = Font(bold=True)


def status_workbook(
    session: Session, service: DossierService, now: datetime, lang: str, scope: report.Scope | None = None
) -> bytes:
    lang = "vi" if lang == "vi" else "en"
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = say("summary", lang)
    _summary(summary, session, service, now, lang, scope)
    _by_agency(book.create_sheet(say("by_agency", lang)), session, service, now, lang, scope)
    _overdue(book.create_sheet(say("overdue", lang)), session, service, now, lang, scope)
    form = book.create_sheet(say("form08", lang))
    rows = report.annual_rows(session, service, scope, lang)
    _table(form, report.headers(lang), [[row[key] for key, _ in report.COLUMNS] for row in rows])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def say(key: str, lang: str) -> str:
    return LABELS[key].get(lang)


def _summary(
    sheet: Worksheet, session: Session, service: DossierService, now: datetime, lang: str,
    scope: report.Scope | None,
) -> None:  # fmt: skip
    status = report.status(session, service, now, scope=scope)
    sheet.append([status.headline(lang)])
    sheet.append([say("generated", lang), service.calendar.local_date(now).strftime("%d/%m/%Y")])
    sheet.append([say("overdue_count", lang), status.overdue])
    sheet.append([])
    sheet.append([say("level", lang), say("approved", lang), say("total", lang)])
    _bold(sheet[sheet.max_row])
    for level, (approved, total) in sorted(status.by_level.items()):
        sheet.append([f"L{level}", approved, total])
    sheet.append([])
    sheet.append([say("state", lang), say("count", lang)])
    _bold(sheet[sheet.max_row])
    titles = _state_titles(service, lang)
    for state, count in sorted(status.by_state.items()):
        sheet.append([titles.get(state, state), count])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.column_dimensions["A"].width = 40
    sheet.column_dimensions["B"].width = 16
    sheet.column_dimensions["C"].width = 12


def _by_agency(
    sheet: Worksheet, session: Session, service: DossierService, now: datetime, lang: str,
    scope: report.Scope | None,
) -> None:  # fmt: skip
    rows = [[a.name, a.status.approved, a.status.total, a.status.overdue]
            for a in report.by_agency(session, service, now, scope)]  # fmt: skip
    _table(sheet, [say(k, lang) for k in ("agency", "approved", "total", "overdue_count")], rows)


def _overdue(
    sheet: Worksheet, session: Session, service: DossierService, now: datetime, lang: str,
    scope: report.Scope | None,
) -> None:  # fmt: skip
    dossiers = report.current_dossiers(session, scope)
    rows = []
    for dossier in dossiers:
        playbook = service.playbook_of(dossier)
        for clock in clocks(session, service, [dossier], now)[dossier.id]:
            if clock.overdue:
                rows.append([
                    dossier.id, dossier.title, dossier.agency.name, f"L{dossier.level}",
                    playbook.states[dossier.state].title.get(lang), clock.timer.deadline.title.get(lang),
                    clock.due_on.strftime("%d/%m/%Y"), -clock.working_days_left,
                ])  # fmt: skip
    headers = [say(k, lang) for k in ("dossier", "title", "agency", "level", "state", "deadline", "due_on")]
    _table(sheet, [*headers, say("days_over", lang)], rows)


def _table(sheet: Worksheet, headers: list[str], rows: list[list[object]]) -> None:
    sheet.append(headers)
    _bold(sheet[1])
    for row in rows:
        sheet.append(row)
        _plain(sheet[sheet.max_row])
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        longest = max([len(header), *(len(str(r[index - 1])) for r in rows)])
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = min(60, max(10, longest + 2))


def _bold(cells: tuple[Cell, ...]) -> None:
    for cell in cells:
        cell.font = BOLD


def _plain(cells: tuple[Cell, ...]) -> None:
    """openpyxl stores a string starting with "=" as a formula; user input must stay text."""
    for cell in cells:
        if cell.data_type == "f":
            cell.data_type = "s"


def _state_titles(service: DossierService, lang: str) -> dict[str, str]:
    titles: dict[str, str] = {}
    for playbook in service.library.playbooks.values():
        for name, state in playbook.states.items():
            titles.setdefault(name, state.title.get(lang))
    return titles
