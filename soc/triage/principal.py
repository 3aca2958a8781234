"""Who is asking, what they may do, and which agencies' data they may see.

City-wide grants (role held with no agency) of admin, soc_analyst and oncall see every agency;
agency-scoped grants (agency_officer:X, oncall:X) see only their agencies. Appraisers and
approvers work on dossiers only and see no SOC data unless they also hold another role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false

from soc.db.models import User
from soc.errors import SocError

T = TypeVar("T", bound=tuple[Any, ...])

PERMISSIONS: dict[str, frozenset[str]] = {
    "alerts.read": frozenset({"admin", "soc_analyst", "oncall", "agency_officer"}),
    "alerts.comment": frozenset({"admin", "soc_analyst", "oncall", "agency_officer"}),
    "alerts.triage": frozenset({"admin", "soc_analyst", "oncall"}),
    "alerts.suppress": frozenset({"admin", "soc_analyst"}),
    "events.read": frozenset({"admin", "soc_analyst", "oncall", "agency_officer"}),
    "incidents.read": frozenset({"admin", "soc_analyst", "oncall", "agency_officer"}),
    "incidents.write": frozenset({"admin", "soc_analyst"}),
    "rules.read": frozenset({"admin", "soc_analyst", "oncall"}),
    "rules.manage": frozenset({"admin", "soc_analyst"}),
    "collectors.read": frozenset({"admin", "soc_analyst", "oncall", "agency_officer"}),
    "oncall.read": frozenset({"admin", "soc_analyst", "oncall"}),
    "oncall.manage": frozenset({"admin", "soc_analyst", "oncall"}),
    "dashboard.read": frozenset({"admin", "soc_analyst", "oncall", "agency_officer"}),
    "audit.read": frozenset({"admin"}),
    "dossiers.read": frozenset({"admin", "soc_analyst", "agency_officer", "appraiser", "approver"}),
    "dossiers.redetermine": frozenset({"admin", "soc_analyst"}),
}
CITY_WIDE_SOC_ROLES = frozenset({"admin", "soc_analyst", "oncall"})


class Forbidden(SocError):
    """The principal may not do this (→ 403)."""


class NotFound(SocError):
    """No such object, or one the principal may not see (→ 404: never tell which)."""


class Invalid(SocError):
    """The request is malformed or breaks a rule of the domain (→ 400 with this message)."""


class Conflict(SocError):
    """Someone else changed the object since it was read (→ 409)."""


@dataclass(frozen=True)
class Principal:
    username: str
    user_id: int | None
    roles: frozenset[str]
    agencies: frozenset[str] | None
    """Agency codes whose data this principal sees; None means every agency (city-wide)."""
    locale: str = "vi"
    full_name: str = ""
    grants: frozenset[tuple[str, int | None]] = frozenset()
    """(role, agency id or None), for the dossier service's Actor."""

    @classmethod
    def of(cls, user: User) -> Principal:
        roles = frozenset(g.role for g in user.grants)
        city_wide = any(g.agency_id is None and g.role in CITY_WIDE_SOC_ROLES for g in user.grants)
        agencies = (
            None if city_wide else frozenset(g.agency.code for g in user.grants if g.agency is not None)
        )
        return cls(
            username=user.username,
            user_id=user.id,
            roles=roles,
            agencies=agencies,
            locale=user.locale,
            full_name=user.full_name,
            grants=frozenset((g.role, g.agency_id) for g in user.grants),
        )

    @property
    def city_wide(self) -> bool:
        return self.agencies is None

    def can(self, permission: str) -> bool:
        return bool(PERMISSIONS[permission] & self.roles)

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise Forbidden(f"{self.username} may not do {permission}")

    def sees(self, agency: str | None) -> bool:
        """Whether data of this agency (None: data with no agency) is visible."""
        return self.agencies is None or (agency is not None and agency in self.agencies)

    def allowed(self, requested: Iterable[str] | None) -> frozenset[str] | None:
        """The agencies to query: the requested ones cut down to what is visible (None = all)."""
        wanted = frozenset(a for a in requested or () if a)
        if self.agencies is None:
            return wanted or None
        return (wanted & self.agencies) if wanted else self.agencies

    def condition(self, column: ColumnElement[Any]) -> ColumnElement[bool] | None:
        """A WHERE condition limiting `column` (an agency code column) to visible agencies."""
        if self.agencies is None:
            return None
        if not self.agencies:
            return false()
        return column.in_(sorted(self.agencies))

    def scope(self, stmt: Select[T], column: ColumnElement[Any]) -> Select[T]:
        condition = self.condition(column)
        return stmt if condition is None else stmt.where(condition)
