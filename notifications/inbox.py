"""The in-app inbox: plain notices a person reads in the portal."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models import ServiceRequest, User, UTCDateTime
from sla import clock


class Notice(db.Model):
    """One in-app notice for one person, about one request."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_request.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    request: Mapped[ServiceRequest | None] = relationship()

    __table_args__ = (sa.Index("ix_notice_user_unread", "user_id", "read_at"),)


def notify(user: User | None, kind: str, request: ServiceRequest | None = None,
           payload: dict | None = None) -> Notice | None:
    """Add a notice to the caller's transaction (it is sent when that commits)."""
    if user is None:
        return None
    notice = Notice(user=user, request=request, kind=kind, payload=payload or {},
                    created_at=clock.now())
    db.session.add(notice)
    return notice


def unread_count(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Notice.id)).where(Notice.user_id == user.id,
                                                  Notice.read_at.is_(None))
    ) or 0


def recent(user: User, limit: int = 100) -> list[Notice]:
    return list(
        db.session.scalars(
            sa.select(Notice)
            .where(Notice.user_id == user.id)
            .order_by(Notice.id.desc())
            .limit(limit)
        )
    )


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        sa.update(Notice)
        .where(Notice.user_id == user.id, Notice.read_at.is_(None))
        .values(read_at=clock.now())
    )
    db.session.commit()
    return result.rowcount
