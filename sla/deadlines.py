"""Where a request's SLA clock stands: start, pause, resume, stop.

Functions here change a `ServiceRequest` in the caller's transaction and return what
moved, so that the caller records it as an event.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sla import clock
from sla.calendar import WorkingCalendar

PAUSE, RUN, RESTART = "pause", "run", "restart"


@lru_cache(maxsize=4)
def _default_calendar(tz: str) -> WorkingCalendar:
    return WorkingCalendar(tz=tz)


def calendar(tz: str = "Asia/Almaty") -> WorkingCalendar:
    """The administration's working calendar."""
    return _default_calendar(tz)


def start(request, target_days: int, at: datetime | None = None) -> datetime:
    """Start the clock at submission: due at close of office on the n-th working day."""
    at = at or clock.now()
    request.due_at = calendar().add_working_days(at, target_days)
    request.sla_state = "on_track"
    request.paused_since = None
    request.next_check_at = request.due_at
    return request.due_at


def pause(request, policy: str, at: datetime | None = None) -> bool:
    """The request now waits on the applicant; only `pause` and `restart` stop the clock."""
    if policy == RUN or request.paused_since is not None:
        return False
    request.paused_since = at or clock.now()
    request.sla_state = "paused"
    request.next_check_at = None
    return True


def resume(request, policy: str, target_days: int, at: datetime | None = None) -> int:
    """The applicant answered: give the employee back the time spent waiting.

    Returns the working seconds added to the deadline (or the new target under
    `restart`, measured from the old deadline).
    """
    at = at or clock.now()
    if request.paused_since is None:
        return 0
    cal = calendar()
    waited = cal.working_seconds_between(request.paused_since, at)
    request.paused_since = None
    old_due = request.due_at
    if policy == RESTART:
        request.due_at = cal.add_working_days(at, target_days)
    else:
        request.paused_working_seconds += waited
        request.due_at = cal.add_working_seconds(old_due, waited) if waited else old_due
    request.sla_state = "breached" if request.due_at <= at else "on_track"
    request.next_check_at = request.due_at
    if old_due is None or request.due_at <= old_due:
        return 0
    return cal.working_seconds_between(old_due, request.due_at)


def stop(request, at: datetime | None = None) -> str:
    """A decision ends the clock: met if on time, missed if not."""
    at = at or clock.now()
    if request.paused_since is not None:
        request.paused_since = None
    request.sla_state = "met" if request.due_at is None or at <= request.due_at else "missed"
    request.next_check_at = None
    return request.sla_state


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
