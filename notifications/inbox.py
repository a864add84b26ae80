"""The in-app inbox: notices a person reads in the portal.

A notice is the in-app channel's delivery of an outbox row; `outbox_id` is unique, so
delivering the same row twice leaves one notice.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notifications.outbox import OutboxMessage
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
    outbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_message.id"), unique=True)

    user: Mapped[User] = relationship()
    request: Mapped[ServiceRequest | None] = relationship()
    outbox: Mapped[OutboxMessage | None] = relationship()

    __table_args__ = (sa.Index("ix_notice_user_unread", "user_id", "read_at"),)


def unread_count(user: User) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(Notice.id)).where(
                Notice.user_id == user.id, Notice.read_at.is_(None)
            )
        )
        or 0
    )


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


def subject(notice: Notice, language: str) -> str:
    """The notice's one line, in the language the reader has the portal in now."""
    from notifications import templates

    facts = dict(notice.payload or {})
    if notice.request is not None:
        facts.setdefault("reference", notice.request.reference)
    return templates.render_subject(notice.kind, language, facts, current_app.config["TIMEZONE"])
