"""Acknowledging escalations, and reassigning several requests at once."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal import lifecycle
from portal.extensions import db
from portal.models import Escalation, ServiceRequest, User
from portal.services import NotVisible, ServiceError, access
from portal.services import requests as request_service
from sla import clock

REASON_CODES = {
    "applicant_delay": _l("Applicant delay"),
    "inter_agency_wait": _l("Waiting for another agency"),
    "workload": _l("Workload"),
    "employee_fault": _l("Employee's fault"),
    "system_fault": _l("System fault"),
    "other": _l("Other"),
}


LEVELS = {
    "at_risk": _l("At-risk warning"),
    "head": _l("Deadline missed: head of department"),
    "supervisor": _l("Still overdue: supervisor"),
    "intake": _l("Completeness check overdue"),
    "approval": _l("Approval stage overdue"),
}


def level_label(level: str) -> str:
    return str(LEVELS.get(level, level))


def reason_label(code: str | None) -> str:
    return str(REASON_CODES.get(code, code or "—"))


def get_escalation(user: User, escalation_id: int) -> Escalation:
    """The escalation if `user` may acknowledge it; NotVisible otherwise."""
    escalation = db.session.get(Escalation, escalation_id)
    if escalation is None or not access.can_acknowledge(user, escalation.request):
        raise NotVisible(escalation_id)
    # The acknowledgement is an event on the request: lock the request as every other
    # writer of its audit chain does, so a sweep tick on it waits instead of colliding.
    db.session.execute(
        sa.select(ServiceRequest.id)
        .where(ServiceRequest.id == escalation.request_id)
        .with_for_update()
    )
    return escalation


def acknowledge(
    user: User,
    escalation_id: int,
    reason_code: str,
    note: str | None = None,
    excused: bool | None = None,
) -> Escalation:
    """Acknowledge an escalation with a reason; the supervisor also says whether it is excused.

    A head acknowledges once; the supervisor may acknowledge again to give (or change) the
    verdict. Each acknowledgement is an event on the request.
    """
    escalation = get_escalation(user, escalation_id)
    if reason_code not in REASON_CODES:
        raise ServiceError(_l("Choose a reason."), field="reason_code")
    note = (note or "").strip() or None
    if reason_code == "other" and not note:
        raise ServiceError(_l("Say what the other reason is."), field="note")
    if excused is not None and not access.can_excuse(user):
        raise ServiceError(_l("Only the supervisor decides whether a breach is excused."))
    if escalation.acknowledged_at is not None and not access.can_excuse(user):
        raise ServiceError(_l("This escalation has already been acknowledged."), code="conflict")
    previous = {
        "reason_code": escalation.reason_code,
        "excused": escalation.excused,
        "by_id": escalation.acknowledged_by_id,
    }
    now = clock.now()
    escalation.acknowledged_by_id = user.id
    escalation.acknowledged_at = now
    escalation.reason_code = reason_code
    escalation.note = note
    if access.can_excuse(user):
        escalation.excused = excused
    payload = {
        "escalation_id": escalation.id,
        "level": escalation.level,
        "reason_code": reason_code,
        "note": note,
        "excused": escalation.excused,
    }
    if previous["by_id"] is not None:
        payload["previous"] = previous
    lifecycle.record(escalation.request, "escalation_acknowledged", user, payload)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return escalation


def reassign_many(user: User, references: list[str], assignee_id: int, reason: str) -> int:
    """Reassign each request to one employee with one reason: all of them, or none.

    Each move is checked by the same rules as a single reassignment and writes its own
    event; the first refusal rolls every move back and names the request.
    """
    references = list(dict.fromkeys(r for r in references if r))
    if not references:
        raise ServiceError(_l("Choose at least one request."), field="references")
    try:
        for reference in references:
            try:
                request_service.move_to(user, reference, assignee_id, reason)
            except ServiceError as error:
                raise ServiceError(
                    _l("%(reference)s: %(message)s", reference=reference, message=error.message),
                    field=error.field,
                    code=error.code,
                ) from None
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(references)
