"""The sweep and the escalation ladder: each rung fires once, whatever happens around it.

A request submitted on Monday 2 February 2026 at 10:00 with a 5-day target is at risk on
Friday 6 February at 13:45 (75 % of its 53 office hours), breached after Monday 9 February
18:00 and due to the supervisor after Thursday 12 February 18:00 (3 working days later).
"""

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import ChaseReminder, Escalation, ServiceRequest
from portal.services import approvals
from portal.services import requests as request_service
from sla import clock, ladder, sweep
from tests.sla.stories import almaty as at
from tests.sla.stories import (
    ask_for_documents,
    clock_of,
    committed,
    escalations,
    event_kinds,
    notices,
    open_office,
    submit,
    sweep_via_rq,
)

AT_RISK = at(2026, 2, 6, 13, 45)
DUE = at(2026, 2, 9, 18, 0)
SUPERVISOR = at(2026, 2, 12, 18, 0)
JUST_AFTER = {
    "at_risk": AT_RISK,
    "head": at(2026, 2, 9, 18, 0, 1),
    "supervisor": at(2026, 2, 12, 18, 0, 1),
}


@pytest.fixture
def story(make, travel):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)
    assert (request.due_at, request.next_check_at) == (DUE, AT_RISK)
    return office, request


def test_at_risk_breach_and_supervisor_fire_once_each_with_two_sweeps_at_once(app, travel, story):
    office, request = story
    expected_next = {"at_risk": DUE, "head": SUPERVISOR, "supervisor": None}
    for level, moment in JUST_AFTER.items():
        travel(moment)
        first, second = sweep_via_rq(app, times=2)
        assert first.return_value()["checked"] == 1
        assert first.return_value()["fired"] == {level: 1}
        assert second.return_value()["checked"] == 0  # the second finds nothing due
        assert clock_of(request).next_check_at == expected_next[level]

    travel(at(2026, 3, 2, 10, 0))
    (later,) = sweep_via_rq(app)
    assert later.return_value()["checked"] == 0

    assert escalations() == [
        ("at_risk", 0, office.employee.id),
        ("head", 0, office.head.id),
        ("supervisor", 0, office.supervisor.id),
    ]
    assert notices() == [
        (office.employee.id, "escalation_at_risk"),
        (office.head.id, "escalation_head"),
        (office.supervisor.id, "escalation_supervisor"),
    ]
    assert event_kinds(request, "sla_at_risk", "sla_breached", "escalated") == [
        "sla_at_risk",
        "escalated",
        "sla_breached",
        "escalated",
        "escalated",
    ]
    assert clock_of(request).sla_state == "breached"


def test_a_sweep_that_runs_late_fires_every_rung_that_is_due(app, travel, story):
    office, request = story
    travel(at(2026, 2, 20, 10, 0))  # the worker was down for two weeks
    (job,) = sweep_via_rq(app)
    assert job.return_value()["fired"] == {"at_risk": 1, "head": 1, "supervisor": 1}
    assert [level for level, _, _ in escalations()] == ["at_risk", "head", "supervisor"]
    assert clock_of(request).next_check_at is None


def test_a_sweep_rerun_at_the_same_instant_changes_nothing(travel, story):
    office, request = story
    travel(JUST_AFTER["head"])
    first = sweep.sweep()
    assert (first.checked, first.fired) == (1, {"at_risk": 1, "head": 1})

    again = sweep.sweep()  # as a retried job would, at the very same instant
    assert (again.checked, again.fired) == (0, {})
    again = sweep.sweep(clock.now())
    assert (again.checked, again.fired) == (0, {})
    assert [level for level, _, _ in escalations()] == ["at_risk", "head"]
    assert len(notices()) == 2


def test_a_crash_before_commit_loses_nothing_and_fires_once_on_the_rerun(travel, story):
    office, request = story
    travel(JUST_AFTER["at_risk"])
    loaded = db.session.get(ServiceRequest, request.id)
    assert ladder.advance(loaded, clock.now()) == ["at_risk"]
    db.session.rollback()  # the worker died before the sweep committed

    assert escalations() == []
    assert notices() == []
    assert clock_of(request).next_check_at == AT_RISK  # still due: nothing was lost
    assert clock_of(request).sla_state == "on_track"

    result = sweep.sweep()
    assert (result.checked, result.fired) == (1, {"at_risk": 1})
    assert escalations() == [("at_risk", 0, office.employee.id)]
    assert notices() == [(office.employee.id, "escalation_at_risk")]


def test_a_crash_before_commit_at_the_supervisor_rung_loses_nothing(travel, story):
    """The supervisor rung is the only change of its sweep: nothing else opened the
    transaction before the escalation is written (on SQLite that once let it commit alone,
    without its event and notice, so that the rerun thought it sent)."""
    office, request = story
    travel(JUST_AFTER["head"])
    sweep.sweep()
    travel(JUST_AFTER["supervisor"])
    loaded = db.session.get(ServiceRequest, request.id)
    assert ladder.advance(loaded, clock.now()) == ["supervisor"]
    db.session.rollback()  # the worker died before the sweep committed

    assert [level for level, _, _ in escalations()] == ["at_risk", "head"]
    assert clock_of(request).next_check_at == SUPERVISOR

    assert sweep.sweep().fired == {"supervisor": 1}
    assert [level for level, _, _ in escalations()] == ["at_risk", "head", "supervisor"]
    assert notices()[-1] == (office.supervisor.id, "escalation_supervisor")
    assert event_kinds(request, "escalated") == ["escalated"] * 3


def test_a_crash_before_commit_at_a_chase_reminder_loses_nothing(app, make, travel):
    """The same for the chase's reminders, which the sweep sends while a request waits."""
    office = open_office(make, target_days=5, reminder_days=[1], reply_days=5)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)
    ask_for_documents(office, request)
    travel(at(2026, 2, 3, 9, 30))  # reminder 1 is due at opening time
    loaded = db.session.get(ServiceRequest, request.id)
    assert ladder.advance(loaded, clock.now()) == ["reminder_1"]
    db.session.rollback()

    assert committed(sa.select(ChaseReminder.number)) == []
    assert sweep.sweep().fired == {"reminder_1": 1}
    assert [tuple(r) for r in committed(sa.select(ChaseReminder.number))] == [(1,)]
    assert event_kinds(request, "reminder_sent") == ["reminder_sent"]
    assert sweep.sweep().checked == 0


def test_a_crash_in_the_middle_of_a_batch_commits_nothing_and_the_rerun_fires_once(
    make, travel, monkeypatch
):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    first, second = submit(office), submit(office, "a second shop")
    travel(JUST_AFTER["head"])

    real_advance = ladder.advance
    advanced = []

    def advance_then_die(request, now=None, cal=None):
        fired = real_advance(request, now, cal)
        advanced.append(request.id)
        if len(advanced) == 2:
            raise SystemExit("worker killed")  # after the second advance, before the commit
        return fired

    monkeypatch.setattr(ladder, "advance", advance_then_die)
    with pytest.raises(SystemExit):
        sweep.sweep()
    db.session.rollback()  # what the dying worker's connection does
    monkeypatch.setattr(ladder, "advance", real_advance)

    assert escalations() == []
    assert notices() == []
    assert clock_of(first).next_check_at == clock_of(second).next_check_at == AT_RISK

    result = sweep.sweep()
    assert (result.checked, result.fired) == (2, {"at_risk": 2, "head": 2})
    assert sweep.sweep().checked == 0
    for request in (first, second):
        assert escalations(request) == [
            ("at_risk", 0, office.employee.id),
            ("head", 0, office.head.id),
        ]
    assert len(notices()) == 4


def test_a_row_left_due_after_its_rung_fired_does_not_fire_it_again(travel, story):
    office, request = story
    travel(JUST_AFTER["head"])
    sweep.sweep()
    # As if the request's own update had been lost while the escalations were kept.
    db.session.execute(
        sa.update(ServiceRequest)
        .where(ServiceRequest.id == request.id)
        .values(sla_state="on_track", next_check_at=AT_RISK)
    )
    db.session.commit()

    result = sweep.sweep()
    assert result.checked == 1
    assert result.fired == {}
    assert [level for level, _, _ in escalations()] == ["at_risk", "head"]
    assert len(notices()) == 2
    assert clock_of(request).next_check_at == SUPERVISOR


def test_the_unique_constraint_stops_a_rung_the_code_did_not_see(travel, story, monkeypatch):
    """Two sweeps that both read "not fired yet": the database lets only one insert."""
    office, request = story
    travel(JUST_AFTER["at_risk"])
    sweep.sweep()
    db.session.execute(
        sa.update(ServiceRequest)
        .where(ServiceRequest.id == request.id)
        .values(sla_state="on_track", next_check_at=AT_RISK)
    )
    db.session.commit()
    monkeypatch.setattr(ladder, "_fired_levels", lambda request: set())

    result = sweep.sweep()
    assert result.checked == 1
    assert result.fired == {}  # the insert met the constraint: "already fired"
    assert escalations() == [("at_risk", 0, office.employee.id)]
    assert notices() == [(office.employee.id, "escalation_at_risk")]
    assert event_kinds(request, "escalated") == ["escalated"]


def test_a_duplicate_escalation_is_refused_by_the_database(travel, story):
    office, request = story
    travel(JUST_AFTER["at_risk"])
    sweep.sweep()

    db.session.add(
        Escalation(
            request_id=request.id,
            level="at_risk",
            clock_epoch=0,
            target_user_id=office.employee.id,
            due_at=AT_RISK,
            fired_at=clock.now(),
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()

    # Another run of the clock may fire the same level again.
    db.session.add(
        Escalation(
            request_id=request.id,
            level="at_risk",
            clock_epoch=1,
            target_user_id=office.employee.id,
            due_at=AT_RISK,
            fired_at=clock.now(),
        )
    )
    db.session.commit()
    assert [(level, epoch) for level, epoch, _ in escalations()] == [
        ("at_risk", 0),
        ("at_risk", 1),
    ]


@pytest.mark.parametrize(
    ("switch", "fired", "notified"),
    [
        ({}, ["at_risk", "head", "supervisor"], ["employee", "head", "supervisor"]),
        ({"warn_at_risk": False}, ["head", "supervisor"], ["head", "supervisor"]),
        ({"escalate_to_head": False}, ["at_risk", "supervisor"], ["employee", "supervisor"]),
        ({"supervisor_after_days": None}, ["at_risk", "head"], ["employee", "head"]),
    ],
    ids=["all_on", "no_at_risk_warning", "no_head", "no_supervisor"],
)
def test_service_switches_turn_rungs_off(app, make, travel, switch, fired, notified):
    office = open_office(make, target_days=5, **switch)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)

    states = []
    for moment in [*JUST_AFTER.values(), at(2026, 3, 2, 10, 0)]:
        travel(moment)
        sweep_via_rq(app, times=2)
        states.append(clock_of(request).sla_state)

    # The request's own SLA state moves the same way whichever rungs notify anyone.
    assert states == ["at_risk", "breached", "breached", "breached"]
    assert [level for level, _, _ in escalations()] == fired
    people = {
        "employee": office.employee.id,
        "head": office.head.id,
        "supervisor": office.supervisor.id,
    }
    assert [user_id for user_id, _ in notices()] == [people[p] for p in notified]
    assert clock_of(request).next_check_at is None
    assert event_kinds(request, "sla_at_risk", "sla_breached") == ["sla_at_risk", "sla_breached"]


@pytest.mark.commits  # two threads, two connections
def test_two_concurrent_sweeps_share_the_work_on_postgresql(app, make, travel, monkeypatch):
    """PostgreSQL only: the first sweep holds its rows (FOR UPDATE), the second skips them."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL; on SQLite one writer runs at a time")
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    first_request, second_request = submit(office), submit(office, "a second shop")
    travel(JUST_AFTER["at_risk"])

    holding, release = threading.Event(), threading.Event()
    real_advance = ladder.advance

    def advance_slowly(request, now=None, cal=None):
        if threading.current_thread().name == "first-sweep":
            holding.set()
            assert release.wait(10)
        return real_advance(request, now, cal)

    monkeypatch.setattr(ladder, "advance", advance_slowly)
    outcome = {}

    def first_sweep():
        with app.app_context():
            try:
                outcome["first"] = sweep.sweep()
            finally:
                db.session.remove()

    thread = threading.Thread(target=first_sweep, name="first-sweep")
    thread.start()
    try:
        assert holding.wait(10)
        second = sweep.sweep()  # while the first holds both rows
    finally:
        release.set()
        thread.join(10)
    assert second.checked == 0
    assert outcome["first"].checked == 2
    assert outcome["first"].fired == {"at_risk": 2}
    assert sorted(request_id for request_id in _escalated_requests()) == sorted(
        [first_request.id, second_request.id]
    )


def _escalated_requests():
    with db.engine.connect() as connection:
        return connection.scalars(sa.select(Escalation.request_id)).all()


def test_the_sweep_ignores_requests_without_a_clock(app, make, travel, story):
    """A decided request keeps its history but is never read by the sweep again."""
    office, request = story
    travel(at(2026, 2, 3, 10, 0))
    request_service.act(office.employee, request.reference, "reject", "Wrong service")
    travel(at(2026, 3, 2, 10, 0))
    (job,) = sweep_via_rq(app)
    assert job.return_value() == {"checked": 0, "fired": {}, "seconds": pytest.approx(0, abs=5)}
    assert escalations() == []


def test_sending_to_approval_brings_the_next_check_forward_to_the_approval_target(
    app, make, travel
):
    """A stage with its own target is checked on time, not at the next overall rung."""
    office = open_office(make, target_days=10, approval_days=1)
    travel(at(2026, 2, 2, 10, 0))
    approvals.set_approvers(office.service, ["role:supervisor"])
    db.session.commit()
    request = submit(office)
    assert clock_of(request).next_check_at == at(2026, 2, 12, 11, 30)  # overall at-risk

    travel(at(2026, 2, 2, 11, 0))
    request_service.act(office.employee, request.reference, "accept_documents")
    request_service.act(office.employee, request.reference, "send_to_approval")
    assert clock_of(request).next_check_at == at(2026, 2, 3, 18, 0)  # 1 working day

    travel(at(2026, 2, 3, 18, 0, 1))
    (job,) = sweep_via_rq(app)
    assert job.return_value()["fired"] == {"approval": 1}
    assert escalations(request) == [("approval", 0, office.employee.id)]
    assert clock_of(request).next_check_at == at(2026, 2, 12, 11, 30)
