"""The chase: the administration reminds the applicant of what is missing, on time.

Reminders go out at opening time on the service's working days after the ask (never at
night, never on a holiday), each once; when the reply-by date passes unanswered, the
request is refused as incomplete with a notice that says what was missing and why.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import notifications
from portal import lifecycle
from portal.extensions import db
from portal.models import ChaseReminder, DocumentRequest, ServiceRequest
from sla import clock, deadlines
from sla.calendar import WorkingCalendar


def reminder_moments(
    document_request: DocumentRequest, reminder_days: list[int], cal: WorkingCalendar
) -> list[tuple[int, datetime]]:
    """(k, when) for each reminder: opening time of the k-th working day after asking.

    A reminder is known by its working day k, not by its place in the list, so an admin
    changing the cadence mid-chase neither repeats a sent reminder nor skips one.
    """
    moments = []
    for k in sorted({int(d) for d in reminder_days if int(d) > 0}):
        day = cal.add_working_days(document_request.asked_at, k).astimezone(cal.tz).date()
        at = cal.office_open_at(day)
        if document_request.reply_by is None or at < document_request.reply_by:
            moments.append((k, at))
    return moments


def _sent_numbers(document_request: DocumentRequest) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(ChaseReminder.number).where(
                ChaseReminder.document_request_id == document_request.id
            )
        )
    )


def upcoming(request: ServiceRequest, cal: WorkingCalendar) -> list[datetime]:
    """The chase's next moments for this request (a reminder, the reply-by date)."""
    document_request = request.open_document_request
    if request.state != "awaiting_documents" or document_request is None:
        return []
    latest_sent = max(_sent_numbers(document_request), default=0)
    pending = [
        at
        for day, at in reminder_moments(document_request, request.service.reminder_days, cal)
        if day > latest_sent
    ]
    moments = [min(pending)] if pending else []
    if document_request.reply_by is not None:
        moments.append(document_request.reply_by)
    return moments


def _items(document_request: DocumentRequest) -> list[dict]:
    return [
        {
            "document": item.document_type.code,
            "document_id": item.document_type_id,
            "reason": item.reason,
        }
        for item in document_request.items
    ]


def _remind(
    request: ServiceRequest,
    document_request: DocumentRequest,
    day: int,
    ordinal: int,
    due_at: datetime,
    now: datetime,
) -> bool:
    # One statement, no savepoint: under pysqlite a SAVEPOINT taken before the sweep's first
    # write opens a transaction of its own that RELEASE commits at once, so a crash before
    # the sweep's commit kept the reminder but lost its event and notice.
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = db.session.execute(
        insert(ChaseReminder.__table__)
        .values(document_request_id=document_request.id, number=day, due_at=due_at, sent_at=now)
        .on_conflict_do_nothing(index_elements=["document_request_id", "number"])
        .returning(ChaseReminder.__table__.c.id)
    )
    if added.scalar() is None:  # another sweep sent it
        return False
    lifecycle.record(
        request,
        "reminder_sent",
        None,
        {"number": ordinal, "day": day, "reply_by": document_request.reply_by.isoformat()},
    )
    notifications.notify(
        request.applicant,
        "documents_reminder",
        request=request,
        context={
            "number": ordinal,
            "reply_by": document_request.reply_by.isoformat(),
            "items": _items(document_request),
        },
        key=f"reminder:{document_request.id}:day{day}",
    )
    return True


def refuse_incomplete(
    request: ServiceRequest, document_request: DocumentRequest, now: datetime
) -> None:
    """The reply-by date passed unanswered: refuse, saying what was missing and why."""
    items = _items(document_request)
    document_request.state = "expired"
    lifecycle.apply(
        request,
        "refuse_incomplete",
        None,
        {
            "items": [{"document_type": i["document"], "reason": i["reason"]} for i in items],
            "reply_by": document_request.reply_by.isoformat(),
        },
    )
    request.decided_at = now
    request.decision_reason = "; ".join(i["reason"] for i in items)
    outcome = deadlines.stop(request, now)
    lifecycle.record(request, "clock_stopped", None, {"sla_state": outcome})
    notifications.notify(
        request.applicant,
        "refused_incomplete",
        request=request,
        context={"items": items, "reply_by": document_request.reply_by.isoformat()},
        key=f"refused:{request.id}",
    )


def advance(
    request: ServiceRequest, now: datetime | None = None, cal: WorkingCalendar | None = None
) -> list[str]:
    """Send what reminders are due (in office hours) and refuse when the time is up."""
    now = now or clock.now()
    cal = cal or deadlines.calendar()
    document_request = request.open_document_request
    if request.state != "awaiting_documents" or document_request is None:
        return []
    if document_request.reply_by is not None and now >= document_request.reply_by:
        refuse_incomplete(request, document_request, now)
        return ["refused"]
    done = []
    if cal.is_office_hours(now):
        sent = _sent_numbers(document_request)
        due = [
            (day, at)
            for day, at in reminder_moments(document_request, request.service.reminder_days, cal)
            if at <= now
        ]
        # Only the latest reminder due is sent: after an outage, or a cadence changed to add
        # a day already past, the applicant gets one reminder, not a burst of stale ones.
        if due and max(due)[0] > max(sent, default=0):
            day, at = max(due)
            if _remind(request, document_request, day, len(sent) + 1, at, now):
                done.append(f"reminder_{len(sent) + 1}")
    return done


def next_moment_after(moments: list[datetime], now: datetime, cal: WorkingCalendar):
    """Reminders wait for office hours: a moment already past moves to the next opening."""
    return [m if m > now else cal.next_office_moment(now) for m in moments]
