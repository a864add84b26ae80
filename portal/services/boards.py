"""The boards: queues, team and breach boards, trends, 12-week cycles, the public board.

Plain functions over the ORM. Every figure is an SQL aggregate over an indexed range
(a department's open requests, the requests decided in a period), so the cost grows with
what is shown, not with the table. Medians are `percentile_cont` on PostgreSQL; SQLite
(local use) has none, so there the values of the (small) group are fetched and sorted.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from portal import config
from portal.extensions import db
from portal.models import (
    OPEN_STATES,
    Department,
    Escalation,
    Role,
    Service,
    ServiceRequest,
    User,
)
from portal.services import approvals
from sla import clock

OPEN = sorted(str(s) for s in OPEN_STATES)
# Decided by the administration; withdrawn requests say nothing about its work.
COMPLETED = ("approved", "rejected", "refused_incomplete")
SLA_FILTERS = ("on_track", "at_risk", "breached", "paused")
PAGE_SIZE = 50
OFFICE_SECONDS_PER_DAY = 9 * 3600
CYCLE_WEEKS = 12
# Rungs that mean a deadline was missed (at_risk is a warning, not a breach).
BREACH_LEVELS = ("head", "supervisor", "intake", "approval")
PUBLIC_CACHE_SECONDS = 60.0

R = ServiceRequest


def _zone() -> ZoneInfo:
    return config.zone()


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _epoch(column):
    """Seconds since 1970 of a timestamp column, in either database."""
    if _postgres():
        return sa.func.extract("epoch", column)
    return sa.cast(sa.func.strftime("%s", column), sa.Integer)


def _count_if(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _days(seconds) -> float | None:
    return None if seconds is None else round(float(seconds) / OFFICE_SECONDS_PER_DAY, 1)


def medians(keys: list, value, *where) -> dict:
    """{key tuple: median of `value`} over the rows matching `where`, grouped by `keys`."""
    if _postgres():
        median = sa.func.percentile_cont(0.5).within_group(value)
        rows = db.session.execute(sa.select(*keys, median).where(*where).group_by(*keys))
        return {tuple(r[:-1]): r[-1] for r in rows}
    grouped = defaultdict(list)
    for row in db.session.execute(sa.select(*keys, value).where(*where, value.is_not(None))):
        grouped[tuple(row[:-1])].append(row[-1])
    return {k: statistics.median(v) for k, v in grouped.items()}


# --- 12-week cycles ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cycle:
    number: int
    first_day: date
    last_day: date  # inclusive

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first_day, datetime.min.time(), zone)
        return start, start + timedelta(weeks=CYCLE_WEEKS)


def cycle_start() -> date:
    return config.cycle_start()


def cycle_of(day: date) -> Cycle:
    start = cycle_start()
    number = (day - start).days // (7 * CYCLE_WEEKS) + 1
    return cycle(number)


def cycle(number: int) -> Cycle:
    first = cycle_start() + timedelta(weeks=CYCLE_WEEKS * (number - 1))
    return Cycle(number, first, first + timedelta(weeks=CYCLE_WEEKS, days=-1))


def current_cycle(now: datetime | None = None) -> Cycle:
    return cycle_of((now or clock.now()).astimezone(_zone()).date())


def cycles(now: datetime | None = None) -> list[Cycle]:
    """Every cycle from the first to the current one, newest first."""
    latest = max(current_cycle(now).number, 1)
    return [cycle(n) for n in range(latest, 0, -1)]


# --- staff queues -----------------------------------------------------------------------


@dataclass
class QueueFilters:
    state: str | None = None
    service_id: int | None = None
    sla: str | None = None
    order: str = "time_left"  # or "-time_left": most time left first
    page: int = 1

    def as_args(self) -> dict:
        return {
            "state": self.state or None,
            "service": self.service_id or None,
            "sla": self.sla or None,
            "order": None if self.order == "time_left" else self.order,
        }


@dataclass
class Page:
    rows: list
    total: int
    page: int
    pages: int
    counts: dict = field(default_factory=dict)


def _scope(user: User, scope: str):
    """The where-clauses of a caseworker's open queue: theirs, or their department's."""
    where = [R.department_id == user.department_id, R.state.in_(OPEN)]
    if scope == "mine":
        where.append(R.assignee_id == user.id)
    return where


def staff_queue(user: User, scope: str, filters: QueueFilters, everything=False) -> Page:
    """One page of a caseworker's open queue, filtered, by time left; counts of the whole."""
    where = _scope(user, scope)
    counts = dict(
        db.session.execute(
            sa.select(R.sla_state, sa.func.count()).where(*where).group_by(R.sla_state)
        ).all()
    )
    counts["open"] = sum(counts.values())
    if filters.state:
        where.append(R.state == filters.state)
    if filters.service_id:
        where.append(R.service_id == filters.service_id)
    if filters.sla:
        where.append(R.sla_state == filters.sla)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(R).where(*where))
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
        )
    )
    if everything:  # the CSV: the whole filtered queue
        return Page(list(db.session.scalars(query)), total, 1, 1, counts)
    return _page(query, total, filters.page, counts)


def _page(query, total: int, page: int, counts=None) -> Page:
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    rows = db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return Page(list(rows), total, page, pages, counts or {})


def department_services(department_id: int | None) -> list[Service]:
    query = sa.select(Service).order_by(Service.id)
    if department_id is not None:
        query = query.where(Service.department_id == department_id)
    return list(db.session.scalars(query))


# --- the head's team board --------------------------------------------------------------


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
        return _percent(self.on_time, self.completed)


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
            _count_if(R.sla_state == "at_risk"),
            _count_if(R.sla_state == "breached"),
            _count_if(R.sla_state == "paused"),
        )
        .where(R.department_id == department_id, R.state.in_(OPEN))
        .group_by(R.assignee_id)
    )
    for assignee_id, open_, at_risk, overdue, paused in load:
        row = rows.get(assignee_id)
        if row is not None:  # a person who left keeps nothing on the board
            row.open, row.at_risk, row.overdue, row.paused = open_, at_risk, overdue, paused
    start, end = current_cycle(now).bounds(_zone())
    done = db.session.execute(
        sa.select(R.assignee_id, sa.func.count(), _count_if(R.sla_state == "met"))
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
    total = db.session.scalar(sa.select(sa.func.count()).select_from(R).where(*where))
    query = (
        sa.select(R)
        .where(*where)
        .order_by(R.paused_since.is_not(None), R.due_at.asc(), R.id)
        .options(selectinload(R.service), selectinload(R.assignee))
    )
    return _page(query, total, page)


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


# --- the supervisor's breach board ------------------------------------------------------


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
    zone = _zone()
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


def breaches(user: User, filters: BreachFilters, everything: bool = False) -> Page:
    """Breaches and escalations, newest first; `everything` for the CSV (no pages)."""
    where, needs_request = _breach_where(user, filters)
    base = sa.select(Escalation).where(*where)
    counted = sa.select(sa.func.count()).select_from(Escalation).where(*where)
    if needs_request:
        base = base.join(R, Escalation.request_id == R.id)
        counted = counted.join(R, Escalation.request_id == R.id)
    request = joinedload(Escalation.request)
    query = base.order_by(Escalation.fired_at.desc(), Escalation.id.desc()).options(
        joinedload(Escalation.accountable),
        request.joinedload(R.service),
        request.joinedload(R.department),
        joinedload(Escalation.acknowledged_by),
    )
    if everything:
        rows = list(db.session.scalars(query))
        return Page(rows, len(rows), 1, 1)
    return _page(query, db.session.scalar(counted), filters.page)


def escalation_history(request: ServiceRequest) -> list[Escalation]:
    return list(
        db.session.scalars(
            sa.select(Escalation)
            .where(Escalation.request_id == request.id)
            .order_by(Escalation.fired_at, Escalation.id)
        )
    )


def people(department_id: int | None = None) -> list[User]:
    query = sa.select(User).where(User.role.in_([Role.STAFF.value, Role.HEAD.value]))
    if department_id:
        query = query.where(User.department_id == department_id)
    return list(db.session.scalars(query.order_by(User.full_name, User.id)))


# --- figures over a period: cycle report, trends, public board --------------------------


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
        return _percent(self.on_time, self.completed)

    @property
    def median_days(self) -> float | None:
        return _days(self.median_seconds)

    @property
    def approval_days(self) -> float | None:
        return _days(self.approval_seconds)  # working time, as approvals.approval_time counts


def _completed_between(start: datetime, end: datetime) -> list:
    return [R.decided_at >= start, R.decided_at < end, R.state.in_(COMPLETED)]


def completion_figures(key_column, start: datetime, end: datetime) -> dict:
    """{key: Figures} of the requests completed in [start, end), grouped by `key_column`."""
    where = _completed_between(start, end)
    found: dict = {}
    rows = db.session.execute(
        sa.select(key_column, sa.func.count(), _count_if(R.sla_state == "met"))
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
            _count_if(per_breach.c.verdict == 1),
            _count_if(per_breach.c.verdict == 0),
            _count_if(per_breach.c.verdict.is_(None)),
        ).group_by(per_breach.c.key)
    )
    for key_value, excused, not_excused, undecided in rows:
        figures = into.setdefault(key_value, Figures(key_value))
        figures.excused, figures.not_excused, figures.undecided = excused, not_excused, undecided
    return into


def cycle_report(number: int) -> dict:
    """Per employee and per department: the figures of one 12-week cycle."""
    chosen = cycle(number)
    start, end = chosen.bounds(_zone())
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
    zone = _zone()
    today = (now or clock.now()).astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first = datetime.combine(monday - timedelta(weeks=weeks - 1), datetime.min.time(), zone)
    end = datetime.combine(monday + timedelta(weeks=1), datetime.min.time(), zone)
    per_week = []  # one small indexed query per week
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        completed, on_time = db.session.execute(
            sa.select(sa.func.count(), _count_if(R.sla_state == "met")).where(
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
            (row.label, _days(row.average_seconds), row.answered)
            for row in approvals.approval_time(first, end)
        ],
    }


# --- the public transparency board ------------------------------------------------------


PUBLIC_WEEKS = 12


def _compute_public(now: datetime) -> dict:
    """Per service (with its department): the figures of the last 12 weeks, and now."""
    start = now - timedelta(weeks=PUBLIC_WEEKS)
    per_service = completion_figures(R.service_id, start, now + timedelta(seconds=1))
    rows = db.session.execute(
        sa.select(R.service_id, sa.func.count(), _count_if(R.sla_state == "breached"))
        .where(R.state.in_(OPEN))
        .group_by(R.service_id)
    )
    for service_id, open_, overdue in rows:
        figures = per_service.setdefault(service_id, Figures(service_id))
        figures.open, figures.overdue = open_, overdue
    approval = {
        row.stage: row.average_seconds
        for row in approvals.approval_time(start, now + timedelta(seconds=1), by="service")
    }
    return {
        "computed_at": now.isoformat(),
        "services": {
            sid: {
                "completed": f.completed,
                "on_time": f.on_time,
                "median_seconds": None if f.median_seconds is None else float(f.median_seconds),
                "open": f.open,
                "overdue": f.overdue,
                "approval_seconds": None if approval.get(sid) is None else float(approval[sid]),
            }
            for sid, f in per_service.items()
        },
    }


def public_figures(now: datetime | None = None) -> dict:
    """The public board's numbers, cached in the process for a minute.

    A minute-old board is as good as a live one for the public, and a per-process cache
    needs no moving part: each gunicorn worker runs the few grouped queries at most once
    a minute, whatever the traffic, and a lost cache loses nothing.
    """
    cache = current_app.extensions.setdefault("public_board", {})
    stamp = time.monotonic()
    if cache.get("figures") is None or stamp - cache["stamp"] > PUBLIC_CACHE_SECONDS:
        cache["figures"] = _compute_public(now or clock.now())
        cache["stamp"] = stamp
    return cache["figures"]


def public_board(now: datetime | None = None) -> dict:
    """The public board: departments, each with its services' figures (no names of people)."""
    figures = public_figures(now)
    services = db.session.scalars(
        sa.select(Service).where(Service.active.is_(True)).order_by(Service.id)
    ).all()
    departments: dict[int, dict] = {}
    for service in services:
        numbers = figures["services"].get(service.id) or figures["services"].get(
            str(service.id), {}
        )
        row = Figures(
            service.id,
            service.title,
            completed=numbers.get("completed", 0),
            on_time=numbers.get("on_time", 0),
            median_seconds=numbers.get("median_seconds"),
            open=numbers.get("open", 0),
            overdue=numbers.get("overdue", 0),
            approval_seconds=numbers.get("approval_seconds"),
        )
        entry = departments.setdefault(
            service.department_id, {"department": service.department, "services": []}
        )
        entry["services"].append(row)
    for entry in departments.values():
        rows = entry["services"]
        total = Figures(entry["department"].id, entry["department"].name)
        total.completed = sum(r.completed for r in rows)
        total.on_time = sum(r.on_time for r in rows)
        total.open = sum(r.open for r in rows)
        total.overdue = sum(r.overdue for r in rows)
        entry["total"] = total
    return {
        "computed_at": datetime.fromisoformat(figures["computed_at"]),
        "weeks": PUBLIC_WEEKS,
        "departments": [departments[k] for k in sorted(departments)],
    }
