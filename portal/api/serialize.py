"""Models as the API shows them (the shapes declared in `schemas`)."""

from __future__ import annotations

from datetime import datetime

from portal import lifecycle, timefmt
from portal.lifecycle import STAFF_ACTIONS
from portal.models import (
    Department,
    Document,
    DocumentRequest,
    DocumentType,
    Escalation,
    Event,
    Role,
    Service,
    ServiceRequest,
    User,
)
from portal.services import access, approvals, boards
from sla import deadlines


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def department(dept: Department | None) -> dict | None:
    return {"code": dept.code, "name": dept.name} if dept is not None else None


def person(user: User | None) -> dict | None:
    return {"id": user.id, "name": user.full_name} if user is not None else None


def document_type(doc_type: DocumentType) -> dict:
    return {"id": doc_type.id, "code": doc_type.code, "name": doc_type.name}


def me(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.full_name,
        "email": user.email,
        "role": user.role,
        "department": department(user.department),
    }


def service(svc: Service) -> dict:
    return {
        "code": svc.code,
        "title": svc.title,
        "description": svc.description,
        "department": department(svc.department),
        "target_days": svc.target_days,
        "intake_days": svc.intake_days,
        "approval_days": svc.approval_days,
        "reply_days": svc.reply_days,
        "waiting_policy": svc.waiting_policy,
        "required_documents": [
            {**document_type(d), "field": f"doc_{d.id}"} for d in svc.required_documents
        ],
    }


def time_left(req: ServiceRequest) -> dict:
    seconds = deadlines.working_seconds_left(req) if req.is_open and req.due_at else None
    return {
        "working_seconds": seconds,
        "paused": req.is_open and req.paused_since is not None,
        "text": timefmt.time_left(req),
    }


def summary(req: ServiceRequest) -> dict:
    return {
        "reference": req.reference,
        "service": {"code": req.service.code, "title": req.service.title},
        "department": department(req.department),
        "state": req.state,
        "state_label": lifecycle.state_label(req.state),
        "sla_state": req.sla_state,
        "submitted_at": when(req.submitted_at),
        "updated_at": when(req.updated_at),
        "due_at": when(req.due_at),
        "time_left": time_left(req),
        "accountable_employee": person(req.assignee),
    }


def document_request(ask: DocumentRequest | None) -> dict | None:
    if ask is None:
        return None
    return {
        "id": ask.id,
        "asked_at": when(ask.asked_at),
        "reply_by": when(ask.reply_by),
        "reason": ask.reason,
        "items": [
            {
                "document_type": document_type(item.document_type),
                "field": f"doc_{item.document_type_id}",
                "reason": item.reason,
            }
            for item in ask.items
        ],
    }


def document(doc: Document) -> dict:
    return {
        "id": doc.id,
        "document_type": document_type(doc.document_type),
        "name": doc.original_name,
        "content_type": doc.content_type,
        "size": doc.size,
        "uploaded_at": when(doc.uploaded_at),
    }


def event(ev: Event, user: User | None = None) -> dict:
    """One step of the timeline; who took it and why only where `user` may read them."""
    details = user is None or access.sees_event_actor(user, ev)
    reason = (ev.payload or {}).get("reason")
    return {
        "at": when(ev.created_at),
        "kind": ev.kind,
        "text": timefmt.event_text(ev),
        "from_state": ev.from_state,
        "to_state": ev.to_state,
        "actor": ev.actor.full_name if details and ev.actor is not None else None,
        "reason": reason if user is None or access.sees_event_reason(user, ev) else None,
    }


def escalation(rung: Escalation) -> dict:
    return {
        "level": rung.level,
        "fired_at": when(rung.fired_at),
        "due_at": when(rung.due_at),
        "accountable_employee": person(rung.accountable),
        "acknowledged_at": when(rung.acknowledged_at),
    }


def allowed_actions(user: User, req: ServiceRequest) -> list[str]:
    """What this person could do next through the API, by the one state machine."""
    if user.role == "applicant":
        candidates = [
            action
            for action, may in (
                ("provide_documents", access.can_answer(user, req)),
                ("withdraw", access.can_withdraw(user, req)),
            )
            if may
        ]
    elif access.can_act_as_caseworker(user, req):
        candidates = [*STAFF_ACTIONS, "return_to_review"]
    else:
        candidates = []
    return [a for a in candidates if lifecycle.is_allowed(req, a) and approvals.offered(req, a)]


def detail(user: User, req: ServiceRequest) -> dict:
    shown = {
        **summary(req),
        "description": req.description,
        "decided_at": when(req.decided_at),
        "decision_reason": req.decision_reason,
        "waiting_policy": req.service.waiting_policy,
        "open_document_request": document_request(req.open_document_request),
        "documents": [document(d) for d in req.documents],
        "timeline": [event(e, user) for e in access.visible_events(user, req)],
        "allowed_actions": allowed_actions(user, req),
    }
    if user.role != Role.APPLICANT:  # the ladder is the administration's own business
        shown["escalations"] = [escalation(e) for e in boards.escalation_history(req)]
    return shown
