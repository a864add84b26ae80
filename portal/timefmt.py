"""How times and events read to a person, in their language."""

from __future__ import annotations

from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import lifecycle
from portal.domain import events
from portal.services import escalations
from sla import clock, deadlines

SLA_LABELS = {
    "on_track": _l("on track"),
    "at_risk": _l("at risk"),
    "paused": _l("paused"),
    "breached": _l("overdue"),
    "met": _l("on time"),
    "missed": _l("late"),
}


# What each role is called on the pages (the admin's people pages, the invitation form).
def sla_label(state: str) -> str:
    return str(SLA_LABELS.get(state, state))


def event_text(event) -> str:
    try:
        template = events.spec(event.kind).label
    except events.UndeclaredEventKind:
        return event.kind
    payload = event.payload or {}
    return str(template) % {
        "assignee": payload.get("assignee") or "—",
        "previous": payload.get("previous") or "—",
        "number": payload.get("number", ""),
        "level_label": escalations.level_label(payload.get("level", "")),
        **_approval_names(event.kind, payload),
    }


def _approval_names(kind: str, payload: dict) -> dict:
    """The sign-offs an approval event names, in the reader's language."""
    if not kind.startswith("approval"):
        return {"stage": "", "stages": ""}
    from portal.services.approvals import stage_label

    return {
        "stage": stage_label(payload.get("stage")),
        "stages": ", ".join(stage_label(key) for key in payload.get("stages", ())),
    }


def time_left(request) -> str:
    """Working time left, as a person says it: '2 working days 3 h', or how overdue."""
    if not request.is_open:
        return lifecycle.state_label(request.state)
    if request.paused_since is not None:
        return _("paused")
    if request.due_at is None:
        return "—"
    seconds = deadlines.working_seconds_left(request)
    # Past the deadline outside office hours no working time has passed yet: still overdue.
    if seconds < 0 or clock.now() > request.due_at:
        if -seconds < 60:
            return _("overdue since %(date)s", date=format_datetime(request.due_at, "short"))
        return _("overdue by %(time)s", time=working_time(-seconds))
    return working_time(seconds)


def working_time(seconds: int) -> str:
    """Office time in working days and hours ('2 working days 3 h'), minutes under an hour."""
    days, rest = divmod(max(int(seconds), 0), deadlines.calendar().office_seconds_per_day)
    hours = rest // 3600
    if not days and not hours:
        return _("%(num)d min", num=rest // 60)
    parts = []
    if days:
        parts.append(ngettext("%(num)d working day", "%(num)d working days", days))
    if hours:
        parts.append(ngettext("%(num)d h", "%(num)d h", hours))
    return " ".join(parts)


NOTICE_TEXTS = {
    "escalation_at_risk": _l("A request of yours is at risk of missing its deadline"),
    "escalation_head": _l("A request in your department is overdue"),
    "escalation_supervisor": _l("A request is still overdue after the head was told"),
    "escalation_intake": _l("The completeness check of a request is overdue"),
    "escalation_approval": _l("The approval stage of a request is overdue"),
    "approval_requested": _l("Your approval is needed on a request"),
    "approval_returned": _l("A request was returned from approval"),
    "daily_digest": _l("The daily stand-up digest"),
}


def notice_text(notice) -> str:
    return str(NOTICE_TEXTS.get(notice.kind, notice.kind))


STAGE_LABELS = {
    "intake": _l("Completeness check due"),
    "approval": _l("Approvals due"),
}


def office_hours(seconds: int) -> str:
    """Office time as hours and minutes, e.g. '12 h 30 min'."""
    hours, rest = divmod(max(seconds, 0), 3600)
    return _("%(hours)d h %(minutes)d min", hours=hours, minutes=rest // 60)
