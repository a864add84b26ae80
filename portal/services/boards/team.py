"""The head's team board: each person's load and this cycle's completions, the
department's open requests to reassign, and the escalations waiting for the head."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal import config
from portal.extensions import db
from portal.models import Escalation, Role, User
from portal.pagination import Page, paginate
from portal.services.boards.common import COMPLETED, OPEN, R, count_if, percent
from portal.services.boards.cycles import current_cycle


@dataclass
class PersonRow:
    user_id: int
    name: str
    open: int = 0
    at_risk: int = 0
    overdue: int = 0
    paused: int = 0
    completed: int = 0
    on_time: int = 0

    @property
    def on_time_percent(self) -> float | None:
        return percent(self.on_time, self.completed)


def team(department_id: int, now: datetime | None = None) -> list[PersonRow]:
    """Per person of the department: open, at risk, overdue, and this cycle's completions."""
    people = db.session.execute(
        sa.select(User.id, User.full_name)
        .where(
            User.department_id == department_id,
            User.role.in_([Role.STAFF.value, Role.HEAD.value]),
            User.active.is_(True),
        )
        .order_by(User.full_name, User.id)
    ).all()
    rows = {p.id: PersonRow(p.id, p.full_name) for p in people}
    load = db.session.execute(
        sa.select(
            R.assignee_id,
            sa.func.count(),
            count_if(R.sla_state == "at_risk"),
            count_if(R.sla_state == "breached"),
            count_if(R.sla_state == "paused"),
        )
        .where(R.department_id == department_id, R.state.in_(OPEN))
        .group_by(R.assignee_id)
    )
    for assignee_id, open_, at_risk, overdue, paused in load:
        row = rows.get(assignee_id)
        if row is not None:  # a person who left keeps nothing on the board
            row.open, row.at_risk, row.overdue, row.paused = open_, at_risk, overdue, paused
    start, end = current_cycle(now).bounds(config.zone())
    done = db.session.execute(
        sa.select(R.assignee_id, sa.func.count(), count_if(R.sla_state == "met"))
        .where(
            R.department_id == department_id,
            R.decided_at >= start,
            R.decided_at < end,
            R.state.in_(COMPLETED),
        )
        .group_by(R.assignee_id)
    )
    for assignee_id, completed, on_time in done:
        row = rows.get(assignee_id)
        if row is not None:
            row.completed, row.on_time = completed, on_time
    return list(rows.values())


def department_open_requests(
    department_id: int, assignee_id: int | None = None, page: int = 1
) -> Page:
    """The department's open requests, most urgent first, to pick some for reassignment."""
    where = [R.department_id == department_id, R.state.in_(OPEN)]
    if assignee_id:
        where.append(R.assignee_id == assignee_id)
    query = (
        sa.select(R)
        .where(*where)
        .order_by(R.paused_since.is_not(None), R.due_at.asc(), R.id)
        .options(selectinload(R.service), selectinload(R.assignee))
    )
    return paginate(query, page)


PENDING_SHOWN = 25
PENDING_COUNTED = 500


def pending_escalations(department_id: int) -> tuple[list[Escalation], int]:
    """The newest escalations of the department waiting for acknowledgement, and how many
    (up to PENDING_COUNTED + 1, which reads "more than PENDING_COUNTED")."""
    # Waiting escalations are few (they are acknowledged day by day) while a department has
    # many requests: start from the former and look each request up, never the reverse.
    department_of = (
        sa.select(R.department_id).where(R.id == Escalation.request_id).scalar_subquery()
    )
    where = [Escalation.acknowledged_at.is_(None), department_of == department_id]
    # Counted up to a ceiling: past it the number says nothing more, and costs more.
    waiting = sa.select(Escalation.id).where(*where).limit(PENDING_COUNTED + 1).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(waiting))
    shown = db.session.scalars(
        sa.select(Escalation)
        .where(*where)
        .order_by(Escalation.fired_at.desc(), Escalation.id.desc())
        .limit(PENDING_SHOWN)
        .options(joinedload(Escalation.request), joinedload(Escalation.accountable))
    )
    return list(shown), total


def people(department_id: int | None = None) -> list[User]:
    query = sa.select(User).where(User.role.in_([Role.STAFF.value, Role.HEAD.value]))
    if department_id:
        query = query.where(User.department_id == department_id)
    return list(db.session.scalars(query.order_by(User.full_name, User.id)))
