"""The escalation ladder: what is due for one request, firing each rung once.

at risk -> the accountable employee is warned; breached -> the head of department;
still open N working days after the breach -> the supervisor.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import notifications
from portal.extensions import db
from portal.lifecycle import record
from portal.models import ApprovalStep, Escalation, Role, ServiceRequest, User
from sla import chase, clock, consent, deadlines

LEVELS = ("at_risk", "head", "supervisor")


def moments(request: ServiceRequest, cal=None) -> dict[str, datetime | None]:
    """When each rung is due for the current clock run."""
    cal = cal or deadlines.calendar()
    service = request.service
    return {
        "at_risk": deadlines.at_risk_at(request, service.at_risk_ratio, cal),
        "head": request.due_at,
        "supervisor": deadlines.supervisor_at(request, service.supervisor_after_days, cal),
    }


# Stage targets: (the state the stage is, the service's target for it in working days).
STAGES = {"intake": ("submitted", "intake_days"), "approval": ("in_approval", "approval_days")}


def stage_deadline(request: ServiceRequest, cal=None) -> tuple[str, datetime] | None:
    """The current stage's own deadline, if the service sets one: (level, when)."""
    for level, (state, target) in STAGES.items():
        days = getattr(request.service, target)
        if request.state == state and days and request.stage_started_at is not None:
            if level == "approval" and _approvals_given(request):
                return None  # every sign-off is in: the decision is the caseworker's, on time
            cal = cal or deadlines.calendar()
            return level, cal.add_working_days(request.stage_started_at, days)
    return None


def _approvals_given(request: ServiceRequest) -> bool:
    """The approval has steps and none of them waits (given, or given by silence)."""
    has_steps = db.session.scalar(
        sa.select(ApprovalStep.id).where(ApprovalStep.request_id == request.id).limit(1)
    )
    return has_steps is not None and not consent.waiting_steps(request)


def _clock_runs(request: ServiceRequest) -> bool:
    return request.is_open and request.paused_since is None and request.due_at is not None


def schedule(request: ServiceRequest, cal=None, now: datetime | None = None) -> datetime | None:
    """Set `next_check_at`: the next moment anything about this request can change.

    That is the next rung of the ladder while the clock runs, and the next step of the
    chase (a reminder, the reply-by date) while the request waits on the applicant.
    """
    cal = cal or deadlines.calendar()
    if not _clock_runs(request):
        return _schedule(request, cal, now, None, None, set())
    return _schedule(
        request,
        cal,
        now,
        moments(request, cal),
        stage_deadline(request, cal),
        _fired_levels(request),
    )


def _schedule(request, cal, now, due, stage, done: set[str]) -> datetime | None:
    """`schedule` with the rung moments, stage deadline and fired levels already known."""
    upcoming: list[datetime] = []
    if due is not None:
        if request.sla_state == "on_track" and due["at_risk"] is not None:
            upcoming.append(due["at_risk"])
        if request.sla_state in ("on_track", "at_risk"):
            upcoming.append(due["head"])
        if request.sla_state == "breached" and due["supervisor"] is not None:
            if "supervisor" not in done:
                upcoming.append(due["supervisor"])
        if stage is not None and stage[0] not in done:
            upcoming.append(stage[1])
    if request.is_open:
        # Approval steps whose silence will count as consent at their deadline.
        upcoming.extend(consent.upcoming(request))
    if request.is_open:
        # Deliberate (the chase): a paused request still has a next_check_at, the
        # next reminder or its reply-by date, so the sweep sends reminders and refuses on time.
        now = now or clock.now()
        upcoming.extend(chase.next_moment_after(chase.upcoming(request, cal), now, cal))
    request.next_check_at = min(upcoming) if upcoming else None
    return request.next_check_at


def _fired_levels(request: ServiceRequest) -> set[str]:
    """The rungs already fired in this clock run (one query for all of them)."""
    return set(
        db.session.scalars(
            sa.select(Escalation.level).where(
                Escalation.request_id == request.id,
                Escalation.clock_epoch == request.clock_epoch,
            )
        )
    )


def _target(request: ServiceRequest, level: str) -> User | None:
    if level in ("at_risk", "intake", "approval"):
        return request.assignee
    role = Role.HEAD if level == "head" else Role.SUPERVISOR
    query = sa.select(User).where(User.role == role.value, User.active.is_(True))
    if level == "head":
        query = query.where(User.department_id == request.department_id)
    return db.session.scalar(query.order_by(User.id).limit(1))


def _breach_owner(request: ServiceRequest) -> int | None:
    """Who was accountable when this clock run breached (the head rung), else who is now.

    The supervisor rung is the same breach gone on longer: a reassignment in between does
    not hand it to the new employee.
    """
    owner = db.session.scalar(
        sa.select(Escalation.accountable_id).where(
            Escalation.request_id == request.id,
            Escalation.clock_epoch == request.clock_epoch,
            Escalation.level == "head",
        )
    )
    return owner if owner is not None else request.assignee_id


def fire(request: ServiceRequest, level: str, due_at: datetime, now: datetime) -> bool:
    """Record the rung and tell its person; False if it had already fired."""
    target = _target(request, level)
    accountable_id = _breach_owner(request) if level == "supervisor" else request.assignee_id
    # One statement decides: the unique constraint with ON CONFLICT DO NOTHING, inside the
    # sweep's transaction, so a crash before its commit leaves neither the rung nor its event.
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = db.session.execute(
        insert(Escalation.__table__)
        .values(
            request_id=request.id,
            level=level,
            clock_epoch=request.clock_epoch,
            target_user_id=target.id if target else None,
            accountable_id=accountable_id,
            due_at=due_at,
            fired_at=now,
        )
        .on_conflict_do_nothing(index_elements=["request_id", "level", "clock_epoch"])
        .returning(Escalation.__table__.c.id)
    )
    if added.scalar() is None:  # another sweep got there first
        return False
    record(
        request,
        "escalated",
        None,
        {
            "level": level,
            "to_id": target.id if target else None,
            "to": target.full_name if target else None,
            "due_at": due_at.isoformat(),
        },
    )
    notifications.notify(
        target,
        f"escalation_{level}",
        request=request,
        context={"level": level, "rung_due_at": due_at.isoformat()},
        key=f"escalation:{request.id}:{level}:{request.clock_epoch}",
    )
    return True


def advance(request: ServiceRequest, now: datetime | None = None, cal=None) -> list[str]:
    """Bring one request's SLA state up to `now`; returns the rungs that fired."""
    now = now or clock.now()
    cal = cal or deadlines.calendar()
    fired: list[str] = chase.advance(request, now, cal)
    fired += consent.advance(request, now)
    if not _clock_runs(request):
        _schedule(request, cal, now, None, None, set())
        return fired
    service = request.service
    due = moments(request, cal)
    done = _fired_levels(request)

    def rung(level: str, at: datetime) -> None:
        if level not in done and fire(request, level, at, now):
            done.add(level)
            fired.append(level)

    # A resume or a recompute sets the state back to on_track; coming back to a state
    # whose rung already fired in this clock run is not news on the timeline.
    if request.sla_state == "on_track" and due["at_risk"] and now >= due["at_risk"]:
        request.sla_state = "at_risk"
        if "at_risk" not in done:
            record(request, "sla_at_risk", None, {"at": due["at_risk"].isoformat()})
            if service.warn_at_risk:
                rung("at_risk", due["at_risk"])
    if request.sla_state in ("on_track", "at_risk") and now >= due["head"]:
        request.sla_state = "breached"
        if "head" not in done:
            record(request, "sla_breached", None, {"due_at": due["head"].isoformat()})
            if service.escalate_to_head:
                rung("head", due["head"])
    if request.sla_state == "breached" and due["supervisor"] and now >= due["supervisor"]:
        rung("supervisor", due["supervisor"])
    stage = stage_deadline(request, cal)
    if stage is not None and now >= stage[1]:
        rung(*stage)
    _schedule(request, cal, now, due, stage, done)
    return fired
