"""Who may see and act on what. One copy of the rules, for pages, API and jobs."""

from __future__ import annotations

import sqlalchemy as sa

from portal import lifecycle
from portal.domain import events
from portal.extensions import db
from portal.models import Role, ServiceRequest, User
from portal.services import NotVisible, businesses


def visible_requests(user: User) -> sa.Select:
    """A select of the requests `user` may see."""
    query = sa.select(ServiceRequest)
    if user.role == Role.APPLICANT:
        # A business's requests are its members' (a citizen is their own business).
        return query.where(ServiceRequest.business_id.in_(businesses.active_business_ids(user)))
    if user.role in (Role.STAFF, Role.HEAD):
        return query.where(ServiceRequest.department_id == user.department_id)
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return query
    return query.where(sa.false())


def can_see(user: User, request: ServiceRequest) -> bool:
    if user.role == Role.APPLICANT:
        return businesses.is_active_member(user, request.business_id)
    if user.role in (Role.STAFF, Role.HEAD):
        if request.department_id == user.department_id:
            return True
        # An approver from another department sees what they are asked to sign off.
        from portal.services import approvals

        return approvals.is_approver_of(user, request)
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def can_answer(user: User, request: ServiceRequest) -> bool:
    """Any member of the business answers a document request (whoever holds the papers)."""
    return user.role == Role.APPLICANT and can_see(user, request)


def can_withdraw(user: User, request: ServiceRequest) -> bool:
    """Withdrawing gives up the business's request: its owner, or whoever submitted it."""
    if user.role != Role.APPLICANT or not can_see(user, request):
        return False
    return request.applicant_id == user.id or businesses.is_owner(user, request.business_id)


def can_act_as_caseworker(user: User, request: ServiceRequest) -> bool:
    """The accountable employee, or the head of the owning department."""
    if user.role == Role.STAFF:
        return request.assignee_id == user.id and request.department_id == user.department_id
    if user.role == Role.HEAD:
        return request.department_id == user.department_id
    return False


def can_reassign(user: User, request: ServiceRequest) -> bool:
    """The head of the owning department, or the supervisor (from the breach board)."""
    if user.role == Role.SUPERVISOR:
        return True
    return user.role == Role.HEAD and request.department_id == user.department_id


def can_acknowledge(user: User, request: ServiceRequest) -> bool:
    """Escalations: the head of the owning department, or the supervisor, acknowledges."""
    return can_reassign(user, request)


def can_excuse(user: User) -> bool:
    """Whether a breach was excused (it weighs on the 12-week results) is the supervisor's call."""
    return user.role == Role.SUPERVISOR


def sees_team_board(user: User) -> bool:
    """A department's per-person board: its head only."""
    return user.role == Role.HEAD and user.department_id is not None


def get_request(user: User, reference: str, for_update: bool = False) -> ServiceRequest:
    """The request by reference if `user` may see it; NotVisible otherwise.

    `for_update` locks the row until the caller's commit (PostgreSQL), so two changes to one
    request (a reject and a withdrawal, an answer and the sweep's refusal) never overwrite
    each other: the second waits, then sees the first.
    """
    query = sa.select(ServiceRequest).where(ServiceRequest.reference == reference)
    if for_update:
        query = query.with_for_update(of=ServiceRequest).execution_options(populate_existing=True)
    request = db.session.scalar(query)
    if request is None or not can_see(user, request):
        raise NotVisible(reference)
    return request


# What an applicant sees of an event is declared beside its kind (portal/domain/events.py).


def sees_event(user: User, event) -> bool:
    """Whether `user` sees that `event` happened at all."""
    return user.role != Role.APPLICANT or events.applicant_sees(event.kind)


def sees_event_actor(user: User, event) -> bool:
    return user.role != Role.APPLICANT or events.applicant_sees(event.kind, "actor")


def sees_event_reason(user: User, event) -> bool:
    return user.role != Role.APPLICANT or events.applicant_sees(event.kind, "comment")


def sees_decision_reason(user: User, request: ServiceRequest) -> bool:
    """The decision's reason is the reason of the move that closed the request."""
    action = lifecycle.closing_action(request.state)
    return user.role != Role.APPLICANT or (
        action is not None and events.applicant_sees(action, "comment")
    )


def visible_events(user: User, request: ServiceRequest) -> list:
    """The timeline of `request` as `user` may read it."""
    return [event for event in request.events if sees_event(user, event)]
