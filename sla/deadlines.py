"""Where a request's SLA clock stands: start, pause, resume, stop, and what comes next.

Functions here change a `ServiceRequest` in the caller's transaction and return what
moved, so that the caller records it as an event. Working time comes from the
administration's calendar (public holidays plus the admin's overrides).
"""

from __future__ import annotations

import threading
from datetime import datetime

import sqlalchemy as sa
from flask import g, has_app_context

from portal import config
from sla import clock
from sla.calendar import WorkingCalendar

PAUSE, RUN, RESTART = "pause", "run", "restart"
TIMEZONE = config.DEFAULT_TIMEZONE

_lock = threading.Lock()
_cached: tuple[tuple, WorkingCalendar] | None = None


def _overrides() -> tuple:
    from portal.extensions import db
    from portal.models import CalendarOverride

    rows = db.session.execute(
        sa.select(CalendarOverride.day, CalendarOverride.kind, CalendarOverride.name)
    ).all()
    return tuple(sorted((r.day, r.kind, r.name) for r in rows))


def _timezone() -> str:
    """The administration's zone: the app's TIMEZONE setting (the default outside an app)."""
    return config.zone().key


def build_calendar(overrides: tuple = (), tz: str | None = None) -> WorkingCalendar:
    """A calendar from (day, kind, name) overrides: kind is "holiday" or "working"."""
    return WorkingCalendar(
        tz=tz or _timezone(),
        extra_holidays={d: name for d, kind, name in overrides if kind == "holiday"},
        extra_working_days=[d for d, kind, _ in overrides if kind == "working"],
    )


def calendar() -> WorkingCalendar:
    """The administration's working calendar, with the overrides from the database.

    The overrides are read once per request or job (one small query), so every process
    sees an admin's change at its next request; the calendar built from them is shared.
    """
    global _cached
    if has_app_context() and "working_calendar" in g:
        return g.working_calendar
    try:
        key = (_timezone(), _overrides())
    except RuntimeError:  # no app context: the bare public calendar
        key = (TIMEZONE, ())
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, build_calendar(key[1], key[0]))
        cal = _cached[1]
    if has_app_context():
        g.working_calendar = cal
    return cal


def invalidate() -> None:
    """Forget the calendar read in this request or job (after changing the overrides)."""
    global _cached
    with _lock:
        _cached = None
    if has_app_context():
        g.pop("working_calendar", None)


def start(request, target_days: int, at: datetime | None = None, cal=None) -> datetime:
    """Start (or restart) the clock: due at close of office on the n-th working day."""
    cal = cal or calendar()
    at = at or clock.now()
    request.due_at = cal.add_working_days(at, target_days)
    request.clock_started_at = at
    request.target_working_seconds = cal.working_seconds_between(at, request.due_at)
    request.credited_working_seconds = 0
    request.sla_state = "on_track"
    request.paused_since = None
    return request.due_at


def pause(request, policy: str, at: datetime | None = None) -> bool:
    """The request now waits on the applicant; only `pause` and `restart` stop the clock."""
    if policy == RUN or request.paused_since is not None:
        return False
    request.paused_since = at or clock.now()
    request.sla_state = "paused"
    return True


def resume(request, policy: str, target_days: int, at: datetime | None = None) -> int:
    """The applicant answered: give the employee back the time spent waiting.

    Under `pause`, the deadline moves by the office time spent waiting; under `restart`,
    a new clock run starts now. Returns the office seconds the deadline moved.
    """
    at = at or clock.now()
    if request.paused_since is None:
        return 0
    cal = calendar()
    waited = cal.working_seconds_between(request.paused_since, at)
    request.paused_since = None
    request.paused_working_seconds += waited
    old_due = request.due_at
    if policy == RESTART:
        request.clock_epoch += 1
        start(request, target_days, at, cal)
    else:
        request.credited_working_seconds += waited
        request.due_at = cal.add_working_seconds(
            request.clock_started_at,
            request.target_working_seconds + request.credited_working_seconds,
        )
        request.sla_state = "on_track"
    if old_due is None or request.due_at <= old_due:
        return 0
    return cal.working_seconds_between(old_due, request.due_at)


def stop(request, at: datetime | None = None) -> str:
    """A decision ends the clock: met if on time, missed if not.

    A paused clock (e.g. refused as incomplete while waiting on the applicant) stopped
    counting when it paused: the waiting is recorded and never counts against the employee.
    """
    at = at or clock.now()
    counted_until = at
    if request.paused_since is not None:
        counted_until = request.paused_since
        request.paused_working_seconds += calendar().working_seconds_between(
            request.paused_since, at
        )
    request.paused_since = None
    if request.submitted_at is not None:
        request.worked_seconds = max(
            calendar().working_seconds_between(request.submitted_at, at)
            - request.paused_working_seconds,
            0,
        )
    request.sla_state = (
        "met" if request.due_at is None or counted_until <= request.due_at else "missed"
    )
    request.next_check_at = None
    return request.sla_state


def at_risk_at(request, ratio: float, cal=None) -> datetime | None:
    """When `ratio` of the target has been used (pause credit included)."""
    if request.clock_started_at is None:
        return None
    cal = cal or calendar()
    used = int(request.target_working_seconds * ratio) + request.credited_working_seconds
    return cal.add_working_seconds(request.clock_started_at, used)


def supervisor_at(request, days: int | None, cal=None) -> datetime | None:
    """The moment a breach is still open `days` working days later."""
    if days is None or request.due_at is None:
        return None
    cal = cal or calendar()
    return cal.add_working_days(request.due_at, days)


def working_seconds_left(request, at: datetime | None = None) -> int:
    """Office-hour seconds until the deadline; negative once it has passed."""
    at = at or clock.now()
    if request.due_at is None:
        return 0
    reference = request.paused_since or at
    cal = calendar()
    if reference <= request.due_at:
        return cal.working_seconds_between(reference, request.due_at)
    return -cal.working_seconds_between(request.due_at, reference)
