"""The daily stand-up digest: what a department has on its plate this morning.

Each working morning (from DIGEST_TIME, Asia/Almaty, until the office closes) every head
receives their department's digest, and every supervisor the summary across departments,
through `notifications.notify` (in-app and email via the outbox). The idempotency key is per
person per day, so the digest goes out once a day however often the job runs; on a day the
working calendar calls off (weekend, holiday) nothing is sent, and on a weekend day the
government made a working day it is.

Counts, at the moment asked:
- due today: open, clock running, `due_at` falls on today's date (Almaty);
- at risk / breached: open requests in that SLA state;
- new since yesterday: submitted since the start of the previous working day;
- waiting on applicants: awaiting documents;
- in approval: waiting for sign-offs or the caseworker's decision after them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

import notifications
from notifications.outbox import LANGUAGES
from portal.extensions import db
from portal.models import OPEN_STATE_VALUES, Department, Escalation, Role, ServiceRequest, User
from sla import clock, deadlines

DIGEST_TIME = time(8, 30)


@dataclass
class Counts:
    due_today: int = 0
    at_risk: int = 0
    breached: int = 0
    new: int = 0
    waiting: int = 0
    in_approval: int = 0


@dataclass
class DepartmentDigest:
    department: Department
    counts: Counts
    due_today: list[ServiceRequest] = field(default_factory=list)
    breached: list[ServiceRequest] = field(default_factory=list)
    # request id -> who was accountable when its deadline passed (it may have moved since)
    breach_owners: dict[int, User] = field(default_factory=dict)


@dataclass
class Summary:
    day: date
    rows: list[DepartmentDigest]
    total: Counts


def local_day(now: datetime | None = None) -> date:
    return (now or clock.now()).astimezone(deadlines.calendar().tz).date()


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=deadlines.calendar().tz)


def previous_working_day(day: date) -> date:
    cal = deadlines.calendar()
    day -= timedelta(days=1)
    while not cal.is_working_day(day):
        day -= timedelta(days=1)
    return day


def department_digest(department: Department, day: date | None = None) -> DepartmentDigest:
    """The digest of one department for `day` (today by default), counted now."""
    day = day or local_day()
    start, end = _local_midnight(day), _local_midnight(day + timedelta(days=1))
    since = _local_midnight(previous_working_day(day))
    opened = sa.and_(
        ServiceRequest.department_id == department.id,
        ServiceRequest.state.in_(OPEN_STATE_VALUES),
    )
    due_today_filter = sa.and_(
        opened,
        ServiceRequest.paused_since.is_(None),
        ServiceRequest.due_at >= start,
        ServiceRequest.due_at < end,
    )

    def count(*conditions) -> int:
        return db.session.scalar(sa.select(sa.func.count(ServiceRequest.id)).where(*conditions))

    counts = Counts(
        due_today=count(due_today_filter),
        at_risk=count(opened, ServiceRequest.sla_state == "at_risk"),
        breached=count(opened, ServiceRequest.sla_state == "breached"),
        new=count(
            ServiceRequest.department_id == department.id, ServiceRequest.submitted_at >= since
        ),
        waiting=count(opened, ServiceRequest.state == "awaiting_documents"),
        in_approval=count(opened, ServiceRequest.state == "in_approval"),
    )
    due_today = db.session.scalars(
        sa.select(ServiceRequest).where(due_today_filter).order_by(ServiceRequest.due_at)
    ).all()
    breached = db.session.scalars(
        sa.select(ServiceRequest)
        .where(opened, ServiceRequest.sla_state == "breached")
        .order_by(ServiceRequest.due_at)
    ).all()
    return DepartmentDigest(
        department, counts, list(due_today), list(breached), breach_owners(breached)
    )


def breach_owners(requests: list[ServiceRequest]) -> dict[int, User]:
    """Who each breach is on: the person accountable when its clock run breached."""
    if not requests:
        return {}
    epochs = {r.id: r.clock_epoch for r in requests}
    rows = db.session.execute(
        sa.select(Escalation.request_id, Escalation.clock_epoch, User)
        .join(User, User.id == Escalation.accountable_id)
        .where(
            Escalation.request_id.in_(list(epochs)),
            Escalation.level.in_(("head", "supervisor")),
        )
        .order_by(Escalation.fired_at, Escalation.id)
    )
    owners: dict[int, User] = {}
    for request_id, epoch, person in rows:
        if epoch == epochs[request_id]:
            owners.setdefault(request_id, person)
    return owners


def summary(day: date | None = None) -> Summary:
    """Every department's digest, and the totals, for the supervisor."""
    day = day or local_day()
    rows = [
        department_digest(department, day)
        for department in db.session.scalars(sa.select(Department).order_by(Department.id))
    ]
    total = Counts()
    for row in rows:
        for name, value in asdict(row.counts).items():
            setattr(total, name, getattr(total, name) + value)
    return Summary(day, rows, total)


def _names(department: Department) -> dict[str, str]:
    return {lang: department.in_language("name", lang) for lang in LANGUAGES}


def _people(role: Role, department_id: int | None = None) -> list[User]:
    query = sa.select(User).where(User.role == role.value, User.active.is_(True))
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    return list(db.session.scalars(query.order_by(User.id)))


def send_daily(now: datetime | None = None) -> dict:
    """Send today's digests if it is a working morning; returns what happened.

    Safe to run any number of times: each person gets one digest per day.
    """
    now = now or clock.now()
    cal = deadlines.calendar()
    day = local_day(now)
    local = now.astimezone(cal.tz)
    if not cal.is_working_day(day):
        return {"day": day.isoformat(), "skipped": "day off", "sent": 0}
    if local.time() < DIGEST_TIME or now >= cal.office_close_at(day):
        return {"day": day.isoformat(), "skipped": "outside the morning window", "sent": 0}
    sent = 0
    whole = summary(day)
    for row in whole.rows:
        for head in _people(Role.HEAD, row.department.id):
            sent += bool(
                notifications.notify(
                    head,
                    "daily_digest",
                    context={
                        "day": day.isoformat(),
                        "department": _names(row.department),
                        "counts": asdict(row.counts),
                        "rows": [],
                        "path": "/staff/digest",
                    },
                    key=f"daily_digest:{head.id}:{day.isoformat()}",
                )
            )
    for supervisor in _people(Role.SUPERVISOR):
        sent += bool(
            notifications.notify(
                supervisor,
                "daily_digest",
                context={
                    "day": day.isoformat(),
                    "department": None,
                    "counts": asdict(whole.total),
                    "rows": [
                        {"department": _names(r.department), "counts": asdict(r.counts)}
                        for r in whole.rows
                    ],
                    "path": "/supervisor/digest",
                },
                key=f"daily_digest:{supervisor.id}:{day.isoformat()}",
            )
        )
    db.session.commit()
    return {"day": day.isoformat(), "skipped": None, "sent": sent}
