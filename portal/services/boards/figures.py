"""Figures over a period: completions, on-time rate, medians and breach verdicts, grouped;
the 12-week cycle report and the supervisor's trends are made of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal import config
from portal.extensions import db
from portal.models import Department, Escalation, Service, User
from portal.services import approvals
from portal.services.boards.common import COMPLETED, R, count_if, days, medians, percent
from portal.services.boards.cycles import cycle
from sla import clock


@dataclass
class Figures:
    key: object
    label: str = ""
    completed: int = 0
    on_time: int = 0
    median_seconds: float | None = None
    excused: int = 0
    not_excused: int = 0
    undecided: int = 0
    open: int = 0
    overdue: int = 0
    approval_seconds: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def on_time_percent(self) -> float | None:
        return percent(self.on_time, self.completed)

    @property
    def median_days(self) -> float | None:
        return days(self.median_seconds)

    @property
    def approval_days(self) -> float | None:
        return days(self.approval_seconds)  # working time, as approvals.approval_time counts


def _completed_between(start: datetime, end: datetime) -> list:
    return [R.decided_at >= start, R.decided_at < end, R.state.in_(COMPLETED)]


def completion_figures(key_column, start: datetime, end: datetime) -> dict:
    """{key: Figures} of the requests completed in [start, end), grouped by `key_column`."""
    where = _completed_between(start, end)
    found: dict = {}
    rows = db.session.execute(
        sa.select(key_column, sa.func.count(), count_if(R.sla_state == "met"))
        .where(*where)
        .group_by(key_column)
    )
    for key, completed, on_time in rows:
        found[key] = Figures(key, completed=completed, on_time=on_time)
    for (key,), median in medians([key_column], R.worked_seconds, *where).items():
        found.setdefault(key, Figures(key)).median_seconds = median
    return found


def breach_figures(by: str, start: datetime, end: datetime, into: dict) -> dict:
    """Add breaches fired in [start, end) to `into`: excused, not excused, no verdict yet.

    One breach per request and clock run, whichever rungs fired (head, supervisor); its
    verdict is the supervisor's, else the head's. `by` is "person" (who was accountable when
    it fired, even if the request moved on since) or "department".
    """

    def verdict(level: str):
        mine = Escalation.level == level
        return sa.func.max(
            sa.case(
                (sa.and_(mine, Escalation.excused.is_(True)), 1),
                (sa.and_(mine, Escalation.excused.is_(False)), 0),
            )
        )

    # The breach is the head rung's person's; a supervisor rung alone (no head rung) its own.
    head_rung_person = sa.func.max(sa.case((Escalation.level == "head", Escalation.accountable_id)))
    key = (
        sa.func.coalesce(head_rung_person, sa.func.min(Escalation.accountable_id))
        if by == "person"
        else sa.func.min(R.department_id)
    )
    per_breach = (
        sa.select(
            key.label("key"),
            sa.func.coalesce(verdict("supervisor"), verdict("head")).label("verdict"),
        )
        .join(R, R.id == Escalation.request_id)
        .where(
            Escalation.level.in_(("head", "supervisor")),
            Escalation.fired_at >= start,
            Escalation.fired_at < end,
        )
        .group_by(Escalation.request_id, Escalation.clock_epoch)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            per_breach.c.key,
            count_if(per_breach.c.verdict == 1),
            count_if(per_breach.c.verdict == 0),
            count_if(per_breach.c.verdict.is_(None)),
        ).group_by(per_breach.c.key)
    )
    for key_value, excused, not_excused, undecided in rows:
        figures = into.setdefault(key_value, Figures(key_value))
        figures.excused, figures.not_excused, figures.undecided = excused, not_excused, undecided
    return into


def cycle_report(number: int) -> dict:
    """Per employee and per department: the figures of one 12-week cycle."""
    chosen = cycle(number)
    start, end = chosen.bounds(config.zone())
    by_person = breach_figures("person", start, end, completion_figures(R.assignee_id, start, end))
    by_department = breach_figures(
        "department", start, end, completion_figures(R.department_id, start, end)
    )
    names = dict(
        db.session.execute(
            sa.select(User.id, User.full_name).where(User.id.in_([k for k in by_person if k]))
        ).all()
    )
    departments = {d.id: d for d in db.session.scalars(sa.select(Department))}
    person_department = dict(
        db.session.execute(
            sa.select(User.id, User.department_id).where(User.id.in_(list(names)))
        ).all()
    )
    for key, figures in by_person.items():
        figures.label = names.get(key, "—")
        department = departments.get(person_department.get(key))
        figures.extra["department"] = department.name if department else "—"
    for key, figures in by_department.items():
        figures.label = departments[key].name if key in departments else "—"
    return {
        "cycle": chosen,
        "people": sorted(by_person.values(), key=lambda f: (f.extra["department"], f.label)),
        "departments": sorted(by_department.values(), key=lambda f: f.label),
    }


def trends(weeks: int = 12, now: datetime | None = None) -> dict:
    """On-time rate per week and per department, median working days per service,
    approval time per stage, over the last `weeks` weeks (Monday to Monday, Almaty)."""
    zone = config.zone()
    today = (now or clock.now()).astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first = datetime.combine(monday - timedelta(weeks=weeks - 1), datetime.min.time(), zone)
    end = datetime.combine(monday + timedelta(weeks=1), datetime.min.time(), zone)
    per_week = []  # one small indexed query per week
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        completed, on_time = db.session.execute(
            sa.select(sa.func.count(), count_if(R.sla_state == "met")).where(
                *_completed_between(start, start + timedelta(weeks=1))
            )
        ).one()
        per_week.append(
            Figures(start.date(), start.date().isoformat(), completed=completed, on_time=on_time)
        )
    departments = {d.id: d for d in db.session.scalars(sa.select(Department))}
    per_department = completion_figures(R.department_id, first, end)
    for key, figures in per_department.items():
        figures.label = departments[key].name if key in departments else "—"
    services = {s.id: s for s in db.session.scalars(sa.select(Service))}
    per_service = completion_figures(R.service_id, first, end)
    for key, figures in per_service.items():
        figures.label = services[key].title if key in services else "—"
    return {
        "first": first.date(),
        "last": (end - timedelta(days=1)).date(),
        "weeks": per_week,
        "departments": sorted(per_department.values(), key=lambda f: f.label),
        "services": sorted(per_service.values(), key=lambda f: f.label),
        # (stage, working days on average, answered) of the sign-offs answered in the period.
        "approvals": [
            (row.label, days(row.average_seconds), row.answered)
            for row in approvals.approval_time(first, end)
        ],
    }
