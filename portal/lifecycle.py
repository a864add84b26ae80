"""The request lifecycle as one table of allowed transitions.

Every transition writes its event in the same transaction; a move that is not in the
table is refused and changes nothing. A transaction that records an event for a request
also seals the request's state, assignee and deadline to its chain's head (portal/audit.py)
as the transaction leaves them; a change to those without an event is logged and left
unsealed, for `flask audit verify` to report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from portal import audit
from portal.domain import events
from portal.extensions import db
from portal.models import OPEN_STATES, Event, Role, ServiceRequest, State
from sla import clock

log = logging.getLogger("moldir.audit")
# session.info key: the requests that recorded an event in the current transaction.
_CHAINED = "audit_chained_requests"

APPLICANT = frozenset({Role.APPLICANT})
CASEWORKER = frozenset({Role.STAFF, Role.HEAD})
SYSTEM = frozenset()  # taken by jobs, never by a person
# An approver returning a request to review may be a supervisor (portal/services/approvals.py
# checks that they were asked).
APPROVER = frozenset({Role.STAFF, Role.HEAD, Role.SUPERVISOR})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[State]
    target: State
    actors: frozenset[Role]


def _t(action, sources, target, actors):
    return Transition(action, frozenset(sources), target, actors)


S = State
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("accept_documents", {S.SUBMITTED}, S.IN_REVIEW, CASEWORKER),
        _t("request_documents", {S.SUBMITTED, S.IN_REVIEW}, S.AWAITING_DOCUMENTS, CASEWORKER),
        _t("provide_documents", {S.AWAITING_DOCUMENTS}, S.IN_REVIEW, APPLICANT),
        _t("send_to_approval", {S.IN_REVIEW}, S.IN_APPROVAL, CASEWORKER),
        _t("return_to_review", {S.IN_APPROVAL}, S.IN_REVIEW, APPROVER),
        # From review only where the service asks no one to sign off (approvals.check_route).
        _t("approve", {S.IN_REVIEW, S.IN_APPROVAL}, S.APPROVED, CASEWORKER),
        _t("reject", {S.SUBMITTED, S.IN_REVIEW, S.IN_APPROVAL}, S.REJECTED, CASEWORKER),
        _t(
            "withdraw",
            {S.SUBMITTED, S.IN_REVIEW, S.AWAITING_DOCUMENTS, S.IN_APPROVAL},
            S.WITHDRAWN,
            APPLICANT,
        ),
        _t("refuse_incomplete", {S.AWAITING_DOCUMENTS}, S.REFUSED_INCOMPLETE, SYSTEM),
    )
}

# Each move is an event: its kind is declared with who may see it.
_undeclared = set(TRANSITIONS) - set(events.EventKind)
assert not _undeclared, f"transitions without a declared event kind: {_undeclared}"  # noqa: S101

# Actions a caseworker picks from the request page, in the order shown.
STAFF_ACTIONS = ("accept_documents", "request_documents", "send_to_approval", "approve", "reject")


class TransitionRefused(Exception):
    """An action that the lifecycle does not allow from where the request stands."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def closing_action(state: str) -> str | None:
    """The action that moves a request into the closed `state` (None for an open one)."""
    if state in OPEN_STATES:
        return None
    return next((t.action for t in TRANSITIONS.values() if t.target == state), None)


def is_allowed(request: ServiceRequest, action: str) -> bool:
    transition = TRANSITIONS.get(action)
    return transition is not None and request.state in transition.sources


def record(
    request: ServiceRequest, kind: str, actor=None, payload=None, from_state=None, to_state=None
) -> Event:
    """Append an event for `request` to the current transaction, chained to the one before.

    The caller holds the request's row lock (or the request is new), so no one else extends
    its chain meanwhile; should someone, the unique (request_id, seq) refuses the second.
    `kind` must be declared in `portal.domain.events` (UndeclaredEventKind otherwise).
    """
    kind = events.spec(kind).kind.value
    at = clock.now()
    payload = audit.plain_payload(payload or {})
    event = Event(
        request=request,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        payload=payload,
        created_at=at,
    )
    actor_id = actor.id if actor is not None else None
    # A request or person never flushed has no id to hash yet: only in unit tests that
    # roll back. Written anyway, such an event would show in `flask audit verify`.
    if request.id is not None and (actor is None or actor_id is not None):
        seq = (request.audit_seq or 0) + 1
        event.seq, event.prev_hash = seq, request.audit_head
        event.hash = audit.event_hash(
            request.audit_head, request.id, seq, kind, actor_id, from_state, to_state, payload, at
        )
        request.audit_seq, request.audit_head = seq, event.hash
        db.session.info.setdefault(_CHAINED, set()).add(request)
    db.session.add(event)
    request.updated_at = at
    return event


# --- the seal --------------------------------------------------------------------------------


@sa_event.listens_for(Session, "before_flush")
def _seal_requests(session, flush_context, instances):
    """Seal what a transaction with an event leaves; tell of a change made without one.

    At every flush, not once at commit: fields may move after the last event of the
    transaction (a deadline resumed after the applicant's answer), and a later flush reseals.
    """
    chained = session.info.get(_CHAINED, ())
    for request in list(session.new) + list(session.dirty):
        if not isinstance(request, ServiceRequest) or request.id is None:
            continue  # a request not yet written is sealed by its first event
        if request in chained:
            sealed = audit.seal(
                request.id,
                request.audit_seq,
                request.audit_head,
                request.state,
                _assignee_id(request),
                request.due_at,
            )
            if sealed != request.audit_seal:
                request.audit_seal = sealed
        elif changed := _sealed_fields_changed(request):
            log.warning(
                "request %s: %s changed without an event; left unsealed",
                request.reference or request.id,
                ", ".join(changed),
                extra={"event": "audit.unrecorded_change", "request_id": request.id},
            )


def _assignee_id(request: ServiceRequest) -> int | None:
    history = sa.inspect(request).attrs.assignee.history
    if history.added:  # given through the relationship: the key follows later in the flush
        person = history.added[0]
        return person.id if person is not None else None
    return request.assignee_id


def _sealed_fields_changed(request: ServiceRequest) -> list[str]:
    attrs = sa.inspect(request).attrs
    changed = [name for name in audit.SEALED if attrs[name].history.has_changes()]
    if "assignee_id" not in changed and attrs.assignee.history.has_changes():
        changed.append("assignee_id")
    return changed


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_chained(session, transaction):
    if transaction.parent is None:
        session.info.pop(_CHAINED, None)


def apply(request: ServiceRequest, action: str, actor=None, payload=None) -> Event:
    """Move `request` by `action`, writing the event; raises TransitionRefused otherwise."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TransitionRefused(_l("Unknown action."))
    if request.state not in transition.sources:
        raise TransitionRefused(
            _l(
                "This action is not possible while the request is %(state)s.",
                state=state_label(request.state),
            )
        )
    if actor is None and transition.actors:
        raise TransitionRefused(_l("This action needs a person to take it."))
    if actor is not None and actor.role not in transition.actors:
        raise TransitionRefused(_l("You may not take this action."))
    from_state = request.state
    request.state = transition.target
    event = record(request, action, actor, payload, from_state, transition.target)
    request.stage_started_at = event.created_at
    return event


STATE_LABELS = {
    S.SUBMITTED: _l("submitted"),
    S.IN_REVIEW: _l("in review"),
    S.AWAITING_DOCUMENTS: _l("awaiting documents"),
    S.IN_APPROVAL: _l("in approval"),
    S.APPROVED: _l("approved"),
    S.REJECTED: _l("rejected"),
    S.WITHDRAWN: _l("withdrawn"),
    S.REFUSED_INCOMPLETE: _l("refused as incomplete"),
}

ACTION_LABELS = {
    "accept_documents": _l("Accept documents"),
    "request_documents": _l("Ask for missing documents"),
    "send_to_approval": _l("Send to approval"),
    "return_to_review": _l("Return to review"),
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "withdraw": _l("Withdraw"),
}


def state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))
