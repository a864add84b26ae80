"""The chase: the employee asks, the portal reminds, the applicant answers or is refused.

Time moves with time-machine; reminders and refusals come from the sweep on a real RQ
worker (fakeredis locally, Redis in CI).
"""

import io

import sqlalchemy as sa
from rq import SimpleWorker

from portal.extensions import db
from portal.models import ChaseReminder, Document, Event, ServiceRequest
from portal.queueing import enqueue, queue
from portal.services import ServiceError
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla.jobs import sweep_job
from tests.conftest import PDF, csrf_token, pdf_file
from tests.factories import ALMATY, almaty


def sweep_at(app, travel, at):
    travel(at)
    enqueue(sweep_job, queue_name="sla")
    SimpleWorker([queue("sla")], connection=app.extensions["redis"]).work(burst=True)


def reminders(request):
    return db.session.execute(
        sa.select(ChaseReminder.number, ChaseReminder.sent_at)
        .join(
            ServiceRequest.document_requests.property.mapper.class_,
            ChaseReminder.document_request_id
            == ServiceRequest.document_requests.property.mapper.class_.id,
        )
        .where(ServiceRequest.document_requests.property.mapper.class_.request_id == request.id)
        .order_by(ChaseReminder.number)
    ).all()


def office(make, policy="pause", target_days=10):
    department = make.department()
    charter = make.document_type()
    licence = make.document_type()
    service = make.service(department, [charter], target_days=target_days, policy=policy)
    employee = make.employee(department)
    applicant = make.applicant()
    return service, charter, licence, employee, applicant


def asked_for_licence(make, travel):
    """Submitted Monday 7 December; on Tuesday the employee asks for the licence."""
    service, charter, licence, employee, applicant = office(make)
    travel(almaty(2026, 12, 7, 10, 0))
    request = request_service.submit(applicant, service, "cafe", [Upload(charter.id, pdf_file())])
    travel(almaty(2026, 12, 8, 11, 0))
    request_service.request_documents(employee, request.reference, [(licence.id, "Missing")])
    return service, charter, licence, employee, applicant, request


def test_applicant_is_reminded_on_working_days_2_4_6_then_answers_and_clock_resumes(
    app, make, travel
):
    service, charter, licence, employee, applicant = office(make)
    travel(almaty(2026, 12, 7, 10, 0))  # Monday
    request = request_service.submit(applicant, service, "cafe", [Upload(charter.id, pdf_file())])
    due_before = request.due_at
    travel(almaty(2026, 12, 8, 11, 0))  # Tuesday: ask
    request_service.request_documents(
        employee, request.reference, [(licence.id, "The sanitary licence is missing")]
    )
    ask = request.open_document_request
    # 10 working days, 16 December (Independence Day) not counted: reply by 23 December 18:00.
    assert ask.reply_by == almaty(2026, 12, 23, 18, 0)

    # Night sweeps and the holiday send nothing; each reminder goes at opening time once.
    for moment in (
        almaty(2026, 12, 9, 23, 0),
        almaty(2026, 12, 10, 9, 0),  # working day 2: reminder 1
        almaty(2026, 12, 10, 9, 5),
        almaty(2026, 12, 14, 9, 0),  # working day 4 (Sat/Sun skipped): reminder 2
        almaty(2026, 12, 16, 9, 30),  # Independence Day: nothing
        almaty(2026, 12, 17, 0, 30),  # midnight: nothing
        almaty(2026, 12, 17, 9, 0),  # working day 6 (16 December off): reminder 3
        almaty(2026, 12, 17, 12, 0),
    ):
        sweep_at(app, travel, moment)

    db.session.expire_all()
    sent = reminders(request)
    assert [n for n, _ in sent] == [2, 4, 6]  # each known by its working day
    assert [at.astimezone(ALMATY) for _, at in sent] == [
        almaty(2026, 12, 10, 9, 0),
        almaty(2026, 12, 14, 9, 0),
        almaty(2026, 12, 17, 9, 0),
    ]
    assert (
        db.session.scalar(sa.select(sa.func.count(Event.id)).where(Event.kind == "reminder_sent"))
        == 3
    )

    # Friday 18 December 15:00 the applicant answers: the clock resumes with the wait credited.
    travel(almaty(2026, 12, 18, 15, 0))
    request_service.provide_documents(
        applicant, request.reference, [Upload(licence.id, pdf_file("licence.pdf"))]
    )
    db.session.expire_all()
    request = db.session.get(ServiceRequest, request.id)
    assert request.state == "in_review"
    assert request.paused_since is None
    assert request.paused_working_seconds > 0
    assert request.due_at > due_before
    assert request.open_document_request is None
    kinds = db.session.scalars(
        sa.select(Event.kind).where(Event.request_id == request.id).order_by(Event.id)
    ).all()
    assert kinds[kinds.index("provide_documents") + 1] == "clock_resumed"


def test_no_answer_by_the_reply_date_refuses_with_a_notice(app, make, travel, login):
    service, charter, licence, employee, applicant = office(make)
    travel(almaty(2026, 12, 7, 10, 0))
    request = request_service.submit(applicant, service, "cafe", [Upload(charter.id, pdf_file())])
    travel(almaty(2026, 12, 8, 11, 0))
    request_service.request_documents(
        employee, request.reference, [(licence.id, "The sanitary licence is missing")]
    )
    sweep_at(app, travel, almaty(2026, 12, 23, 17, 59))
    db.session.expire_all()
    assert db.session.get(ServiceRequest, request.id).state == "awaiting_documents"

    sweep_at(app, travel, almaty(2026, 12, 23, 18, 0))
    sweep_at(app, travel, almaty(2026, 12, 23, 18, 1))  # a second sweep changes nothing
    db.session.expire_all()
    refused = db.session.get(ServiceRequest, request.id)
    assert refused.state == "refused_incomplete"
    assert refused.next_check_at is None
    assert refused.document_requests[0].state == "expired"
    events = db.session.scalars(
        sa.select(Event).where(Event.request_id == request.id, Event.kind == "refuse_incomplete")
    ).all()
    assert len(events) == 1
    assert events[0].payload["items"][0]["reason"] == "The sanitary licence is missing"

    client = login(applicant)
    client.get("/lang/en")
    page = client.get(f"/my/requests/{request.reference}/refusal").get_data(as_text=True)
    assert "The sanitary licence is missing" in page
    assert "Start a new request with the documents already given" in page


def test_a_new_request_carries_over_the_documents_already_given(app, make, travel, login):
    service, charter, licence, employee, applicant, request = asked_for_licence(make, travel)
    sweep_at(app, travel, almaty(2026, 12, 25, 10, 0))

    client = login(applicant)
    path = f"/my/apply/{service.code}?from={request.reference}"
    page = client.get(path)
    assert page.status_code == 200
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "description": "cafe, again"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    new = db.session.scalar(sa.select(ServiceRequest).where(ServiceRequest.id != request.id))
    assert new.carried_from_id == request.id
    carried = db.session.scalars(sa.select(Document).where(Document.request_id == new.id)).all()
    assert [d.document_type_id for d in carried] == [charter.id]
    original = db.session.scalar(sa.select(Document).where(Document.request_id == request.id))
    assert carried[0].sha256 == original.sha256
    assert carried[0].stored_name != original.stored_name
    download = client.get(f"/my/requests/{new.reference}/documents/{carried[0].id}")
    assert download.data == PDF
    download.close()


def test_only_a_refused_request_of_ones_own_can_be_carried_over(app, make, travel, login):
    service, charter, licence, employee, applicant = office(make)
    other = make.applicant()
    travel(almaty(2026, 12, 7, 10, 0))
    open_request = request_service.submit(
        applicant, service, "cafe", [Upload(charter.id, pdf_file())]
    )
    client = login(applicant)
    assert client.get(f"/my/apply/{service.code}?from={open_request.reference}").status_code == 404
    client = login(other)
    assert client.get(f"/my/apply/{service.code}?from={open_request.reference}").status_code == 404
    data = {"description": "x", f"doc_{charter.id}": (io.BytesIO(PDF), "a.pdf")}
    path = f"/my/apply/{service.code}?from={open_request.reference}"
    assert client.post(path, data=data).status_code in (400, 404)
    assert db.session.scalar(sa.select(sa.func.count(ServiceRequest.id))) == 1


def test_run_policy_keeps_the_clock_running_while_chasing(app, make, travel):
    service, charter, licence, employee, applicant = office(make, policy="run", target_days=3)
    travel(almaty(2026, 12, 7, 10, 0))
    request = request_service.submit(applicant, service, "cafe", [Upload(charter.id, pdf_file())])
    due = request.due_at
    travel(almaty(2026, 12, 7, 11, 0))
    request_service.request_documents(employee, request.reference, [(licence.id, "Missing")])
    assert request.sla_state == "on_track" and request.paused_since is None
    sweep_at(app, travel, almaty(2026, 12, 10, 18, 0, 1))
    db.session.expire_all()
    request = db.session.get(ServiceRequest, request.id)
    assert request.due_at == due
    assert request.sla_state == "breached"  # the applicant's wait counts under `run`


def test_an_answer_after_the_reply_by_date_is_refused_even_if_the_sweep_is_late(app, make, travel):
    service, charter, licence, employee, applicant, request = asked_for_licence(make, travel)

    travel(almaty(2026, 12, 24, 10, 0))  # no sweep has run since the reply-by date
    try:
        request_service.provide_documents(
            applicant, request.reference, [Upload(licence.id, pdf_file("late.pdf"))]
        )
    except ServiceError as error:
        assert error.code == "conflict"
    else:
        raise AssertionError("a late answer was accepted")
    db.session.expire_all()
    refused = db.session.get(ServiceRequest, request.id)
    assert refused.state == "refused_incomplete"
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Document.id)).where(Document.request_id == request.id)
        )
        == 1
    )  # the late file was not kept


def test_a_document_asked_for_again_is_not_carried_over(app, make, travel, login):
    service, charter, licence, employee, applicant = office(make)
    travel(almaty(2026, 12, 7, 10, 0))
    request = request_service.submit(applicant, service, "cafe", [Upload(charter.id, pdf_file())])
    travel(almaty(2026, 12, 8, 11, 0))
    request_service.request_documents(
        employee, request.reference, [(charter.id, "The charter scan is unreadable")]
    )
    sweep_at(app, travel, almaty(2026, 12, 25, 10, 0))

    client = login(applicant)
    path = f"/my/apply/{service.code}?from={request.reference}"
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "description": "cafe, again"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422  # the charter must be uploaded anew
    assert db.session.scalar(sa.select(sa.func.count(ServiceRequest.id))) == 1


def test_changing_the_cadence_mid_chase_neither_repeats_nor_skips_a_reminder(app, make, travel):
    service, charter, licence, employee, applicant, request = asked_for_licence(make, travel)
    sweep_at(app, travel, almaty(2026, 12, 10, 9, 0))  # working day 2: first reminder

    service.reminder_days = [1, 2, 4, 6]  # the admin adds a day that has already passed
    db.session.commit()
    sweep_at(app, travel, almaty(2026, 12, 14, 9, 0))  # working day 4
    service.reminder_days = [6]  # ... then drops day 4
    db.session.commit()
    sweep_at(app, travel, almaty(2026, 12, 17, 9, 0))  # working day 6

    db.session.expire_all()
    assert [day for day, _ in reminders(request)] == [2, 4, 6]
    numbers = db.session.scalars(
        sa.select(Event.payload).where(Event.kind == "reminder_sent").order_by(Event.id)
    ).all()
    assert [p["number"] for p in numbers] == [1, 2, 3]


def test_a_decreed_holiday_moves_the_reply_by_date_too(app, make, travel):
    from datetime import date

    from portal.models import Role
    from portal.services import policies

    service, charter, licence, employee, applicant = office(make)
    admin = make.overseer(Role.ADMIN)
    travel(almaty(2026, 12, 7, 10, 0))
    request = request_service.submit(applicant, service, "cafe", [Upload(charter.id, pdf_file())])
    travel(almaty(2026, 12, 8, 11, 0))
    request_service.request_documents(employee, request.reference, [(licence.id, "Missing")])
    assert request.open_document_request.reply_by == almaty(2026, 12, 23, 18, 0)

    shift = policies.preview_override(date(2026, 12, 11), "holiday", "Decree 7")
    assert shift.moved == 2  # the clock's deadline and the reply-by date
    policies.add_override(admin, date(2026, 12, 11), "holiday", "Decree 7")
    SimpleWorker([queue("sla")], connection=app.extensions["redis"]).work(burst=True)

    db.session.expire_all()
    request = db.session.get(ServiceRequest, request.id)
    assert request.open_document_request.reply_by == almaty(2026, 12, 24, 18, 0)
    kinds = db.session.scalars(
        sa.select(Event.kind).where(Event.request_id == request.id).order_by(Event.id)
    ).all()
    assert "reply_by_recomputed" in kinds


def test_resuming_after_a_warning_does_not_repeat_it_on_the_timeline(app, make, travel):
    service, charter, licence, employee, applicant = office(make, target_days=3)
    service.intake_days = None
    db.session.commit()
    travel(almaty(2026, 12, 7, 10, 0))  # Monday: due Thursday 18:00
    request = request_service.submit(applicant, service, "cafe", [Upload(charter.id, pdf_file())])
    sweep_at(app, travel, almaty(2026, 12, 10, 9, 30))  # 75 % used at 9:15: at risk
    travel(almaty(2026, 12, 10, 9, 45))
    request_service.request_documents(employee, request.reference, [(licence.id, "Missing")])
    travel(almaty(2026, 12, 10, 11, 0))  # the at-risk moment moves to 10:30: passed again
    request_service.provide_documents(
        applicant, request.reference, [Upload(licence.id, pdf_file("licence.pdf"))]
    )
    sweep_at(app, travel, almaty(2026, 12, 10, 11, 30))

    db.session.expire_all()
    request = db.session.get(ServiceRequest, request.id)
    assert request.sla_state == "at_risk"
    kinds = db.session.scalars(
        sa.select(Event.kind).where(Event.request_id == request.id).order_by(Event.id)
    ).all()
    assert kinds.count("sla_at_risk") == 1
    assert kinds.count("escalated") == 1
