"""Helpers for the SLA stories: an office with its people, and what the database holds.

Actions go through the service functions (the same ones the views call); sweeps run on a
real RQ `SimpleWorker` in this process, on the test's Redis. What a story checks as
committed is read on a connection of its own, never from the session's cached objects.
"""

from __future__ import annotations

import sqlalchemy as sa
from rq import SimpleWorker

from notifications.inbox import Notice
from portal.extensions import db
from portal.models import (
    Escalation,
    Event,
    ServiceRequest,
)
from portal.queueing import enqueue, queue
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla.jobs import sweep_job
from tests.factories import ALMATY, Office, almaty, pdf_file  # noqa: F401


def open_office(make, target_days: int = 5, policy: str = "pause", **service_fields) -> Office:
    """The office's service has no stage targets (intake, approval) unless asked: these
    stories are about the overall target's ladder."""
    fields = {"intake_days": None, "approval_days": None, **service_fields}
    return make.office(target_days=target_days, policy=policy, **fields)


def submit(office: Office, description: str = "Register our bakery") -> ServiceRequest:
    return office.submit(description)


def ask_for_documents(office: Office, request: ServiceRequest) -> None:
    request_service.request_documents(
        office.employee, request.reference, [(office.document.id, "The scan is unreadable")]
    )


def answer(office: Office, request: ServiceRequest) -> ServiceRequest:
    return request_service.provide_documents(
        office.applicant, request.reference, [Upload(office.document.id, pdf_file("new.pdf"))]
    )


class InProcessWorker(SimpleWorker):
    """RQ's `SimpleWorker`, without the pubsub control channel (`rq suspend`, kill-horse).

    Nothing in a story sends the worker commands, and on a real Redis stopping that
    channel's thread costs half a second per burst.
    """

    def subscribe(self):
        pass


def run_worker(app) -> SimpleWorker:
    """Work the `sla` queue until it is empty, in this process."""
    worker = InProcessWorker([queue("sla")], connection=app.extensions["redis"])
    worker.work(burst=True)
    return worker


def sweep_via_rq(app, times: int = 1) -> list:
    """Enqueue `times` sweeps at once, then let a worker run them; the jobs, finished."""
    jobs = [enqueue(sweep_job, queue_name="sla") for _ in range(times)]
    run_worker(app)
    for job in jobs:
        assert job.get_status(refresh=True) == "finished", job.exc_info
    return jobs


# --- what the database holds (committed) ----------------------------------------------


def committed(statement):
    with db.engine.connect() as connection:
        return connection.execute(statement).all()


def escalations(request: ServiceRequest | None = None) -> list[tuple[str, int, int | None]]:
    """(level, clock epoch, target user id) of each escalation, in firing order."""
    query = sa.select(Escalation.level, Escalation.clock_epoch, Escalation.target_user_id)
    if request is not None:
        query = query.where(Escalation.request_id == request.id)
    return [tuple(row) for row in committed(query.order_by(Escalation.id))]


def notices() -> list[tuple[int, str]]:
    """(user id, kind) of each escalation notice in the in-app inbox, in order.

    Other notices (submitted, documents requested, reminders) belong to other stories.
    """
    rows = committed(
        sa.select(Notice.user_id, Notice.kind)
        .where(Notice.kind.startswith("escalation_", autoescape=True))
        .order_by(Notice.id)
    )
    return [tuple(row) for row in rows]


def event_kinds(request: ServiceRequest, *kinds: str) -> list[str]:
    query = sa.select(Event.kind).where(Event.request_id == request.id)
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    return [row.kind for row in committed(query.order_by(Event.id))]


def events(request: ServiceRequest, kind: str) -> list[dict]:
    rows = committed(
        sa.select(Event.payload)
        .where(Event.request_id == request.id, Event.kind == kind)
        .order_by(Event.id)
    )
    return [row.payload for row in rows]


def clock_of(request: ServiceRequest):
    """The committed SLA columns of one request."""
    (row,) = committed(
        sa.select(
            ServiceRequest.state,
            ServiceRequest.sla_state,
            ServiceRequest.due_at,
            ServiceRequest.next_check_at,
            ServiceRequest.paused_since,
            ServiceRequest.paused_working_seconds,
            ServiceRequest.credited_working_seconds,
            ServiceRequest.clock_started_at,
            ServiceRequest.clock_epoch,
        ).where(ServiceRequest.id == request.id)
    )
    return row
