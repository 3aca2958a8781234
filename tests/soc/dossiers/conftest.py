"""A small city for dossier tests: agencies, the standard actors and a service on a real database.

Agencies: syt (agency A), sgd (agency B), stttt (the specialised unit), bca (Ministry of Public
Security), ubnd (system owner). Users are inserted as rows with their grants (no password hashing:
nobody logs in here). `pg_world` runs the same world on the real PostgreSQL server.
"""

from __future__ import annotations

import io
import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from soc.db import migrate
from soc.db.dossiers import Dossier, DossierTransition, InformationSystem
from soc.db.models import Agency, RoleGrant, User
from soc.db.session import make_engine, session_factory
from soc.dossiers.access import Actor
from soc.dossiers.calendar import WorkingCalendar
from soc.dossiers.library import load_library
from soc.dossiers.service import DossierService
from tests.soc.db.conftest import postgres_admin_url as postgres_admin_url
from tests.soc.db.conftest import postgres_url as postgres_url

NOW = datetime(2026, 9, 7, 2, 0, tzinfo=UTC)
"""Monday 7 September 2026, 09:00 in Vietnam."""
BODIES = "specialised_unit=stttt,ministry_of_public_security=bca,system_owner=ubnd"
AGENCIES = {"syt": "Sở Y tế", "sgd": "Sở Giáo dục và Đào tạo", "stttt": "Sở Thông tin và Truyền thông",
            "bca": "Bộ Công an", "ubnd": "UBND thành phố Cần Thơ"}  # fmt: skip
USERS: dict[str, list[tuple[str, str | None]]] = {
    "officer_a": [("agency_officer", "syt")],
    "officer_b": [("agency_officer", "sgd")],
    "officer_unit": [("agency_officer", "stttt")],
    "appraiser": [("appraiser", "stttt")],
    "unit_approver": [("approver", "stttt")],
    "approver": [("approver", "ubnd")],
    "mps_appraiser": [("appraiser", "bca")],
    "independent": [("appraiser", None)],
    "analyst": [("soc_analyst", None)],
    "admin": [("admin", None)],
    "outsider": [],
}
LEVEL_DOCS = ["general_description", "design", "level_proposal", "security_plan"]
_unique = itertools.count()


def pdf(label: str = "") -> io.BytesIO:
    return io.BytesIO(b"%PDF-1.7\n" + f"{label} {next(_unique)}".encode() + b"\n%%EOF\n")


@dataclass
class World:
    session: Session
    service: DossierService
    agencies: dict[str, int]
    actors: dict[str, Actor] = field(default_factory=dict)

    def __getitem__(self, username: str) -> Actor:
        return self.actors[username]

    def system(self, agency: str = "syt", level: int = 3, name: str = "", **kw: Any) -> InformationSystem:
        officer = {"syt": "officer_a", "sgd": "officer_b", "stttt": "officer_unit"}[agency]
        return self.service.add_system(
            self.session, self[officer], agency_id=self.agencies[agency],
            name=name or f"Hệ thống {next(_unique)}", system_type="public_service",
            proposed_level=level, **kw,
        )  # fmt: skip

    def dossier(self, level: int = 3, agency: str = "syt", playbook: str | None = None, **kw: Any) -> Dossier:
        system = self.system(agency, level, **kw)
        officer = {"syt": "officer_a", "sgd": "officer_b", "stttt": "officer_unit"}[agency]
        return self.service.create(
            self.session,
            self[officer],
            title=system.name,
            system_ids=[system.id],
            playbook_id=playbook,
            now=NOW,
        )

    def upload(self, who: str, dossier: Dossier, kind: str, name: str = "") -> None:
        self.service.upload(self.session, self[who], dossier.id, kind=kind, filename=name or f"{kind}.pdf",
                            stream=pdf(kind), expected_version=dossier.version, now=NOW)  # fmt: skip

    def act(self, who: str, dossier: Dossier, name: str, comment: str = "ok", now: datetime = NOW) -> None:
        self.service.act(self.session, self[who], dossier.id, name, expected_version=dossier.version,
                         comment=comment, now=now)  # fmt: skip

    def ready(self, dossier: Dossier, who: str = "officer_a") -> None:
        for kind in LEVEL_DOCS:
            self.upload(who, dossier, kind)

    def regulate(self, dossier: Dossier, who: str = "officer_a") -> None:
        for system in dossier.systems:
            self.service.record_security_regulation(
                self.session, self[who], system.id, reference="QĐ 12/QĐ-SYT", issued_on=NOW.date()
            )

    def taken(self, dossier: Dossier) -> list[str]:
        return [t.name for t in self.session.query(DossierTransition).filter_by(dossier_id=dossier.id)]


def build_world(session: Session, tmp_path: Path) -> World:
    agencies = {}
    for code, name in AGENCIES.items():
        agency = Agency(code=code, name=name)
        session.add(agency)
        session.flush()
        agencies[code] = agency.id
    for username, grants in USERS.items():
        user = User(
            username=username, email=f"{username}@cantho.gov.vn", full_name=username, password_hash="!"
        )
        user.grants = [RoleGrant(role=r, agency_id=agencies[a] if a else None) for r, a in grants]
        session.add(user)
    session.flush()
    service = DossierService(
        library=load_library(), bodies=BODIES, calendar=WorkingCalendar(),
        upload_dir=tmp_path / "uploads", max_upload_bytes=64 * 1024,
    )  # fmt: skip
    world = World(session, service, agencies)
    world.actors = {u: service.actor(session, u) for u in USERS}
    return world


def _world(url: str, tmp_path: Path, *, migrated: bool = False) -> Iterator[World]:
    if not migrated:
        migrate.upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        yield build_world(session, tmp_path)
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head; each test starts from a copy (migrating takes a while)."""
    path = tmp_path_factory.mktemp("template") / "soc.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def world(tmp_path: Path, migrated_sqlite: Path) -> Iterator[World]:
    shutil.copyfile(migrated_sqlite, tmp_path / "soc.db")
    yield from _world(f"sqlite:///{tmp_path / 'soc.db'}", tmp_path, migrated=True)


@pytest.fixture
def pg_world(postgres_url: str, tmp_path: Path) -> Iterator[World]:
    yield from _world(postgres_url, tmp_path)
