"""Approvals (согласования): sign-offs a service asks for after review.

A service lists its approvers (`ServiceApprover`): a role or a department.
- role `head`: the head(s) of the department that owns the request;
- role `supervisor`: any supervisor;
- a department: any active staff member or head of that department.

Sending a request to approval opens a round: one step per approver, all at once, each due
in the service's `approval_days` working days (DEFAULT_APPROVAL_DAYS when unset). An
approver approves, or returns with a comment, which sends the request back to review and
closes the round. When every step is given, the caseworker decides as before: approvals are
sign-offs, never the decision. With `silence_is_consent`, the sweep counts a step not
answered by its deadline as given (`sla/consent.py`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l

import notifications
from notifications.outbox import LANGUAGES
from portal import lifecycle
from portal.extensions import db
from portal.models import (
    ROLE_LABELS,
    ApprovalStep,
    Department,
    Role,
    Service,
    ServiceApprover,
    ServiceRequest,
    User,
)
from portal.services import NotVisible, ServiceError
from sla import clock, consent, deadlines, ladder

DEFAULT_APPROVAL_DAYS = consent.DEFAULT_APPROVAL_DAYS
# Who may be asked to sign off by role (any department's people by their department).
APPROVER_ROLES = (Role.HEAD, Role.SUPERVISOR)
OUTCOME_LABELS = {
    None: _l("waiting"),
    "approved": _l("approved"),
    "returned": _l("returned with a comment"),
    "silence_consent": _l("given by silence (no answer by the deadline)"),
    "cancelled": _l("no longer needed"),
}
ANSWERED = ("approved", "returned", "silence_consent")


# --- who signs off -----------------------------------------------------------------------


def stage_key(step: ApprovalStep | ServiceApprover) -> str:
    role = getattr(step, "approver_role", None) or getattr(step, "role", None)
    if role:
        return f"role:{role}"
    department_id = getattr(step, "approver_department_id", None) or getattr(
        step, "department_id", None
    )
    return f"department:{department_id}"


def role_name(role: str, lang: str | None = None) -> str:
    """A role's one label (models.ROLE_LABELS), in `lang` or the reader's language."""
    label = ROLE_LABELS.get(role)
    if label is None:
        return role
    with force_locale(lang or str(get_locale() or "ru")):
        return str(label)


def stage_label(key: str | None) -> str:
    """The name of a sign-off, in the current language: a role, or a department."""
    if not key:
        return ""
    kind, _, value = key.partition(":")
    if kind == "role":
        return role_name(value)
    department = (
        db.session.get(Department, int(value))
        if value.isascii() and value.isdecimal() and int(value) <= 2**31 - 1
        else None
    )
    return department.name if department is not None else key


def stage_names(key: str) -> dict[str, str]:
    """A sign-off's name in every language (for messages rendered later)."""
    kind, _, value = key.partition(":")
    if kind == "role":
        return {lang: role_name(value, lang) for lang in LANGUAGES}
    department = db.session.get(Department, int(value))
    return {lang: department.in_language("name", lang) for lang in ("ru", "kk", "en")}


def approver_choices() -> list[tuple[str, str]]:
    """Every possible approver, as (key, label), for the admin's policy form."""
    choices = [(f"role:{role}", role_name(role)) for role in APPROVER_ROLES]
    for department in db.session.scalars(sa.select(Department).order_by(Department.id)):
        choices.append((f"department:{department.id}", department.name))
    return choices


def set_approvers(service: Service, keys: list[str]) -> bool:
    """Replace the service's approvers (in the caller's transaction); True if they changed."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    if [stage_key(a) for a in service.approvers] == wanted:
        return False
    valid = {key for key, _ in approver_choices()}
    if any(key not in valid for key in wanted):
        raise ServiceError(_l("Unknown approver."), field="approvers")
    service.approvers.clear()
    db.session.flush()
    for position, key in enumerate(wanted):
        kind, _, value = key.partition(":")
        service.approvers.append(
            ServiceApprover(
                position=position,
                role=value if kind == "role" else None,
                department_id=int(value) if kind == "department" else None,
            )
        )
    return True


def _eligible(user: User, step: ApprovalStep, request: ServiceRequest) -> bool:
    if not user.active:
        return False
    # A sign-off is someone else's check: never the accountable employee's, nor the sender's.
    if user.id in (request.assignee_id, step.requested_by_id):
        return False
    if step.approver_role == Role.HEAD:
        return user.role == Role.HEAD and user.department_id == request.department_id
    if step.approver_role == Role.SUPERVISOR:
        return user.role == Role.SUPERVISOR
    return (
        user.role in (Role.STAFF, Role.HEAD)
        and user.department_id is not None
        and user.department_id == step.approver_department_id
    )


def approvers_of(step: ApprovalStep) -> list[User]:
    """The people who may give this step."""
    query = sa.select(User).where(User.active.is_(True)).order_by(User.id)
    if step.approver_role == Role.HEAD:
        query = query.where(
            User.role == Role.HEAD.value, User.department_id == step.request.department_id
        )
    elif step.approver_role == Role.SUPERVISOR:
        query = query.where(User.role == Role.SUPERVISOR.value)
    else:
        query = query.where(
            User.role.in_([Role.STAFF.value, Role.HEAD.value]),
            User.department_id == step.approver_department_id,
        )
    return list(db.session.scalars(query))


def _waiting_on(user: User) -> sa.ColumnElement[bool]:
    """SQL: the step is one `user` may answer (outcome and state checked by the caller)."""
    options = []
    if user.role == Role.HEAD:
        options.append(
            sa.and_(
                ApprovalStep.approver_role == Role.HEAD.value,
                ServiceRequest.department_id == user.department_id,
            )
        )
    if user.role == Role.SUPERVISOR:
        options.append(ApprovalStep.approver_role == Role.SUPERVISOR.value)
    if user.role in (Role.STAFF, Role.HEAD) and user.department_id is not None:
        options.append(ApprovalStep.approver_department_id == user.department_id)
    if not options:
        return sa.false()
    not_own = sa.and_(
        ServiceRequest.assignee_id.is_distinct_from(user.id),
        ApprovalStep.requested_by_id.is_distinct_from(user.id),
    )
    return sa.and_(sa.or_(*options), not_own)


def is_approver_of(user: User, request: ServiceRequest) -> bool:
    """Whether `user` has been asked to sign off this request (in any round)."""
    return (
        db.session.scalar(
            sa.select(ApprovalStep.id)
            .join(ServiceRequest, ServiceRequest.id == ApprovalStep.request_id)
            .where(ApprovalStep.request_id == request.id, _waiting_on(user))
            .limit(1)
        )
        is not None
    )


# --- the steps of a request ----------------------------------------------------------------


def current_round(request: ServiceRequest) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.max(ApprovalStep.round)).where(ApprovalStep.request_id == request.id)
        )
        or 0
    )


def steps_of(request: ServiceRequest) -> list[ApprovalStep]:
    """The steps of the latest round, in the service's order."""
    number = current_round(request)
    return list(
        db.session.scalars(
            sa.select(ApprovalStep)
            .where(ApprovalStep.request_id == request.id, ApprovalStep.round == number)
            .order_by(ApprovalStep.position)
        )
    )


def waiting(request: ServiceRequest) -> list[ApprovalStep]:
    return [s for s in steps_of(request) if s.outcome is None]


def open_round(request: ServiceRequest, actor: User, now: datetime) -> list[ApprovalStep]:
    """Ask every approver of the service at once (the caller's transaction, after the
    `send_to_approval` transition). A service without approvers opens no round."""
    service = request.service
    if not service.approvers:
        return []
    cal = deadlines.calendar()
    due_at = consent.step_due(now, service.approval_days, cal)
    number = current_round(request) + 1
    steps = [
        ApprovalStep(
            request=request,
            round=number,
            position=approver.position,
            approver_role=approver.role,
            approver_department_id=approver.department_id,
            requested_by=actor,
            requested_at=now,
            due_at=due_at,
        )
        for approver in service.approvers
    ]
    db.session.add_all(steps)
    db.session.flush()
    lifecycle.record(
        request,
        "approvals_requested",
        actor,
        {
            "round": number,
            "stages": [stage_key(s) for s in steps],
            "due_at": due_at.isoformat(),
        },
    )
    for step in steps:
        key = stage_key(step)
        for person in approvers_of(step):
            notifications.notify(
                person,
                "approval_requested",
                request=request,
                context={
                    "stage": stage_names(key),
                    "step_due_at": due_at.isoformat(),
                    "path": "/staff/approvals",
                },
                key=f"approval_requested:{step.id}:{person.id}",
            )
    return steps


def close_round(request: ServiceRequest, now: datetime) -> int:
    """The request left approval another way (decided, returned, withdrawn): the steps
    still waiting are no longer needed. Returns how many were closed."""
    closed = 0
    for step in waiting(request):
        step.outcome = "cancelled"
        closed += 1
    return closed


def needed(request: ServiceRequest) -> bool:
    """Whether the request's service asks anyone to sign off before a decision to approve."""
    return bool(request.service.approvers)


def offered(request: ServiceRequest, action: str) -> bool:
    """Whether a caseworker is offered `action` now, as far as sign-offs go: sending to
    approval only where someone approves; approving from review only where no one has to,
    and in approval only once every sign-off is given."""
    if action == "send_to_approval":
        return needed(request)
    if action == "approve":
        if request.state == "in_review":
            return not needed(request)
        return not waiting(request)
    return True


def check_route(request: ServiceRequest, action: str) -> None:
    """Refuse sending to approval with no one to approve, and approving past the approvers."""
    if action == "send_to_approval" and not needed(request):
        raise ServiceError(
            _l(
                "No one signs off this service: decide the request yourself "
                "(an administrator can name approvers for the service)."
            ),
            code="conflict",
        )
    if action == "approve" and request.state == "in_review" and needed(request):
        raise ServiceError(
            _l("This service needs approvals: send the request to approval first."),
            code="conflict",
        )
    if action == "approve":
        check_all_given(request)


def check_all_given(request: ServiceRequest) -> None:
    """Refuse a decision to approve while a sign-off is still missing."""
    if request.state == "in_approval" and waiting(request):
        raise ServiceError(
            _l(
                "Wait until every approval is given: %(stages)s.",
                stages=", ".join(stage_label(stage_key(s)) for s in waiting(request)),
            ),
            code="conflict",
        )


# --- answering -----------------------------------------------------------------------------


def step_for(user: User, step_id: int) -> ApprovalStep:
    """A step `user` has been asked to give (answered or not); NotVisible otherwise."""
    step = db.session.get(ApprovalStep, step_id)
    if step is None or not _eligible(user, step, step.request):
        raise NotVisible(step_id)
    return step


def can_answer(user: User, step: ApprovalStep) -> bool:
    return (
        step.outcome is None
        and step.request.state == "in_approval"
        and _eligible(user, step, step.request)
    )


def answer(user: User, step_id: int, decision: str, comment: str | None = None) -> ApprovalStep:
    """An approver approves, or returns the request to review with a comment."""
    step = step_for(user, step_id)
    request = step.request
    if decision not in ("approve", "return"):
        raise ServiceError(_l("Unknown action."))
    comment = (comment or "").strip()
    if decision == "return" and not comment:
        raise ServiceError(_l("Say what has to change before you can approve."), field="comment")
    now = clock.now()
    # A deadline that passed under silence-is-consent has already answered for them.
    consent.advance(request, now)
    db.session.refresh(step)
    if step.outcome is not None or request.state != "in_approval":
        db.session.commit()  # keep a consent that the deadline gave just now
        raise ServiceError(_l("This approval has already been answered."), code="conflict")
    step.answered_at = now
    step.answered_by = user
    step.comment = comment or None
    key = stage_key(step)
    if decision == "approve":
        step.outcome = "approved"
        lifecycle.record(
            request,
            "approval_given",
            user,
            {"step_id": step.id, "stage": key, **({"reason": comment} if comment else {})},
        )
    else:
        step.outcome = "returned"
        close_round(request, now)
        try:
            lifecycle.apply(
                request,
                "return_to_review",
                user,
                {"step_id": step.id, "stage": key, "reason": comment},
            )
        except lifecycle.TransitionRefused as refused:
            db.session.rollback()
            raise ServiceError(refused.message, code="conflict") from None
        notifications.notify(
            request.assignee,
            "approval_returned",
            request=request,
            context={"stage": stage_names(key), "comment": comment, "approver": user.full_name},
            key=f"approval_returned:{step.id}",
        )
    ladder.schedule(request, now=now)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return step


def queue(user: User) -> list[ApprovalStep]:
    """The steps waiting on `user`, soonest deadline first."""
    return list(
        db.session.scalars(
            sa.select(ApprovalStep)
            .join(ServiceRequest, ServiceRequest.id == ApprovalStep.request_id)
            .where(
                ApprovalStep.outcome.is_(None),
                ServiceRequest.state == "in_approval",
                _waiting_on(user),
            )
            .order_by(ApprovalStep.due_at, ApprovalStep.id)
        )
    )


@dataclass
class StepView:
    """One row of the steps panel."""

    step: ApprovalStep
    label: str
    outcome_label: str
    answerable: bool


def panel(request: ServiceRequest, user: User | None) -> list[StepView]:
    """The latest round's steps as a person sees them on the request page."""
    return [
        StepView(
            step=step,
            label=stage_label(stage_key(step)),
            outcome_label=str(OUTCOME_LABELS.get(step.outcome, step.outcome)),
            answerable=user is not None and can_answer(user, step),
        )
        for step in steps_of(request)
    ]


# --- how long approvals take ------------------------------------------------------------------


@dataclass
class StageTime:
    """Time spent on sign-offs (per stage, or per service), in working time: office hours
    by the calendar, as every deadline and board counts it."""

    stage: object  # the stage key, or the service id
    label: str
    answered: int
    median_hours: float
    average_hours: float
    by_silence: int = 0
    returned: int = 0

    @property
    def average_seconds(self) -> float:
        return self.average_hours * 3600


def _answered(department_id: int | None, since: datetime | None, until: datetime | None):
    query = (
        sa.select(ApprovalStep)
        .join(ServiceRequest, ServiceRequest.id == ApprovalStep.request_id)
        .where(ApprovalStep.outcome.in_(ANSWERED), ApprovalStep.answered_at.is_not(None))
        .order_by(ApprovalStep.id)
    )
    if department_id is not None:
        query = query.where(ServiceRequest.department_id == department_id)
    if since is not None:
        query = query.where(ApprovalStep.answered_at >= since)
    if until is not None:
        query = query.where(ApprovalStep.answered_at < until)
    return db.session.scalars(query)


def _summary(stage, label: str, seconds: list[int], steps: list[ApprovalStep]) -> StageTime:
    hours = [s / 3600 for s in seconds]
    return StageTime(
        stage=stage,
        label=label,
        answered=len(hours),
        median_hours=round(statistics.median(hours), 2),
        average_hours=round(statistics.fmean(hours), 2),
        by_silence=sum(1 for s in steps if s.outcome == "silence_consent"),
        returned=sum(1 for s in steps if s.outcome == "returned"),
    )


def approval_time(
    since: datetime | None = None,
    until: datetime | None = None,
    department_id: int | None = None,
    by: str = "stage",
) -> list[StageTime]:
    """How long sign-offs answered in [since, until) took, from asking to answer, in working
    time; steps given by silence count their full time. The one measure of approval time:
    the boards, the trends and the public board all read it.

    `by` groups per sign-off ("stage": a role or a department) or per "service";
    `department_id` is the department that owns the requests.
    """
    if by not in ("stage", "service"):
        raise ValueError(f"approval time by {by!r}")
    cal = deadlines.calendar()
    seconds: dict[object, list[int]] = {}
    steps: dict[object, list[ApprovalStep]] = {}
    labels: dict[object, str] = {}
    for step in _answered(department_id, since, until):
        if by == "stage":
            key = stage_key(step)
            labels.setdefault(key, stage_label(key))
        else:
            key = step.request.service_id
            labels.setdefault(key, step.request.service.title)
        seconds.setdefault(key, []).append(
            cal.working_seconds_between(step.requested_at, step.answered_at)
        )
        steps.setdefault(key, []).append(step)
    rows = [_summary(key, labels[key], seconds[key], steps[key]) for key in seconds]
    return sorted(rows, key=lambda row: str(row.stage))
