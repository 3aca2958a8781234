"""One-time enrolment tokens: what an operator hands to an agency server to get its collector token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from soc.db.models import Agency, ApiToken, Base, utcnow


class EnrolmentToken(Base):
    """Short-lived and single use. Only the SHA-256 of the raw token is kept (32 random bytes, so a
    fast hash is enough, as for ApiToken); `used_at` is set by one conditional UPDATE, so two
    servers racing with the same token cannot both enrol."""

    __tablename__ = "enrolment_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    """Name given to the collector token it becomes (usually the server's host name)."""
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_from: Mapped[str | None] = mapped_column(String(100))
    """Client address that redeemed it."""
    collector_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))

    agency: Mapped[Agency] = relationship()
    collector_token: Mapped[ApiToken | None] = relationship()
