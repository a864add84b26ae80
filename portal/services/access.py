"""Who may see and act on what. One copy of the rules, for pages, API and jobs."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Role, ServiceRequest, User
from portal.services import NotVisible


def visible_requests(user: User) -> sa.Select:
    """A select of the requests `user` may see."""
    query = sa.select(ServiceRequest)
    if user.role == Role.APPLICANT:
        return query.where(ServiceRequest.applicant_id == user.id)
    if user.role in (Role.STAFF, Role.HEAD):
        return query.where(ServiceRequest.department_id == user.department_id)
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return query
    return query.where(sa.false())


def can_see(user: User, request: ServiceRequest) -> bool:
    if user.role == Role.APPLICANT:
        return request.applicant_id == user.id
    if user.role in (Role.STAFF, Role.HEAD):
        return request.department_id == user.department_id
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def can_act_as_caseworker(user: User, request: ServiceRequest) -> bool:
    """The accountable employee, or the head of the owning department."""
    if user.role == Role.STAFF:
        return request.assignee_id == user.id and request.department_id == user.department_id
    if user.role == Role.HEAD:
        return request.department_id == user.department_id
    return False


def can_reassign(user: User, request: ServiceRequest) -> bool:
    return user.role == Role.HEAD and request.department_id == user.department_id


def get_request(user: User, reference: str) -> ServiceRequest:
    """The request by reference if `user` may see it; NotVisible otherwise."""
    request = db.session.scalar(
        sa.select(ServiceRequest).where(ServiceRequest.reference == reference)
    )
    if request is None or not can_see(user, request):
        raise NotVisible(reference)
    return request
