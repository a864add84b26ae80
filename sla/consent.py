"""Silence is consent: an approval step not answered by its deadline counts as given.

Only for services that say so (`Service.silence_is_consent`). The sweep reaches the
request through `next_check_at` (see `ladder.schedule`), and each step is consented at
most once: the write is a compare-and-set on the step's empty outcome.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.lifecycle import record
from portal.models import ApprovalStep, ServiceRequest

DEFAULT_APPROVAL_DAYS = 3


def waiting_steps(request: ServiceRequest) -> list[ApprovalStep]:
    """The steps of the request's approval that nobody has answered yet."""
    if request.id is None:
        return []
    return list(
        db.session.scalars(
            sa.select(ApprovalStep)
            .where(ApprovalStep.request_id == request.id, ApprovalStep.outcome.is_(None))
            .order_by(ApprovalStep.due_at, ApprovalStep.id)
        )
    )


def upcoming(request: ServiceRequest) -> list[datetime]:
    """The next step deadline that would turn silence into consent, if any."""
    if request.state != "in_approval" or not request.service.silence_is_consent:
        return []
    steps = waiting_steps(request)
    return [steps[0].due_at] if steps else []


def advance(request: ServiceRequest, now: datetime) -> list[str]:
    """Count as given every waiting step whose deadline has passed; one entry per step."""
    if request.state != "in_approval" or not request.service.silence_is_consent:
        return []
    consented = []
    for step in waiting_steps(request):
        if step.due_at > now:
            break
        # Compare-and-set: a second sweep (or an approver answering at the same moment)
        # finds the outcome already written and changes nothing.
        written = db.session.execute(
            sa.update(ApprovalStep)
            .where(ApprovalStep.id == step.id, ApprovalStep.outcome.is_(None))
            .values(outcome="silence_consent", answered_at=step.due_at)
            .execution_options(synchronize_session=False)
        )
        if written.rowcount != 1:
            continue
        db.session.refresh(step)
        record(
            request,
            "approval_silence_consent",
            None,
            {"step_id": step.id, "stage": stage_key(step), "due_at": step.due_at.isoformat()},
        )
        consented.append("silence_consent")
    return consented


def step_due(requested_at: datetime, approval_days: int | None, cal) -> datetime:
    """A sign-off's deadline: the service's approval days (or the default) after asking."""
    return cal.add_working_days(requested_at, approval_days or DEFAULT_APPROVAL_DAYS)


def reschedule(request: ServiceRequest, cal) -> int:
    """Move the waiting steps' deadlines after a calendar or policy change; how many moved."""
    if request.state != "in_approval":
        return 0
    moved = 0
    for step in waiting_steps(request):
        due = step_due(step.requested_at, request.service.approval_days, cal)
        if due != step.due_at:
            step.due_at = due
            moved += 1
    return moved


def stage_key(step: ApprovalStep) -> str:
    """Which sign-off a step is: `role:head`, `role:supervisor` or `department:<id>`."""
    if step.approver_role:
        return f"role:{step.approver_role}"
    return f"department:{step.approver_department_id}"
