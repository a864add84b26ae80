"""Recomputing open deadlines after the calendar or a service's target changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.lifecycle import record
from portal.models import OPEN_STATE_VALUES, ServiceRequest
from sla import clock, consent, deadlines, ladder
from sla.calendar import WorkingCalendar


@dataclass
class Shift:
    """What a change does to the open deadlines: how many move, and the largest move."""

    moved: int = 0
    largest_days: int = 0  # signed working days, the largest in absolute value

    def note(self, days: int) -> None:
        self.moved += 1
        if abs(days) > abs(self.largest_days):
            self.largest_days = days


def new_due(request: ServiceRequest, cal: WorkingCalendar, target_days: int) -> datetime:
    """The deadline this request would have under `cal` and `target_days`."""
    base = cal.add_working_days(request.clock_started_at, target_days)
    target = cal.working_seconds_between(request.clock_started_at, base)
    if not request.credited_working_seconds:
        return base
    return cal.add_working_seconds(
        request.clock_started_at, target + request.credited_working_seconds
    )


def _open_requests(service_id: int | None):
    query = sa.select(ServiceRequest).where(
        ServiceRequest.state.in_(OPEN_STATE_VALUES),
        ServiceRequest.clock_started_at.is_not(None),
    )
    if service_id is not None:
        query = query.where(ServiceRequest.service_id == service_id)
    return db.session.scalars(query.order_by(ServiceRequest.id)).yield_per(500)


def _days_between(cal: WorkingCalendar, old: datetime, new: datetime) -> int:
    tz = cal.tz
    a, b = old.astimezone(tz).date(), new.astimezone(tz).date()
    return cal.working_days_between(a, b) if b >= a else -cal.working_days_between(b, a)


def _new_reply_by(request: ServiceRequest, cal: WorkingCalendar) -> datetime | None:
    """The reply-by date of the open document request under `cal`, if it would move."""
    ask = request.open_document_request
    if ask is None or ask.reply_days is None or ask.reply_by is None:
        return None
    new = cal.add_working_days(ask.asked_at, ask.reply_days)
    return new if new != ask.reply_by else None


def _move_reply_by(
    request: ServiceRequest, cal: WorkingCalendar, reason: str, shift: Shift
) -> None:
    new = _new_reply_by(request, cal)
    if new is None:
        return
    ask = request.open_document_request
    shift.note(_days_between(cal, ask.reply_by, new))
    record(
        request,
        "reply_by_recomputed",
        None,
        {"reason": reason, "from": ask.reply_by.isoformat(), "to": new.isoformat()},
    )
    ask.reply_by = new


def preview(
    cal: WorkingCalendar, service_id: int | None = None, target_days: int | None = None
) -> Shift:
    """What applying `cal` (and, for one service, `target_days`) would move. Writes nothing."""
    shift = Shift()
    for request in _open_requests(service_id):
        days = target_days if target_days is not None else request.service.target_days
        due = new_due(request, cal, days)
        if due != request.due_at:
            shift.note(_days_between(cal, request.due_at, due))
        reply_by = _new_reply_by(request, cal)
        if reply_by is not None:
            shift.note(_days_between(cal, request.open_document_request.reply_by, reply_by))
    db.session.rollback()
    return shift


BATCH = 500


def _batches(service_id: int | None):
    """Open requests in id order, a batch at a time, each batch's rows locked (PostgreSQL)."""
    postgres = db.engine.dialect.name == "postgresql"
    last_id = 0
    while True:
        query = sa.select(ServiceRequest).where(
            ServiceRequest.state.in_(OPEN_STATE_VALUES),
            ServiceRequest.clock_started_at.is_not(None),
            ServiceRequest.id > last_id,
        )
        if service_id is not None:
            query = query.where(ServiceRequest.service_id == service_id)
        query = query.order_by(ServiceRequest.id).limit(BATCH)
        if postgres:
            query = query.with_for_update(of=ServiceRequest)
        rows = db.session.scalars(query).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1].id


def apply(reason: str, service_id: int | None = None, actor_id: int | None = None) -> Shift:
    """Recompute open deadlines under the current calendar and targets, with an event each.

    Committed batch by batch, so the sweep is never held up for the whole run and a
    re-run after a crash carries on (a request already moved does not move again).
    """
    deadlines.invalidate()
    cal = deadlines.calendar()
    now = clock.now()
    shift = Shift()
    for rows in _batches(service_id):
        for request in rows:
            _recompute_one(request, cal, now, reason, actor_id, shift)
        db.session.commit()
    return shift


def _recompute_one(request, cal, now, reason, actor_id, shift: Shift) -> None:
    consent.reschedule(request, cal)  # approval steps waiting on an answer
    _move_reply_by(request, cal, reason, shift)  # the chase's deadline is one too
    due = new_due(request, cal, request.service.target_days)
    if due == request.due_at:
        ladder.advance(request, now, cal)  # a changed ladder may move next_check_at
        return
    old = request.due_at
    shift.note(_days_between(cal, old, due))
    request.due_at = due
    request.target_working_seconds = cal.working_seconds_between(
        request.clock_started_at,
        cal.add_working_days(request.clock_started_at, request.service.target_days),
    )
    if request.paused_since is None:
        request.sla_state = "on_track"
    record(
        request,
        "deadline_recomputed",
        None,
        {"reason": reason, "from": old.isoformat(), "to": due.isoformat(), "by_id": actor_id},
    )
    ladder.advance(request, now, cal)
