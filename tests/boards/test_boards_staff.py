"""Staff work their queues; the head of department sees the team and moves work around."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Event, Role, ServiceRequest
from portal.services import boards
from tests.boards.build import NOW, Requests, almaty, escalate, read_csv
from tests.helpers import counts, main, post_form, sign_in, text


def _department(make):
    department = make.department("LAND")
    service = make.service(department, target_days=5)
    other_service = make.service(department, target_days=10)
    head = make.employee(department, Role.HEAD, name="Head Aliya")
    aigerim = make.employee(department, name="Aigerim Nurlanova")
    bolat = make.employee(department, name="Bolat Serikov")
    return department, service, other_service, head, aigerim, bolat


def test_staff_filters_their_queue_by_sla_state_and_sees_counts(make, client, travel):
    _, service, other, _head, aigerim, bolat = _department(make)
    build = Requests(make.applicant())
    late = build.add(service, aigerim, sla="breached", due=NOW - timedelta(days=1))
    risky = build.add(service, aigerim, sla="at_risk", due=NOW + timedelta(hours=3))
    waiting = build.add(other, aigerim, state="awaiting_documents", sla="paused")
    calm = build.add(other, aigerim, due=NOW + timedelta(days=6))
    theirs = build.add(service, bolat, sla="breached")
    build.add(service, aigerim, state="approved", sla="met", decided=NOW)
    travel(NOW)
    sign_in(client, aigerim)

    page = main(client.get("/staff/queue"))
    assert "4 open requests, soonest deadline first." in page
    order = [page.index(r.reference) for r in (late, risky, calm, waiting)]
    assert order == sorted(order), "by time left, paused last"
    assert theirs.reference not in page
    assert 'class="tag sla-breached"' in page and 'class="tag sla-paused"' in page

    breached = main(client.get("/staff/queue?sla=breached"))
    assert late.reference in breached
    assert risky.reference not in breached and calm.reference not in breached
    assert "1 request matches." in breached

    by_service = main(client.get(f"/staff/queue?service={other.id}&order=-time_left"))
    assert by_service.index(calm.reference) < by_service.index(waiting.reference)
    assert late.reference not in by_service

    department = main(client.get("/staff/department?sla=breached"))
    assert late.reference in department and theirs.reference in department

    rows = read_csv(client.get("/staff/queue?format=csv&state=awaiting_documents"))
    assert rows[0][0] == "Reference"
    assert [r[0] for r in rows[1:]] == [waiting.reference]
    assert rows[1][3] == "paused"


def test_a_long_queue_comes_a_page_at_a_time(make, client, travel):
    _, service, _other, _head, aigerim, _ = _department(make)
    build = Requests(make.applicant())
    made = [build.add(service, aigerim, due=NOW + timedelta(hours=i + 1)) for i in range(55)]
    travel(NOW)
    sign_in(client, aigerim)
    first = main(client.get("/staff/queue"))
    assert made[0].reference in first and made[54].reference not in first
    assert "Page 1 of 2" in first
    second = main(client.get("/staff/queue?page=2"))
    assert made[54].reference in second and made[0].reference not in second


def test_head_sees_each_persons_load_and_this_cycles_results(make, client, travel):
    _, service, other, head, aigerim, bolat = _department(make)
    build = Requests(make.applicant())
    build.add(service, aigerim, sla="breached")
    build.add(service, aigerim, sla="breached")
    build.add(service, aigerim, sla="at_risk")
    build.add(other, aigerim, state="awaiting_documents", sla="paused")
    build.add(service, bolat)
    # This cycle (from 2026-09-14): two on time, one late; the last cycle does not count.
    build.add(service, aigerim, state="approved", sla="met", decided=almaty(2026, 10, 1, 12))
    build.add(service, aigerim, state="rejected", sla="met", decided=almaty(2026, 11, 2, 12))
    build.add(service, aigerim, state="approved", sla="missed", decided=almaty(2026, 11, 3, 12))
    build.add(service, aigerim, state="approved", sla="met", decided=almaty(2026, 9, 11, 12))
    build.add(service, bolat, state="withdrawn", sla="met", decided=almaty(2026, 10, 5, 12))
    travel(NOW)

    rows = {r.name: r for r in boards.team.team(service.department_id)}
    a = rows["Aigerim Nurlanova"]
    assert (a.open, a.at_risk, a.overdue, a.paused) == (4, 1, 2, 1)
    assert (a.completed, a.on_time, a.on_time_percent) == (3, 2, 66.7)
    b = rows["Bolat Serikov"]
    assert (b.open, b.overdue, b.completed) == (1, 0, 0)

    sign_in(client, head)
    page = main(client.get("/staff/team"))
    assert "Aigerim Nurlanova" in page and "66.7%" in page
    table = read_csv(client.get("/staff/team?format=csv"))
    assert table[0][:4] == ["Employee", "Open", "At risk", "Overdue"]
    assert table[0][-1] == "On-time rate"
    assert ["Aigerim Nurlanova", "4", "1", "2", "1", "3", "2", "66.7"] in table


def test_staff_cannot_open_the_team_board_and_heads_see_only_their_own(make, client, travel):
    _, service, _other, _head, aigerim, _ = _department(make)
    trade = make.department("TRADE")
    make.service(trade)
    trade_head = make.employee(trade, Role.HEAD, name="Head Trade")
    build = Requests(make.applicant())
    land_request = build.add(service, aigerim, sla="breached")
    escalation = escalate(land_request)
    travel(NOW)

    sign_in(client, aigerim)
    assert client.get("/staff/team").status_code == 403
    assert client.get("/staff/team?format=csv").status_code == 403

    sign_in(client, trade_head)
    page = main(client.get("/staff/team"))
    assert "Aigerim Nurlanova" not in page
    assert land_request.reference not in page
    response = post_form(
        client,
        f"/staff/team/escalations/{escalation.id}/acknowledge",
        {"reason_code": "workload"},
        token_from="/staff/team",
    )
    assert response.status_code == 404
    moved = post_form(
        client,
        "/staff/team/reassign",
        {"references": [land_request.reference], "assignee": str(trade_head.id), "reason": "x"},
        token_from="/staff/team",
    )
    assert moved.status_code in (404, 422)
    db.session.expire_all()
    assert db.session.get(ServiceRequest, land_request.id).assignee_id == aigerim.id


def test_head_moves_several_requests_at_once_each_with_its_event(make, client, travel):
    _, service, _other, head, aigerim, bolat = _department(make)
    build = Requests(make.applicant())
    first = build.add(service, aigerim, sla="breached")
    second = build.add(service, aigerim, sla="at_risk")
    travel(NOW)
    sign_in(client, head)

    response = post_form(
        client,
        "/staff/team/reassign",
        {
            "references": [first.reference, second.reference],
            "assignee": str(bolat.id),
            "reason": "Aigerim is on leave",
        },
        token_from="/staff/team",
    )
    assert response.status_code == 302
    db.session.expire_all()
    for request in (first, second):
        assert db.session.get(ServiceRequest, request.id).assignee_id == bolat.id
        event = db.session.scalar(
            sa.select(Event).where(Event.request_id == request.id, Event.kind == "reassigned")
        )
        assert event.actor_id == head.id
        assert event.payload["reason"] == "Aigerim is on leave"
        assert event.payload["previous_id"] == aigerim.id


def test_bulk_reassignment_is_all_or_nothing(make, client, travel):
    _, service, _other, head, aigerim, bolat = _department(make)
    build = Requests(make.applicant())
    movable = build.add(service, aigerim)
    already_bolats = build.add(service, bolat)
    travel(NOW)
    sign_in(client, head)
    before = counts()

    response = post_form(
        client,
        "/staff/team/reassign",
        {
            "references": [movable.reference, already_bolats.reference],
            "assignee": str(bolat.id),
            "reason": "Balancing",
        },
        token_from="/staff/team",
    )
    assert response.status_code == 422
    assert already_bolats.reference in text(response)
    assert "already assigned to this employee" in text(response)
    assert counts() == before
    db.session.expire_all()
    assert db.session.get(ServiceRequest, movable.id).assignee_id == aigerim.id


def test_head_acknowledges_an_escalation_with_a_reason(make, client, travel):
    _, service, _other, head, aigerim, _ = _department(make)
    request = Requests(make.applicant()).add(service, aigerim, sla="breached")
    escalation = escalate(request)
    travel(NOW)
    sign_in(client, head)
    page = main(client.get("/staff/team"))
    assert "Escalations waiting for acknowledgement" in page
    assert request.reference in page

    refused = post_form(
        client,
        f"/staff/team/escalations/{escalation.id}/acknowledge",
        {"reason_code": "other", "note": ""},
        token_from="/staff/team",
    )
    assert refused.status_code == 422
    assert "Say what the other reason is." in text(refused)

    done = post_form(
        client,
        f"/staff/team/escalations/{escalation.id}/acknowledge",
        {"reason_code": "inter_agency_wait", "note": "Waiting for the land registry"},
        token_from="/staff/team",
    )
    assert done.status_code == 302
    db.session.expire_all()
    db.session.refresh(escalation)
    assert escalation.acknowledged_by_id == head.id
    assert escalation.reason_code == "inter_agency_wait"
    assert escalation.excused is None  # the verdict is the supervisor's
    event = db.session.scalar(sa.select(Event).where(Event.kind == "escalation_acknowledged"))
    assert event.request_id == request.id
    assert event.payload["note"] == "Waiting for the land registry"
    assert request.reference not in main(client.get("/staff/team")).split("Open requests")[0]
