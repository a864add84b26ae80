"""The supervisor reviews breaches across departments, trends, and 12-week results."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import ApprovalStep, Event, Role, ServiceRequest
from portal.services import requests as request_service
from portal.services.requests import Upload
from tests.boards.build import NOW, Requests, almaty, escalate, read_csv
from tests.conftest import pdf_file
from tests.helpers import main, post_form, sign_in, text


def _city(make):
    land = make.department("LAND")
    trade = make.department("TRADE")
    plot = make.service(land, target_days=5)
    kiosk = make.service(trade, target_days=10)
    aigerim = make.employee(land, name="Aigerim Nurlanova")
    bolat = make.employee(land, name="Bolat Serikov")
    yerlan = make.employee(trade, name="Yerlan Abenov")
    head = make.employee(land, Role.HEAD, name="Head Aliya")
    supervisor = make.overseer()
    return land, trade, plot, kiosk, aigerim, bolat, yerlan, head, supervisor


def test_breach_board_filters_by_department_person_and_date(make, client, travel):
    land, trade, plot, kiosk, aigerim, bolat, yerlan, head, supervisor = _city(make)
    build = Requests(make.applicant())
    a = build.add(plot, aigerim, sla="breached")
    b = build.add(plot, bolat, sla="breached")
    y = build.add(kiosk, yerlan, sla="breached")
    early = escalate(a, fired=almaty(2026, 11, 10, 18))
    escalate(b, fired=almaty(2026, 11, 25, 18))
    escalate(y, fired=almaty(2026, 11, 26, 18))
    escalate(y, level="at_risk", fired=almaty(2026, 11, 20, 12))  # a warning, not a breach
    travel(NOW)
    sign_in(client, supervisor)

    everything = main(client.get("/supervisor/breaches"))
    assert "3 escalations" in everything
    for request in (a, b, y):
        assert request.reference in everything
    only_trade = main(client.get(f"/supervisor/breaches?department={trade.id}"))
    assert y.reference in only_trade and a.reference not in only_trade
    only_bolat = main(client.get(f"/supervisor/breaches?person={bolat.id}"))
    assert b.reference in only_bolat and a.reference not in only_bolat
    only_plot = main(client.get(f"/supervisor/breaches?service={plot.id}"))
    assert a.reference in only_plot and y.reference not in only_plot
    late_november = main(client.get("/supervisor/breaches?from=2026-11-20&to=2026-11-25"))
    assert b.reference in late_november
    assert a.reference not in late_november and y.reference not in late_november
    warnings = main(client.get("/supervisor/breaches?level=at_risk"))
    assert "1 escalation" in warnings

    rows = read_csv(client.get(f"/supervisor/breaches?format=csv&department={land.id}"))
    assert rows[0][:5] == [
        "Reference",
        "Department",
        "Service",
        "Accountable employee",
        "Escalation",
    ]
    assert sorted(r[0] for r in rows[1:]) == sorted([a.reference, b.reference])
    assert early.id  # the oldest is last on the page
    assert everything.index(a.reference) > everything.index(y.reference)


def test_only_the_supervisor_opens_the_breach_board(make, client, travel):
    *_, aigerim, _bolat, _yerlan, head, _supervisor = _city(make)
    travel(NOW)
    for person in (aigerim, head):
        sign_in(client, person)
        assert client.get("/supervisor/breaches").status_code == 403
        assert client.get("/supervisor/trends").status_code == 403
        assert client.get("/supervisor/cycles?format=csv").status_code == 403
    with client.session_transaction() as session:
        session.clear()
    assert client.get("/supervisor/breaches").status_code == 302


def test_supervisor_excuses_a_breach_and_the_history_shows_it(make, client, travel):
    _land, _trade, plot, _kiosk, aigerim, bolat, _y, head, supervisor = _city(make)
    request = Requests(make.applicant()).add(plot, aigerim, sla="breached")
    breach = escalate(request, acknowledged_by=head)
    later = escalate(request, level="supervisor", fired=NOW - timedelta(hours=1))
    travel(NOW)
    sign_in(client, supervisor)

    page = main(client.get(f"/supervisor/breaches/{request.reference}"))
    assert "Escalation history" in page
    assert "Deadline missed: head of department" in page
    assert "Still overdue: supervisor" in page
    assert "waiting for acknowledgement" in page

    done = post_form(
        client,
        f"/supervisor/escalations/{later.id}/acknowledge",
        {"reason_code": "applicant_delay", "note": "The applicant was abroad", "excused": "yes"},
        token_from=f"/supervisor/breaches/{request.reference}",
    )
    assert done.status_code == 302
    verdict = post_form(
        client,
        f"/supervisor/escalations/{breach.id}/acknowledge",
        {"reason_code": "employee_fault", "note": "", "excused": "no"},
        token_from=f"/supervisor/breaches/{request.reference}",
    )
    assert verdict.status_code == 302
    db.session.expire_all()
    db.session.refresh(later)
    db.session.refresh(breach)
    assert (later.excused, later.reason_code, later.acknowledged_by_id) == (
        True,
        "applicant_delay",
        supervisor.id,
    )
    assert breach.excused is False
    events = db.session.scalars(
        sa.select(Event)
        .where(Event.request_id == request.id, Event.kind == "escalation_acknowledged")
        .order_by(Event.id)
    ).all()
    assert [e.payload["excused"] for e in events] == [True, False]
    assert events[1].payload["previous"]["by_id"] == head.id
    page = main(client.get(f"/supervisor/breaches/{request.reference}"))
    assert "The applicant was abroad" in page
    assert "Escalation acknowledged" in page  # on the timeline


def test_supervisor_reassigns_from_the_breach_board(make, client, travel):
    _land, _trade, plot, _kiosk, aigerim, bolat, yerlan, _head, supervisor = _city(make)
    request = Requests(make.applicant()).add(plot, aigerim, sla="breached")
    escalate(request)
    travel(NOW)
    sign_in(client, supervisor)
    path = f"/supervisor/breaches/{request.reference}/reassign"

    elsewhere = post_form(
        client,
        path,
        {"assignee": str(yerlan.id), "reason": "x"},
        token_from=f"/supervisor/breaches/{request.reference}",
    )
    assert elsewhere.status_code == 422  # not a choice: another department
    moved = post_form(
        client,
        path,
        {"assignee": str(bolat.id), "reason": "Three breaches this week"},
        token_from=f"/supervisor/breaches/{request.reference}",
    )
    assert moved.status_code == 302
    db.session.expire_all()
    assert db.session.get(ServiceRequest, request.id).assignee_id == bolat.id
    event = db.session.scalar(
        sa.select(Event).where(Event.request_id == request.id, Event.kind == "reassigned")
    )
    assert (event.actor_id, event.payload["reason"]) == (supervisor.id, "Three breaches this week")


def test_cycle_report_counts_completions_medians_and_excused_breaches(make, client, travel):
    land, trade, plot, kiosk, aigerim, bolat, yerlan, head, supervisor = _city(make)
    build = Requests(make.applicant())
    in_cycle = almaty(2026, 10, 15, 12)  # cycle 4
    # Aigerim: 3 completed (2 on time), worked 1, 2 and 6 working days -> median 2.
    build.add(plot, aigerim, state="approved", sla="met", decided=in_cycle, worked_days=1)
    build.add(plot, aigerim, state="rejected", sla="met", decided=in_cycle, worked_days=2)
    late = build.add(plot, aigerim, state="approved", sla="missed", decided=in_cycle, worked_days=6)
    # Yerlan: 1 completed on time, 4 days of work (and 5 waiting, which do not count).
    build.add(
        kiosk, yerlan, state="approved", sla="met", decided=in_cycle, worked_days=4, paused_days=5
    )
    # The cycle before: not counted in cycle 4.
    build.add(plot, bolat, state="approved", sla="missed", decided=almaty(2026, 9, 1, 12))
    escalate(late, fired=almaty(2026, 10, 10, 18), excused=True, acknowledged_by=supervisor)
    open_one = build.add(plot, aigerim, sla="breached")
    escalate(open_one, fired=almaty(2026, 11, 20, 18), excused=False, acknowledged_by=supervisor)
    other = build.add(plot, bolat, sla="breached")
    escalate(other, fired=almaty(2026, 11, 21, 18))
    escalate(other, level="supervisor", fired=almaty(2026, 11, 26, 18))  # not a new breach
    travel(NOW)
    sign_in(client, supervisor)

    rows = read_csv(client.get("/supervisor/cycles?format=csv&cycle=4"))
    assert rows[0] == [
        "Kind",
        "Name",
        "Department",
        "Completed",
        "On-time rate",
        "Working days (median)",
        "Breaches excused",
        "Breaches not excused",
        "Breaches without a verdict",
    ]
    by_name = {r[1]: r for r in rows[1:]}
    assert by_name["Aigerim Nurlanova"][2:] == ["Department 1", "3", "66.7", "2.0", "1", "1", "0"]
    assert by_name["Yerlan Abenov"][2:] == ["Department 2", "1", "100.0", "4.0", "0", "0", "0"]
    assert by_name["Bolat Serikov"][3:] == ["0", "", "", "0", "0", "1"]
    assert by_name["Department 1"][3:] == ["3", "66.7", "2.0", "1", "1", "1"]
    assert by_name["Department 2"][3:] == ["1", "100.0", "4.0", "0", "0", "0"]

    page = main(client.get("/supervisor/cycles"))
    assert "Cycle 4: 2026-09-14 – 2026-12-06" in page
    earlier = read_csv(client.get("/supervisor/cycles?format=csv&cycle=3"))
    assert {r[1]: r for r in earlier[1:]}["Bolat Serikov"][3:6] == ["1", "0.0", ""]
    assert client.get("/supervisor/cycles?cycle=9").status_code == 404


def test_worked_days_leave_out_the_time_waiting_for_the_applicant(make, client, travel):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=5)
    staff = make.employee(department)
    supervisor = make.overseer()
    applicant = make.applicant()
    travel(almaty(2026, 11, 2, 10))  # Monday
    request = request_service.submit(applicant, service, "kiosk", [Upload(charter.id, pdf_file())])
    request_service.request_documents(staff, request.reference, [(charter.id, "Unsigned")])
    travel(almaty(2026, 11, 4, 10))  # two working days waiting
    request_service.provide_documents(
        applicant, request.reference, [Upload(charter.id, pdf_file())]
    )
    travel(almaty(2026, 11, 5, 10))
    request_service.act(staff, request.reference, "reject", "Zoning forbids it")
    db.session.expire_all()
    decided = db.session.get(ServiceRequest, request.id)
    assert decided.paused_working_seconds == 2 * 9 * 3600
    assert decided.worked_seconds == 9 * 3600  # three days in the office, two of them waiting

    travel(NOW)
    sign_in(client, supervisor)
    rows = read_csv(client.get("/supervisor/cycles?format=csv"))
    department_row = [r for r in rows if r[0] == "department"][0]
    assert department_row[3:6] == ["1", "100.0", "1.0"]


def test_trends_draw_charts_with_the_numbers_beside_them(make, client, travel):
    _land, trade, plot, kiosk, aigerim, _bolat, yerlan, _head, supervisor = _city(make)
    build = Requests(make.applicant())
    build.add(
        plot, aigerim, state="approved", sla="met", decided=almaty(2026, 11, 24, 12), worked_days=3
    )
    build.add(
        plot,
        aigerim,
        state="approved",
        sla="missed",
        decided=almaty(2026, 11, 25, 12),
        worked_days=7,
    )
    build.add(
        kiosk, yerlan, state="approved", sla="met", decided=almaty(2026, 11, 17, 12), worked_days=2
    )
    # Decided long before the window; its sign-offs, answered in it, count for approvals.
    # Approval time is working time (office 09:00-18:00, 9 h a day), as on every board:
    # the head, asked Friday 17:00 and answering Monday 10:00, took 2 h (0.2 working days,
    # not 2.7 calendar days); the trade department took 18 h and 9 h (1.5 on average).
    signed = build.add(plot, aigerim, state="approved", sla="met", decided=almaty(2026, 1, 9, 12))
    sign_offs = [
        (None, almaty(2026, 11, 27, 17), almaty(2026, 11, 30, 10)),
        (trade, almaty(2026, 11, 25, 9), almaty(2026, 11, 26, 18)),
        (trade, almaty(2026, 11, 26, 9), almaty(2026, 11, 26, 18)),
    ]
    for position, (department, asked, answered) in enumerate(sign_offs):
        db.session.add(
            ApprovalStep(
                request=signed,
                round=1,
                position=position,
                approver_role=None if department else "head",
                approver_department_id=department.id if department else None,
                requested_at=asked,
                due_at=NOW,
                answered_at=answered,
                outcome="approved",
            )
        )
    db.session.commit()
    travel(NOW)
    sign_in(client, supervisor)

    page = text(client.get("/supervisor/trends"))
    assert page.count("<svg") >= 3
    assert 'role="img"' in page and "<title" in page
    assert "cdn" not in page.lower() and "<script" not in page
    rows = read_csv(client.get("/supervisor/trends?format=csv"))
    weeks = {r[1]: r for r in rows if r[0] == "week"}
    assert weeks["2026-11-23"][2:4] == ["2", "50.0"]
    assert weeks["2026-11-16"][2:4] == ["1", "100.0"]
    assert len(weeks) == 12
    services = {r[1]: r for r in rows if r[0] == "service"}
    assert services[plot.title_en][2:] == ["2", "50.0", "5.0"]
    departments = {r[1]: r for r in rows if r[0] == "department"}
    assert departments["Department 2"][2:] == ["1", "100.0", "2.0"]
    stages = {r[1]: r for r in rows if r[0] == "approval stage"}
    assert stages["Head of the department"][2:5:2] == ["1", "0.2"]
    assert stages["Department 2"][2] == "2" and stages["Department 2"][4] == "1.5"
    assert "Approval time per stage" in page and "Head of the department" in page
    table = page[page.index('id="approvals-h"') :]
    assert "Working days on average" in table
    assert '<th scope="row">Head of the department</th><td>1</td><td>0.2</td>' in table
    # The public board counts the same sign-offs the same way (the plot service's three).
    by_service = {r[1]: r for r in read_csv(client.get("/board?format=csv"))[1:]}
    assert by_service[plot.title_en][7] == "1.1"  # (2 + 18 + 9) h / 3 / 9 h


def test_every_board_reads_in_each_language(make, client, travel):
    _land, _trade, plot, _kiosk, aigerim, _bolat, _yerlan, head, supervisor = _city(make)
    build = Requests(make.applicant())
    late = build.add(plot, aigerim, sla="breached")
    escalate(late)
    build.add(plot, aigerim, state="approved", sla="met", decided=NOW, worked_days=2)
    travel(NOW)
    pages = {
        aigerim: ["/staff/queue", "/staff/department"],
        head: ["/staff/team"],
        supervisor: [
            "/supervisor/breaches",
            f"/supervisor/breaches/{late.reference}",
            "/supervisor/trends",
            "/supervisor/cycles",
            "/board",
        ],
    }
    for lang, word in (("ru", "Мөлдір"), ("kk", "Мөлдір"), ("en", "Moldir")):
        for person, paths in pages.items():
            sign_in(client, person, lang=lang)
            for path in paths:
                response = client.get(path)
                assert response.status_code == 200, (lang, path)
                assert word in text(response), (lang, path)
