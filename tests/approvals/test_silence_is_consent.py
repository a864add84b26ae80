"""Silence is consent: a sign-off not answered by its deadline counts as given, once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Event, ServiceRequest
from portal.services import ServiceError, approvals
from portal.services import requests as request_service
from tests.approvals.conftest import steps
from tests.sla.stories import almaty, sweep_via_rq


def _events(request, kind):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Event.payload).where(Event.request_id == request.id, Event.kind == kind)
    ).all()


def test_an_unanswered_approval_counts_as_given_at_its_deadline(chancery, travel, app):
    chancery.service.silence_is_consent = True
    db.session.commit()
    travel(almaty(2026, 2, 2, 10, 0))  # Monday; each sign-off due Wednesday 18:00
    request = chancery.submit()
    chancery.to_approval(request)
    head_step, legal_step = steps(request)
    assert db.session.get(ServiceRequest, request.id).next_check_at == almaty(2026, 2, 4, 18, 0)

    travel(almaty(2026, 2, 2, 12, 0))
    approvals.answer(chancery.head, head_step.id, "approve")

    travel(almaty(2026, 2, 4, 17, 59))
    sweep_via_rq(app)
    assert [s.outcome for s in steps(request)] == ["approved", None]

    travel(almaty(2026, 2, 4, 18, 0, 5))
    sweep_via_rq(app, times=2)  # two sweeps at once
    travel(almaty(2026, 2, 5, 9, 30))
    sweep_via_rq(app)  # and another later: nothing more to do

    head_step, legal_step = steps(request)
    assert legal_step.outcome == "silence_consent"
    assert legal_step.answered_at == almaty(2026, 2, 4, 18, 0)  # the deadline, not the sweep
    assert legal_step.answered_by_id is None
    consents = _events(request, "approval_silence_consent")
    assert consents == [
        {
            "step_id": legal_step.id,
            "stage": f"department:{chancery.legal.id}",
            "due_at": "2026-02-04T13:00:00+00:00",  # 18:00 in Almaty
        }
    ]

    # Silence gave the last sign-off: the approval stage is not "overdue" on anyone.
    assert [e["level"] for e in _events(request, "escalated")].count("approval") == 0

    # Every sign-off is given: the caseworker decides.
    request_service.act(chancery.employee, request.reference, "approve")
    assert db.session.get(ServiceRequest, request.id).state == "approved"


def test_a_late_answer_after_silence_consented_is_refused(chancery, travel, app):
    chancery.service.silence_is_consent = True
    db.session.commit()
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    _, legal_step = steps(request)

    travel(almaty(2026, 2, 5, 10, 0))  # past the deadline; the sweep has not come yet
    with app.test_request_context(), pytest.raises(ServiceError) as refused:
        approvals.answer(chancery.lawyer, legal_step.id, "return", "Too late?")
    assert refused.value.code == "conflict"
    assert [s.outcome for s in steps(request)] == ["silence_consent", "silence_consent"]
    assert len(_events(request, "approval_silence_consent")) == 2


def test_without_silence_is_consent_a_late_approval_still_waits(chancery, travel, app):
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)

    travel(almaty(2026, 2, 9, 10, 0))
    sweep_via_rq(app)
    assert [s.outcome for s in steps(request)] == [None, None]
    assert _events(request, "approval_silence_consent") == []
    # The approval stage's own deadline escalated to the caseworker instead.
    assert _events(request, "escalated")[0]["level"] == "approval"


def test_a_new_holiday_moves_the_waiting_approvals_deadline(chancery, travel):
    from datetime import date

    from portal.models import CalendarOverride
    from sla import recompute

    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    head_step, _ = steps(request)
    approvals.answer(chancery.head, head_step.id, "approve")

    db.session.add(CalendarOverride(day=date(2026, 2, 3), kind="holiday", name="Decree"))
    db.session.commit()
    recompute.apply("calendar: 2026-02-03 holiday")

    head_step, legal_step = steps(request)
    assert legal_step.due_at == almaty(2026, 2, 5, 18, 0)  # one working day later
    assert head_step.due_at == almaty(2026, 2, 4, 18, 0)  # answered: history stays
