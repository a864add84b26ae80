"""The supervisor's breach board: breaches and escalations, filtered, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal import config
from portal.extensions import db
from portal.models import Escalation, Role, ServiceRequest, User
from portal.pagination import Page, everything, paginate
from portal.services.boards.common import R

# Rungs that mean a deadline was missed (at_risk is a warning, not a breach).
BREACH_LEVELS = ("head", "supervisor", "intake", "approval")


@dataclass
class BreachFilters:
    department_id: int | None = None
    service_id: int | None = None
    person_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    level: str | None = None
    pending: bool = False
    page: int = 1

    def as_args(self) -> dict:
        return {
            "department": self.department_id,
            "service": self.service_id,
            "person": self.person_id,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "level": self.level,
            "pending": "1" if self.pending else None,
        }


def _breach_where(user: User, filters: BreachFilters) -> tuple[list, bool]:
    """The where-clauses, and whether they need the request joined."""
    where = []
    if user.role == Role.HEAD:  # heads see only their department (the supervisor all)
        where.append(R.department_id == user.department_id)
    elif user.role not in (Role.SUPERVISOR, Role.ADMIN):
        where.append(sa.false())
    if filters.level:
        where.append(Escalation.level == filters.level)
    else:
        where.append(Escalation.level.in_(BREACH_LEVELS))
    if filters.department_id:
        where.append(R.department_id == filters.department_id)
    if filters.service_id:
        where.append(R.service_id == filters.service_id)
    if filters.person_id:
        where.append(Escalation.accountable_id == filters.person_id)
    zone = config.zone()
    if filters.date_from:
        where.append(
            Escalation.fired_at >= datetime.combine(filters.date_from, datetime.min.time(), zone)
        )
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time(), zone)
        where.append(Escalation.fired_at < end)
    if filters.pending:
        where.append(Escalation.acknowledged_at.is_(None))
    needs_request = user.role == Role.HEAD or bool(
        filters.department_id or filters.service_id or filters.person_id
    )
    return where, needs_request


def breaches(user: User, filters: BreachFilters, everything_: bool = False) -> Page:
    """Breaches and escalations, newest first; `everything_` for an export (no pages)."""
    where, needs_request = _breach_where(user, filters)
    base = sa.select(Escalation).where(*where)
    if needs_request:
        base = base.join(R, Escalation.request_id == R.id)
    request = joinedload(Escalation.request)
    query = base.order_by(Escalation.fired_at.desc(), Escalation.id.desc()).options(
        joinedload(Escalation.accountable),
        request.joinedload(R.service),
        request.joinedload(R.department),
        joinedload(Escalation.acknowledged_by),
    )
    if everything_:
        return everything(query)
    return paginate(query, filters.page)


def escalation_history(request: ServiceRequest) -> list[Escalation]:
    return list(
        db.session.scalars(
            sa.select(Escalation)
            .where(Escalation.request_id == request.id)
            .order_by(Escalation.fired_at, Escalation.id)
        )
    )
