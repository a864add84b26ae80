"""Admin changes that move deadlines: calendar overrides and service SLA policies.

Each change is previewed first (how many open deadlines move, and by how much), then
saved; the open deadlines are recomputed by a background job, with an event on each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError

from portal import queueing
from portal.extensions import db
from portal.models import CalendarOverride, Service, User
from portal.services import ServiceError
from sla import deadlines, recompute

KINDS = ("holiday", "working")


def _overrides_with(change: tuple[str, date, str, str] | None) -> tuple:
    rows = {o.day: (o.day, o.kind, o.name) for o in db.session.scalars(sa.select(CalendarOverride))}
    if change is not None:
        op, day, kind, name = change
        if op == "add":
            rows[day] = (day, kind, name)
        else:
            rows.pop(day, None)
    return tuple(sorted(rows.values()))


def _check_override(day: date | None, kind: str, name: str) -> None:
    if day is None:
        raise ServiceError(_l("Choose a date."), field="day")
    if kind not in KINDS:
        raise ServiceError(_l("Choose what the day becomes."), field="kind")
    if not (name or "").strip():
        raise ServiceError(_l("Name the day (e.g. the decree)."), field="name")


def preview_override(day: date, kind: str, name: str) -> recompute.Shift:
    _check_override(day, kind, name)
    calendar = deadlines.build_calendar(_overrides_with(("add", day, kind, name)))
    return recompute.preview(calendar)


def preview_removal(override_id: int) -> tuple[CalendarOverride, recompute.Shift]:
    override = db.session.get(CalendarOverride, override_id)
    if override is None:
        raise ServiceError(_l("No such calendar entry."), code="not_found")
    calendar = deadlines.build_calendar(
        _overrides_with(("remove", override.day, override.kind, override.name))
    )
    return override, recompute.preview(calendar)


@dataclass
class Saved:
    queued: bool


def _queue_recompute(reason: str, actor: User | None, service_id: int | None = None) -> bool:
    """Queue the recompute of open deadlines; `actor` None: the command line."""
    from sla.jobs import recompute_job

    actor_id = actor.id if actor is not None else None
    try:
        queueing.enqueue(recompute_job, reason, service_id, actor_id, queue_name="sla")
    except RedisError:
        # The change is saved; `flask sla recompute` (or the next change) catches up.
        return False
    return True


def add_override(actor: User, day: date, kind: str, name: str) -> Saved:
    _check_override(day, kind, name)
    existing = db.session.scalar(sa.select(CalendarOverride).where(CalendarOverride.day == day))
    if existing is not None:
        existing.kind, existing.name, existing.created_by = kind, name.strip(), actor
    else:
        db.session.add(CalendarOverride(day=day, kind=kind, name=name.strip(), created_by=actor))
    db.session.commit()
    deadlines.invalidate()
    return Saved(_queue_recompute(f"calendar: {day.isoformat()} {kind} ({name.strip()})", actor))


def remove_override(actor: User, override_id: int) -> Saved:
    override = db.session.get(CalendarOverride, override_id)
    if override is None:
        raise ServiceError(_l("No such calendar entry."), code="not_found")
    reason = f"calendar: {override.day.isoformat()} {override.kind} removed"
    db.session.delete(override)
    db.session.commit()
    deadlines.invalidate()
    return Saved(_queue_recompute(reason, actor))


POLICY_FIELDS = (
    "target_days",
    "waiting_policy",
    "at_risk_ratio",
    "intake_days",
    "approval_days",
    "warn_at_risk",
    "escalate_to_head",
    "supervisor_after_days",
    "reply_days",
    "reminder_days",
    "silence_is_consent",
)


def parse_days(text: str | None) -> list[int] | None:
    """'2, 4, 6' -> [2, 4, 6]; None when it is not a list of whole numbers."""
    parts = [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]
    if not all(p.isascii() and p.isdecimal() and len(p) < 4 for p in parts):
        return None
    return sorted({int(p) for p in parts})


def _check_policy(values: dict) -> None:
    if not 1 <= values["target_days"] <= 365:
        raise ServiceError(_l("The target is 1 to 365 working days."), field="target_days")
    if values["waiting_policy"] not in ("pause", "run", "restart"):
        raise ServiceError(_l("Choose a waiting policy."), field="waiting_policy")
    reminders = values.get("reminder_days", [])
    if reminders is None or any(not 1 <= d < values.get("reply_days", 10) for d in reminders):
        raise ServiceError(
            _l("Reminder days are whole working days before the reply-by day, e.g. 2, 4, 6."),
            field="reminder_days",
        )
    if not 0 < values["at_risk_ratio"] < 1:
        raise ServiceError(
            _l("The at-risk threshold is between 1 and 99 %."), field="at_risk_ratio"
        )


def preview_policy(service: Service, values: dict) -> recompute.Shift:
    _check_policy(values)
    return recompute.preview(deadlines.calendar(), service.id, values["target_days"])


def save_policy(actor: User, service: Service, values: dict) -> Saved:
    _check_policy(values)
    changed = {
        k: (getattr(service, k), v)
        for k, v in values.items()
        if k in POLICY_FIELDS and getattr(service, k) != v
    }
    for key, (_old, new) in changed.items():
        setattr(service, key, new)
    db.session.commit()
    if not changed:
        return Saved(True)
    summary = ", ".join(f"{k} {old}→{new}" for k, (old, new) in changed.items())
    return Saved(_queue_recompute(f"policy of {service.code}: {summary}", actor, service.id))
