"""A calendar or policy change moves open deadlines: previewed first, then applied with an
event on each moved request, directly or by the RQ job the admin pages enqueue.

On Monday 2 February 2026 at 10:00 the office receives requests with a 5-day target (due
Monday 9 February 18:00). On Wednesday 4 February a decree makes Friday 6 February a day
off: every open window that contains it grows by one working day.
"""

from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CalendarOverride, Event, ServiceRequest
from portal.queueing import enqueue
from portal.services import requests as request_service
from sla import deadlines, recompute
from sla.jobs import recompute_job
from tests.sla.stories import almaty as at
from tests.sla.stories import (
    answer,
    ask_for_documents,
    clock_of,
    committed,
    events,
    open_office,
    run_worker,
    submit,
)

DECREE_DAY = date(2026, 2, 6)
DECREE = ((DECREE_DAY, "holiday", "Decree 2026/6: day off"),)


def _open_requests(make, travel):
    """Four open requests whose windows contain 6 February, and two that do not move."""
    office = open_office(make, target_days=5)
    short = make.service(office.service.department, [], target_days=2)
    travel(at(2026, 2, 2, 10, 0))
    moved = {name: submit(office, name) for name in ("first", "second", "paused", "credited")}
    closed = submit(office, "decided")
    before = request_service.submit(office.applicant, short, "short", [])  # due Wed 4th

    travel(at(2026, 2, 3, 10, 0))
    ask_for_documents(office, moved["paused"])
    ask_for_documents(office, moved["credited"])
    request_service.act(office.employee, closed.reference, "reject", "Wrong service")
    travel(at(2026, 2, 4, 10, 0))
    answer(office, moved["credited"])  # 9 office hours credited: due Tue 10th 18:00

    travel(at(2026, 2, 4, 11, 0))
    return office, moved, {"decided": closed, "short": before}


def _dues(requests):
    return {name: clock_of(r).due_at for name, r in requests.items()}


def _recomputed_events():
    return committed(
        sa.select(Event.request_id, Event.payload)
        .where(Event.kind == "deadline_recomputed")
        .order_by(Event.id)
    )


def test_a_holiday_override_is_previewed_then_applied(make, travel):
    office, moved, unmoved = _open_requests(make, travel)
    assert _dues(moved) == {
        "first": at(2026, 2, 9, 18, 0),
        "second": at(2026, 2, 9, 18, 0),
        "paused": at(2026, 2, 9, 18, 0),
        "credited": at(2026, 2, 10, 18, 0),
    }
    dues_before = {**_dues(moved), **_dues(unmoved)}
    paused_check = clock_of(moved["paused"]).next_check_at  # the chase's next step

    # Preview with the candidate calendar: what would move, and by how much; writes nothing.
    shift = recompute.preview(deadlines.build_calendar(DECREE))
    # Four deadlines, and the reply-by date of the open document request.
    assert (shift.moved, shift.largest_days) == (5, 1)
    assert {**_dues(moved), **_dues(unmoved)} == dues_before
    assert _recomputed_events() == []
    # Nothing saved yet: under the app's own calendar nothing moves.
    assert recompute.apply("nothing changed").moved == 0

    db.session.add(CalendarOverride(day=DECREE_DAY, kind="holiday", name=DECREE[0][2]))
    db.session.commit()
    shift = recompute.apply("calendar: 2026-02-06 holiday", actor_id=office.head.id)
    assert (shift.moved, shift.largest_days) == (5, 1)

    assert _dues(moved) == {
        "first": at(2026, 2, 10, 18, 0),
        "second": at(2026, 2, 10, 18, 0),
        "paused": at(2026, 2, 10, 18, 0),
        "credited": at(2026, 2, 11, 18, 0),  # the pause credit is kept
    }
    assert _dues(unmoved) == {name: dues_before[name] for name in unmoved}
    recorded = _recomputed_events()
    assert sorted(request_id for request_id, _ in recorded) == sorted(r.id for r in moved.values())
    (first,) = events(moved["first"], "deadline_recomputed")
    assert first["reason"] == "calendar: 2026-02-06 holiday"
    assert first["by_id"] == office.head.id
    assert (first["from"], first["to"]) == (
        "2026-02-09T13:00:00+00:00",
        "2026-02-10T18:00:00+05:00",
    )

    # The ladder follows the new deadline; a paused request stays paused.
    assert clock_of(moved["first"]).next_check_at == at(2026, 2, 9, 13, 45)
    assert clock_of(moved["first"]).sla_state == "on_track"
    paused = clock_of(moved["paused"])
    assert (paused.sla_state, paused.next_check_at) == ("paused", paused_check)

    # Applying again moves nothing and records nothing.
    assert recompute.apply("again").moved == 0
    assert len(_recomputed_events()) == 4

    # Removing the override would move the same five back by a working day.
    shift = recompute.preview(deadlines.build_calendar(()))
    assert (shift.moved, shift.largest_days) == (5, -1)


def test_a_target_change_moves_only_that_services_requests(make, travel):
    office, moved, unmoved = _open_requests(make, travel)
    shift = recompute.preview(deadlines.calendar(), office.service.id, target_days=6)
    assert (shift.moved, shift.largest_days) == (4, 1)
    assert _recomputed_events() == []

    office.service.target_days = 6
    db.session.commit()
    shift = recompute.apply("policy: target 5 -> 6", service_id=office.service.id)
    assert (shift.moved, shift.largest_days) == (4, 1)
    assert clock_of(moved["first"]).due_at == at(2026, 2, 10, 18, 0)
    assert clock_of(unmoved["short"]).due_at == at(2026, 2, 4, 18, 0)


def test_the_recompute_job_moves_deadlines_through_a_real_worker(app, make, travel):
    office, moved, unmoved = _open_requests(make, travel)
    db.session.add(CalendarOverride(day=DECREE_DAY, kind="holiday", name=DECREE[0][2]))
    db.session.commit()
    deadlines.invalidate()

    job = enqueue(
        recompute_job, "calendar: 2026-02-06 holiday", None, office.head.id, queue_name="sla"
    )
    run_worker(app)
    assert job.get_status(refresh=True) == "finished", job.exc_info
    assert job.return_value() == {"moved": 5, "largest_days": 1}

    db.session.expire_all()
    assert db.session.get(ServiceRequest, moved["first"].id).due_at == at(2026, 2, 10, 18, 0)
    assert sorted(request_id for request_id, _ in _recomputed_events()) == sorted(
        r.id for r in moved.values()
    )
    assert all(payload["by_id"] == office.head.id for _, payload in _recomputed_events())
