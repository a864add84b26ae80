"""The SLA clock through the real path: deadlines over holidays and overrides, the three
waiting policies, and how a decision or a withdrawal ends the clock.

February 2026 has no public holidays in Kazakhstan, so the waiting stories run there and
their office-hour arithmetic can be checked by hand: the office is open 09:00-18:00.
"""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import CalendarOverride, DocumentRequest
from portal.services import requests as request_service
from sla import deadlines
from tests.sla.stories import almaty as at
from tests.sla.stories import (
    answer,
    ask_for_documents,
    clock_of,
    escalations,
    event_kinds,
    events,
    notices,
    open_office,
    submit,
    sweep_via_rq,
)

HOUR = 3600


# --- deadlines over holidays and the admin's overrides ------------------------------------


def test_a_request_submitted_just_before_nauryz_is_due_after_the_holidays(make, travel):
    office = open_office(make, target_days=2)
    # Friday 20 March; Nauryz and its transfers take 21-25 March (Sat-Wed).
    travel(at(2026, 3, 20, 11, 30))
    request = submit(office)

    assert clock_of(request).due_at == at(2026, 3, 27, 18, 0)
    calendar = deadlines.calendar()
    days_off = _days_off(calendar, date(2026, 3, 20), date(2026, 3, 27))
    assert [d.day for d in days_off] == [21, 22, 23, 24, 25]
    assert "Nowruz" in calendar.holiday_name(date(2026, 3, 23))
    assert events(request, "clock_started") == [
        {"due_at": "2026-03-27T18:00:00+05:00", "target_days": 2}
    ]


def test_independence_day_is_skipped(make, travel):
    office = open_office(make, target_days=3)
    travel(at(2026, 12, 14, 10, 0))  # Monday; Wednesday the 16th is Independence Day
    request = submit(office)

    assert clock_of(request).due_at == at(2026, 12, 18, 18, 0)  # Tue 15, Thu 17, Fri 18


def test_an_override_holiday_moves_new_deadlines_once_the_cache_is_invalidated(make, travel):
    office = open_office(make, target_days=3)
    travel(at(2026, 12, 14, 10, 0))
    before = deadlines.calendar()
    assert before.is_working_day(date(2026, 12, 17))

    db.session.add(
        CalendarOverride(day=date(2026, 12, 17), kind="holiday", name="Decree 2026/17: day off")
    )
    db.session.commit()
    # The calendar is cached for a few seconds per process: until invalidated, it is the old.
    assert deadlines.calendar() is before
    deadlines.invalidate()
    calendar = deadlines.calendar()
    assert not calendar.is_working_day(date(2026, 12, 17))
    assert calendar.holiday_name(date(2026, 12, 17)) == "Decree 2026/17: day off"

    request = submit(office)
    assert clock_of(request).due_at == at(2026, 12, 21, 18, 0)  # Tue 15, Fri 18, Mon 21


def test_an_override_working_saturday_counts(make, travel):
    office = open_office(make, target_days=4)
    travel(at(2026, 12, 14, 10, 0))
    assert submit(office).due_at == at(2026, 12, 21, 18, 0)  # Tue, Thu, Fri, Mon

    db.session.add(
        CalendarOverride(day=date(2026, 12, 19), kind="working", name="Transfer from 2026-12-31")
    )
    db.session.commit()
    deadlines.invalidate()
    assert deadlines.calendar().is_working_day(date(2026, 12, 19))

    request = submit(office, "a second shop")
    assert clock_of(request).due_at == at(2026, 12, 19, 18, 0)  # Tue, Thu, Fri, Sat


def reply_by(request):
    return db.session.scalar(
        sa.select(DocumentRequest.reply_by)
        .where(DocumentRequest.request_id == request.id)
        .order_by(DocumentRequest.id.desc())
        .limit(1)
    )


def _days_off(calendar, first, last):
    day, out = first, []
    while day <= last:
        if not calendar.is_working_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


# --- waiting on the applicant -------------------------------------------------------------


def test_pause_moves_the_deadline_by_the_office_time_spent_waiting(app, make, travel):
    # One reminder, on the 2nd working day after the ask; the reply-by date 10 days out.
    office = open_office(make, target_days=5, policy="pause", reminder_days=[2], reply_days=10)
    travel(at(2026, 2, 2, 10, 0))  # Monday
    request = submit(office)
    assert clock_of(request).due_at == at(2026, 2, 9, 18, 0)
    assert clock_of(request).next_check_at == at(2026, 2, 6, 13, 45)  # 75 % of 53 office h

    travel(at(2026, 2, 3, 12, 0))
    ask_for_documents(office, request)
    paused = clock_of(request)
    assert (paused.state, paused.sla_state) == ("awaiting_documents", "paused")
    assert paused.paused_since == at(2026, 2, 3, 12, 0)
    # The ladder schedules nothing while paused; only the chase does (its reminder).
    assert paused.next_check_at == at(2026, 2, 5, 9, 0)
    assert event_kinds(request, "clock_paused") == ["clock_paused"]

    # The original deadline and the at-risk moment pass while the applicant is silent: the
    # sweep reminds the applicant but escalates nothing and leaves the clock alone.
    travel(at(2026, 2, 10, 12, 0))
    (job,) = sweep_via_rq(app)
    assert job.return_value()["checked"] == 1
    assert not set(job.return_value()["fired"]) & {"at_risk", "head", "supervisor"}
    assert escalations() == []
    assert event_kinds(request, "sla_at_risk", "sla_breached", "escalated") == []
    still = clock_of(request)
    assert (still.sla_state, still.due_at) == ("paused", at(2026, 2, 9, 18, 0))
    assert still.next_check_at == reply_by(request) == at(2026, 2, 17, 18, 0)

    travel(at(2026, 2, 11, 10, 0))
    answer(office, request)
    resumed = clock_of(request)
    # Tue 12-18 (6 h) + Wed, Thu, Fri, Mon, Tue (45 h) + Wed 9-10 (1 h) = 52 office hours.
    waited = 52 * HOUR
    assert resumed.paused_working_seconds == waited
    assert resumed.credited_working_seconds == waited
    assert resumed.paused_since is None
    assert (resumed.state, resumed.sla_state) == ("in_review", "on_track")
    assert resumed.due_at == at(2026, 2, 17, 16, 0)
    assert (
        deadlines.calendar().working_seconds_between(at(2026, 2, 9, 18, 0), resumed.due_at)
        == waited
    )
    assert resumed.next_check_at == at(2026, 2, 16, 11, 45)  # the at-risk moment moved too
    (resumed_event,) = events(request, "clock_resumed")
    assert resumed_event["shift_working_seconds"] == waited
    assert resumed_event["clock_epoch"] == 0

    # Picked up again once resumed: at risk, then breached, on the moved moments.
    travel(at(2026, 2, 16, 11, 45))
    sweep_via_rq(app)
    travel(at(2026, 2, 17, 16, 0, 1))
    sweep_via_rq(app)
    assert escalations(request) == [
        ("at_risk", 0, office.employee.id),
        ("head", 0, office.head.id),
    ]


def test_paused_time_adds_up_over_several_asks_and_counts_office_hours_only(make, travel):
    office = open_office(make, target_days=10, policy="pause")
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)
    assert request.due_at == at(2026, 2, 16, 18, 0)

    travel(at(2026, 2, 6, 17, 0))  # Friday, an hour before closing
    ask_for_documents(office, request)
    travel(at(2026, 2, 9, 10, 0))  # Monday: the weekend does not count
    answer(office, request)
    assert clock_of(request).paused_working_seconds == 2 * HOUR

    travel(at(2026, 2, 10, 17, 30))
    ask_for_documents(office, request)
    travel(at(2026, 2, 11, 9, 30))  # the night does not count
    answer(office, request)

    clock = clock_of(request)
    assert clock.paused_working_seconds == 3 * HOUR
    assert clock.due_at == at(2026, 2, 17, 12, 0)
    shifts = [e["shift_working_seconds"] for e in events(request, "clock_resumed")]
    assert shifts == [2 * HOUR, 1 * HOUR]


def test_run_policy_keeps_the_clock_running_while_waiting(app, make, travel):
    office = open_office(make, target_days=5, policy="run", reminder_days=[])
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)

    travel(at(2026, 2, 3, 12, 0))
    ask_for_documents(office, request)
    waiting = clock_of(request)
    assert (waiting.state, waiting.sla_state) == ("awaiting_documents", "on_track")
    assert waiting.paused_since is None
    assert waiting.next_check_at == at(2026, 2, 6, 13, 45)  # the ladder still counts
    assert event_kinds(request, "clock_paused") == []

    # The at-risk warning fires although the applicant has the ball.
    travel(at(2026, 2, 6, 14, 0))
    sweep_via_rq(app)
    assert escalations(request) == [("at_risk", 0, office.employee.id)]

    travel(at(2026, 2, 9, 10, 0))
    answer(office, request)
    answered = clock_of(request)
    assert answered.due_at == at(2026, 2, 9, 18, 0)  # unchanged
    assert answered.paused_working_seconds == 0
    assert answered.sla_state == "at_risk"
    assert answered.next_check_at == at(2026, 2, 9, 18, 0)
    assert event_kinds(request, "clock_resumed") == []


def test_restart_policy_starts_a_new_run_from_the_answer(app, make, travel):
    office = open_office(make, target_days=5, policy="restart")
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)

    travel(at(2026, 2, 6, 14, 0))
    sweep_via_rq(app)  # run 0 reaches its at-risk moment
    assert escalations(request) == [("at_risk", 0, office.employee.id)]

    travel(at(2026, 2, 6, 15, 0))
    ask_for_documents(office, request)
    assert clock_of(request).sla_state == "paused"

    travel(at(2026, 2, 10, 11, 0))  # run 0's deadline passed while paused: no breach
    answer(office, request)
    restarted = clock_of(request)
    assert restarted.clock_epoch == 1
    assert restarted.clock_started_at == at(2026, 2, 10, 11, 0)
    assert restarted.due_at == at(2026, 2, 17, 18, 0)  # 5 working days from the answer
    assert restarted.paused_working_seconds == 14 * HOUR  # Fri 3 h + Mon 9 h + Tue 2 h
    assert restarted.credited_working_seconds == 0
    assert restarted.sla_state == "on_track"
    assert restarted.next_check_at == at(2026, 2, 16, 14, 0)  # 75 % of 52 office hours
    (resumed_event,) = events(request, "clock_resumed")
    assert resumed_event["clock_epoch"] == 1
    assert resumed_event["policy"] == "restart"

    # The ladder can fire again for the new run, and only once per rung.
    travel(at(2026, 2, 16, 14, 0))
    sweep_via_rq(app, times=2)
    travel(at(2026, 2, 17, 18, 0, 1))
    sweep_via_rq(app, times=2)
    assert escalations(request) == [
        ("at_risk", 0, office.employee.id),
        ("at_risk", 1, office.employee.id),
        ("head", 1, office.head.id),
    ]
    assert [kind for _, kind in notices()] == [
        "escalation_at_risk",
        "escalation_at_risk",
        "escalation_head",
    ]


# --- the end of the clock -------------------------------------------------------------------


def _decide(office, request, action="approve", reason=None):
    if action == "approve":
        request_service.act(office.employee, request.reference, "accept_documents")
    return request_service.act(office.employee, request.reference, action, reason)


@pytest.mark.parametrize(
    ("decided_at", "outcome"),
    [
        (at(2026, 2, 6, 11, 0), "met"),
        (at(2026, 2, 9, 18, 0), "met"),  # on the deadline itself
        (at(2026, 2, 9, 18, 0, 1), "missed"),
        (at(2026, 2, 20, 10, 0), "missed"),
    ],
)
def test_a_decision_stops_the_clock_met_or_missed(app, make, travel, decided_at, outcome):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)

    travel(decided_at)
    _decide(office, request)
    clock = clock_of(request)
    assert (clock.state, clock.sla_state) == ("approved", outcome)
    assert clock.next_check_at is None
    assert events(request, "clock_stopped") == [{"sla_state": outcome}]

    travel(at(2026, 3, 2, 10, 0))  # long past every rung
    (job,) = sweep_via_rq(app)
    assert job.return_value()["checked"] == 0
    assert escalations() == []


def test_a_decision_after_a_breach_is_missed_and_stops_the_ladder(app, make, travel):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)

    travel(at(2026, 2, 9, 18, 0, 1))
    sweep_via_rq(app)
    assert clock_of(request).sla_state == "breached"
    assert clock_of(request).next_check_at == at(2026, 2, 12, 18, 0)  # supervisor moment

    travel(at(2026, 2, 10, 10, 0))
    _decide(office, request, "reject", "The premises are not registered")
    clock = clock_of(request)
    assert (clock.state, clock.sla_state, clock.next_check_at) == ("rejected", "missed", None)

    travel(at(2026, 2, 13, 10, 0))  # after the supervisor moment
    sweep_via_rq(app)
    assert [level for level, _, _ in escalations()] == ["at_risk", "head"]


@pytest.mark.parametrize(("policy", "outcome"), [("pause", "met"), ("run", "missed")])
def test_a_refusal_for_silence_judges_the_clock_as_it_stood_when_it_paused(
    app, make, travel, policy, outcome
):
    """The applicant never answers; the chase refuses after the deadline has passed.

    Under `pause` the clock stopped counting when the employee asked (in time), so the
    request is on time; under `run` the waiting counted, so it is late.
    """
    office = open_office(make, target_days=5, policy=policy, reminder_days=[], reply_days=3)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)
    travel(at(2026, 2, 5, 10, 0))  # Thursday, well before Monday's deadline
    ask_for_documents(office, request)
    assert reply_by(request) == at(2026, 2, 10, 18, 0)

    travel(at(2026, 2, 10, 18, 0, 1))
    sweep_via_rq(app)
    clock = clock_of(request)
    assert clock.state == "refused_incomplete"
    assert (clock.sla_state, clock.paused_since, clock.next_check_at) == (outcome, None, None)
    assert events(request, "clock_stopped") == [{"sla_state": outcome}]
    if policy == "pause":
        # Thu 10-18 (8 h) + Fri, Mon, Tue (27 h): the last wait is recorded too.
        assert clock.paused_working_seconds == 35 * HOUR


@pytest.mark.parametrize("waiting", [False, True], ids=["working", "awaiting_documents"])
def test_a_withdrawn_request_is_never_escalated(app, make, travel, waiting):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)
    if waiting:
        travel(at(2026, 2, 3, 10, 0))
        ask_for_documents(office, request)

    travel(at(2026, 2, 4, 10, 0))
    request_service.withdraw(office.applicant, request.reference, "We found other premises")
    clock = clock_of(request)
    assert clock.state == "withdrawn"
    assert clock.next_check_at is None
    assert clock.paused_since is None

    for moment in (at(2026, 2, 6, 14, 0), at(2026, 2, 9, 18, 0, 1), at(2026, 2, 13, 10, 0)):
        travel(moment)
        (job,) = sweep_via_rq(app)
        assert job.return_value()["checked"] == 0
    assert escalations() == []
    assert notices() == []
    assert event_kinds(request, "sla_at_risk", "sla_breached", "escalated") == []
