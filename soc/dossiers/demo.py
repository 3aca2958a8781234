"""Demo data: a handful of Cần Thơ agencies with dossiers in every stage, walked there through the
real service, so the city overview reads like the city's ("N of M approved").

`seed_demo(session, now, service)` is idempotent: it does nothing when dossiers already exist.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db import accounts
from soc.db.dossiers import Dossier
from soc.dossiers.access import Actor
from soc.dossiers.service import DossierService

ACTOR = "soc demo"
AGENCIES = [
    ("syt", "Sở Y tế", [("Cổng dịch vụ công y tế", 3, "in_operation"),
                        ("Hồ sơ sức khỏe điện tử", 3, "approved"),
                        ("Phần mềm quản lý bệnh viện", 2, "pending_approval")]),
    ("sgddt", "Sở Giáo dục và Đào tạo", [("Cơ sở dữ liệu ngành giáo dục", 3, "approved"),
                                         ("Cổng tuyển sinh đầu cấp", 3, "appraising")]),
    ("stc", "Sở Tài chính", [("Quản lý ngân sách", 3, "in_operation"), ("Cổng thông tin Sở", 1, "approved")]),
    ("stnmt", "Sở Tài nguyên và Môi trường", [("Cơ sở dữ liệu đất đai", 3, "legacy_approved"),
                                               ("Quan trắc môi trường tự động", 2, "returned_incomplete")]),
    ("vpubnd", "Văn phòng UBND thành phố", [("Hệ thống quản lý văn bản và điều hành", 3, "in_operation"),
                                            ("Hệ thống thông tin báo cáo", 2, "approved"),
                                            ("Cổng dịch vụ công thành phố", 4, "submitted")]),
    ("cathanhpho", "Công an thành phố", [("Hệ thống camera giám sát giao thông", 3, "draft")]),
]  # fmt: skip
DOCS = ["general_description", "design", "level_proposal", "security_plan"]


@dataclass(frozen=True)
class Seeded:
    dossiers: int
    approved: int
    users: tuple[str, ...]


def seed_demo(
    session: Session, now: datetime, service: DossierService, password: str | None = None
) -> Seeded:
    """Agencies, their officers, a city appraiser and approver, and dossiers in several states."""
    if session.scalar(select(Dossier.id).limit(1)) is not None:
        return Seeded(0, 0, ())
    password = password or secrets.token_urlsafe(12)
    users = ["tham-dinh", "phe-duyet"]
    _user(session, "tham-dinh", "Đơn vị thẩm định (demo)", [("appraiser", None)], password)
    _user(session, "phe-duyet", "Người phê duyệt (demo)", [("approver", None)], password)
    if accounts.get_user(session, "admin") is None:
        _user(session, "admin", "Quản trị SOC (demo)", [("admin", None)], password)
    admin, appraiser = service.actor(session, "admin"), service.actor(session, "tham-dinh")
    approver = service.actor(session, "phe-duyet")
    count = approved = 0
    for code, name, systems in AGENCIES:
        agency = accounts.get_agency_by_code(session, code) or accounts.add_agency(session, code, name, ACTOR)
        officer_name = f"can-bo-{code}"
        _user(session, officer_name, f"Cán bộ {name}", [("agency_officer", code)], password)
        users.append(officer_name)
        officer = service.actor(session, officer_name)
        for index, (system_name, level, target) in enumerate(systems):
            # Older dossiers first, so the ones still in progress sit near (or past) their deadlines.
            start = now - timedelta(days=120 - 25 * index)
            system = service.add_system(
                session, officer if target != "legacy_approved" else admin, agency_id=agency.id,
                name=system_name, system_type="public_service" if level >= 3 else "internal",
                proposed_level=level, criteria_basis="Nghị định 331/2026/NĐ-CP",
                basic_subjects=120_000 * level,
            )  # fmt: skip
            if target == "legacy_approved":
                service.import_legacy(
                    session, admin, system_ids=[system.id], approved_on=start.date(), now=start
                )
            else:
                walk = _Walk(service, session, officer, appraiser, approver, start)
                walk.to(
                    service.create(session, officer, title=system_name, system_ids=[system.id], now=start),
                    target,
                )
            count += 1
            approved += target in ("approved", "in_operation", "legacy_approved")
    return Seeded(count, approved, tuple(users))


def _user(
    session: Session, username: str, full_name: str, roles: list[tuple[str, str | None]], pw: str
) -> None:
    if accounts.get_user(session, username) is None:
        accounts.add_user(session, username=username, password=pw, email=f"{username}@cantho.gov.vn",
                          full_name=full_name, roles=roles, actor=ACTOR)  # fmt: skip


@dataclass
class _Walk:
    service: DossierService
    session: Session
    officer: Actor
    appraiser: Actor
    approver: Actor
    at: datetime

    def to(self, d: Dossier, target: str) -> None:
        if target == "draft":
            return
        for kind in DOCS:
            self._upload(d, self.officer, kind)
        if d.level >= 4:
            self._step(d, self.officer, "request_opinion")
            self._upload(d, self.appraiser, "specialised_opinion")
            self._step(d, self.appraiser, "give_opinion")
        self._step(d, self.officer, "submit")
        if target == "returned_incomplete":
            self._step(d, self.appraiser, "return_incomplete", "Thiếu sơ đồ quy hoạch địa chỉ IP")
            return
        if target == "submitted":
            return
        self._step(d, self.appraiser, "accept_complete")
        if target == "appraising":
            return
        if d.level >= 3:
            self._upload(d, self.appraiser, "appraisal_opinion")
        self._step(d, self.appraiser, "appraise_suitable")
        self._step(d, self.officer, "request_approval")
        if target == "pending_approval":
            return
        for system in d.systems:
            self.service.record_security_regulation(
                self.session, self.officer, system.id, reference=f"QĐ {d.id}/QĐ-QC", issued_on=self.at.date()
            )
        self._step(d, self.approver, "approve")
        if target == "in_operation":
            self._step(d, self.officer, "start_implementation")
            self._step(d, self.officer, "put_in_operation")

    def _step(self, d: Dossier, actor: Actor, name: str, comment: str = "") -> None:
        self.at += timedelta(days=3)
        self.service.act(
            self.session, actor, d.id, name, expected_version=d.version, comment=comment, now=self.at
        )

    def _upload(self, d: Dossier, actor: Actor, kind: str) -> None:
        data = io.BytesIO(f"%PDF-1.7\n% {kind} {d.id} {d.title}\n%%EOF\n".encode())
        self.service.upload(self.session, actor, d.id, kind=kind, filename=f"{kind}.pdf", stream=data,
                            expected_version=d.version, now=self.at)  # fmt: skip
