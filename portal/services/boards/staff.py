"""The caseworker's queue: their own or their department's open requests, by time left.

One query serves the queue pages, their exports and the API: the filters, the order and
the page are all SQL, so a page costs the same statements whatever the queue's length.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Service, SlaState, User
from portal.pagination import PAGE_SIZE, Page, everything, paginate
from portal.services.boards.common import OPEN, R

SLA_FILTERS = (SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED, SlaState.PAUSED)
ORDERS = ("time_left", "-time_left")  # "-time_left": most time left first


@dataclass
class QueueFilters:
    state: str | None = None
    service_id: int | None = None
    sla: str | None = None
    order: str = "time_left"
    page: int = 1
    per_page: int = PAGE_SIZE

    @classmethod
    def from_args(cls, args, page_type=int) -> QueueFilters:
        """The filters of a query string; an unknown value is no filter at all."""
        return cls(
            state=args.get("state") if args.get("state") in OPEN else None,
            service_id=args.get("service", type=page_type),
            sla=args.get("sla") if args.get("sla") in SLA_FILTERS else None,
            order="-time_left" if args.get("order") == "-time_left" else "time_left",
            page=args.get("page", 1, type=page_type),
        )

    def as_args(self) -> dict:
        return {
            "state": self.state or None,
            "service": self.service_id or None,
            "sla": self.sla or None,
            "order": None if self.order == "time_left" else self.order,
        }


def _scope(user: User, scope: str) -> list:
    """The where-clauses of a caseworker's open queue: theirs, or their department's."""
    where = [R.department_id == user.department_id, R.state.in_(OPEN)]
    if scope == "mine":
        where.append(R.assignee_id == user.id)
    return where


def staff_queue(
    user: User, scope: str, filters: QueueFilters, everything_: bool = False, counts=True
) -> Page:
    """One page of a caseworker's open queue, filtered, by time left; counts of the whole
    queue per SLA state (for the page's summary). `everything_`: every row, for an export."""
    where = _scope(user, scope)
    per_state = {}
    if counts:
        per_state = dict(
            db.session.execute(
                sa.select(R.sla_state, sa.func.count()).where(*where).group_by(R.sla_state)
            ).all()
        )
        per_state["open"] = sum(per_state.values())
    chosen = (
        (R.state, filters.state),
        (R.service_id, filters.service_id),
        (R.sla_state, filters.sla),
    )
    where += [column == value for column, value in chosen if value]
    # Paused requests have no time running out: they go last either way.
    if filters.order == "-time_left":
        order = (R.paused_since.is_not(None), R.due_at.desc(), R.id.desc())
    else:
        order = (R.paused_since.is_not(None), R.due_at.asc(), R.id)
    query = (
        sa.select(R)
        .where(*where)
        .order_by(*order)
        .options(
            # Loaded for the page's rows only, after the sort and the limit.
            selectinload(R.service),
            selectinload(R.assignee),
            selectinload(R.business),
            selectinload(R.applicant),
            selectinload(R.department),
        )
    )
    if everything_:
        return everything(query, per_state)
    return paginate(query, filters.page, filters.per_page, per_state)


def department_services(department_id: int | None) -> list[Service]:
    query = sa.select(Service).order_by(Service.id)
    if department_id is not None:
        query = query.where(Service.department_id == department_id)
    return list(db.session.scalars(query))
