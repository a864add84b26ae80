"""The escalation ladder fires each rung once, through a real RQ worker."""

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rq import SimpleWorker

from portal.extensions import db
from portal.models import Escalation, Event, Role, ServiceRequest
from portal.queueing import enqueue, queue
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla.jobs import sweep_job
from tests.conftest import pdf_file

ALMATY = ZoneInfo("Asia/Almaty")


def run_worker(app):
    worker = SimpleWorker([queue("sla")], connection=app.extensions["redis"])
    worker.work(burst=True)


def test_breach_escalates_up_the_ladder_once_each(app, make, travel):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=4)
    employee = make.employee(department)
    head = make.employee(department, role=Role.HEAD)
    supervisor = make.overseer()
    applicant = make.applicant()

    # Monday 2026-11-30 10:00 in Almaty: due Friday 2026-12-04 18:00.
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=ALMATY))
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    assert request.due_at == datetime(2026, 12, 4, 18, 0, tzinfo=ALMATY)

    moments = [
        datetime(2026, 12, 3, 12, 0, tzinfo=ALMATY),  # intake check overdue (2 working days)
        datetime(2026, 12, 4, 18, 0, 1, tzinfo=ALMATY),  # at risk (Thu 16:00), then breached
        datetime(
            2026, 12, 10, 18, 0, 1, tzinfo=ALMATY
        ),  # 3 working days later (16th is a holiday later)
    ]
    for at in moments:
        travel(at)
        enqueue(sweep_job, queue_name="sla")
        enqueue(sweep_job, queue_name="sla")  # a second sweep at once changes nothing
        run_worker(app)

    db.session.expire_all()
    levels = db.session.execute(
        sa.select(Escalation.level, Escalation.target_user_id).order_by(Escalation.id)
    ).all()
    # Nobody checked completeness within the 2-working-day intake target either.
    assert levels == [
        ("intake", employee.id),
        ("at_risk", employee.id),
        ("head", head.id),
        ("supervisor", supervisor.id),
    ]
    request = db.session.get(ServiceRequest, request.id)
    assert request.sla_state == "breached"
    assert request.next_check_at is None
    kinds = db.session.scalars(
        sa.select(Event.kind)
        .where(Event.kind.in_(["sla_at_risk", "sla_breached", "escalated"]))
        .order_by(Event.id)
    ).all()
    assert kinds == [
        "escalated",
        "sla_at_risk",
        "escalated",
        "sla_breached",
        "escalated",
        "escalated",
    ]
