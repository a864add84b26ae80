"""The audit reaches past the events: the request row and the stored files are covered too.

People work through the pages and the workers run the sweep; then someone edits a request's
state, assignee or deadline in the database, or swaps or removes a stored file, and
`flask audit verify` (and a download) is asked what it sees.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from portal import audit
from portal.extensions import db
from portal.models import Document, Escalation, Event, Role, ServiceRequest
from portal.queueing import enqueue, queue
from portal.services import policies
from sla.jobs import sweep_job
from tests.helpers import (
    answer,
    ask_for,
    pdf,
    reassign,
    sign_in,
    staff_act,
    submitted,
    text,
)

ALMATY = ZoneInfo("Asia/Almaty")
MIGRATION = Path(__file__).parent.parent / "migrations" / "versions" / "0013_audit_seal.py"
SWAPPED = b"%PDF-1.4\n% not the charter that was received\n%%EOF\n"


class Office:
    """A department (an employee, a colleague, the head) with one service, an applicant."""

    def __init__(self, make, client):
        self.client = client
        department = make.department()
        self.charter = make.document_type("charter")
        self.lease = make.document_type("lease")
        self.service = make.service(department, [self.charter], target_days=4)
        self.employee = make.employee(department, name="Aigerim Nurlanova")
        self.head = make.employee(department, Role.HEAD, name="Marat Head")
        self.supervisor = make.overseer()
        self.applicant = make.applicant()
        self.colleague = None
        self.make, self.department = make, department

    def submitted(self) -> str:
        sign_in(self.client, self.applicant)
        return submitted(self.client, self.service)

    def approved_after_a_chase(self) -> str:
        """Submitted, accepted, a lease asked for and given, approved (nobody else signs off)."""
        reference = self.submitted()
        sign_in(self.client, self.employee)
        assert staff_act(self.client, reference, "accept_documents").status_code == 302
        asked = ask_for(self.client, reference, {self.lease.id: "The lease must cover Abay 12"})
        assert asked.status_code == 302, text(asked)
        sign_in(self.client, self.applicant)
        given = answer(self.client, reference, {self.lease.id: (pdf("lease"), "lease.pdf")})
        assert given.status_code == 302, text(given)
        sign_in(self.client, self.employee)
        assert staff_act(self.client, reference, "approve").status_code == 302
        return reference


@pytest.fixture
def office(make, client):
    return Office(make, client)


def run_sla_worker(app) -> None:
    SimpleWorker([queue("sla")], connection=app.extensions["redis"]).work(burst=True)


def behind_the_apps_back(statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def request_row(reference: str):
    with db.engine.connect() as connection:
        return connection.execute(
            sa.select(ServiceRequest.__table__).where(ServiceRequest.reference == reference)
        ).one()


def documents_of(reference: str) -> list:
    with db.engine.connect() as connection:
        return connection.execute(
            sa.select(Document.id, Document.stored_name, Document.sha256)
            .join(ServiceRequest, Document.request_id == ServiceRequest.id)
            .where(ServiceRequest.reference == reference)
            .order_by(Document.id)
        ).all()


def file_of(app, document) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / document.stored_name


def unrecorded_changes(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "moldir.audit"]


# --- an untouched database after a working week --------------------------------------------


def test_a_working_week_verifies_intact(app, office, runner, travel, caplog):
    """Submit, ask for documents, answer, approve; another request reassigned by the head,
    its deadline moved by a new holiday, then breached and escalated by the sweep."""
    caplog.set_level(logging.WARNING, logger="moldir.audit")
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=ALMATY))  # a Monday
    approved = office.approved_after_a_chase()
    late = office.submitted()
    colleague = office.make.employee(office.department, name="Bolat Serikov")
    sign_in(office.client, office.head)
    assert reassign(office.client, late, colleague.id).status_code == 302
    policies.add_override(office.head, date(2026, 12, 2), "holiday", "Decreed day off")
    run_sla_worker(app)  # the recompute the new holiday queued
    for at in (datetime(2026, 12, 9, 12, 0), datetime(2026, 12, 15, 12, 0)):
        travel(at.replace(tzinfo=ALMATY))
        enqueue(sweep_job, queue_name="sla")
        run_sla_worker(app)

    late_request = request_row(late)
    assert request_row(approved).state == "approved"
    assert late_request.assignee_id == colleague.id
    with db.engine.connect() as connection:
        kinds = set(
            connection.scalars(sa.select(Event.kind).where(Event.request_id == late_request.id))
        )
        escalations = connection.scalar(sa.select(sa.func.count()).select_from(Escalation))
    assert {"reassigned", "deadline_recomputed", "sla_breached", "escalated"} <= kinds
    assert escalations >= 2

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("3 documents, chain intact")
    assert unrecorded_changes(caplog) == []


def test_each_document_keeps_the_sha256_of_the_file_stored(app, office):
    reference = office.approved_after_a_chase()

    documents = documents_of(reference)

    assert len(documents) == 2
    for document in documents:
        assert document.sha256 == hashlib.sha256(file_of(app, document).read_bytes()).hexdigest()


# --- the request row edited behind the app's back ------------------------------------------


@pytest.mark.parametrize(
    ("statement", "field", "detail"),
    [
        (
            "UPDATE service_request SET state = 'approved' WHERE id = :id",
            "state",
            "state is 'approved', sealed 'in_review'",
        ),
        ("UPDATE service_request SET assignee_id = :colleague WHERE id = :id", "assignee_id", None),
        (
            "UPDATE service_request SET due_at = :later WHERE id = :id",
            "due_at",
            "due_at is '2026-12-21T13:00:00.000000+00:00', "
            "sealed '2026-12-04T13:00:00.000000+00:00'",
        ),
    ],
)
def test_a_request_row_edited_in_the_database_is_named_with_its_field(
    office, runner, travel, statement, field, detail
):
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=ALMATY))
    intact = office.submitted()
    reference = office.submitted()
    sign_in(office.client, office.employee)
    assert staff_act(office.client, reference, "accept_documents").status_code == 302
    colleague = office.make.employee(office.department, name="Bolat Serikov")
    row = request_row(reference)
    assert row.due_at.astimezone(ALMATY) == datetime(2026, 12, 4, 18, 0, tzinfo=ALMATY)

    behind_the_apps_back(
        statement,
        id=row.id,
        colleague=colleague.id,
        later=datetime(2026, 12, 21, 18, 0, tzinfo=ALMATY),
    )
    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2, result.output
    assert lines[0].startswith(f"{reference} (request {row.id}): row edited: {field} is ")
    if detail:
        assert lines[0].endswith(detail)
    else:
        assert lines[0].endswith(f"{field} is {colleague.id}, sealed {office.employee.id}")
    assert lines[1] == (
        "2 requests, 7 events, 2 documents, 0 broken chains, 1 edited rows, 0 bad files"
    )
    assert intact not in result.output


def test_every_edited_field_is_named(office):
    reference = office.submitted()
    row = request_row(reference)
    behind_the_apps_back(
        "UPDATE service_request SET state = 'rejected', assignee_id = NULL, due_at = NULL "
        "WHERE id = :id",
        id=row.id,
    )

    (found,) = audit.verify(db.session.connection()).breaks

    assert (found.part, found.problem, found.fields) == (
        audit.ROW,
        audit.EDITED,
        ("state", "assignee_id", "due_at"),
    )
    assert "assignee_id is NULL" in found.detail and "due_at is NULL" in found.detail


def test_a_seal_rewritten_to_match_an_edit_is_reported(office, runner):
    reference = office.submitted()
    row = request_row(reference)
    forged = dict(row.audit_seal, state="approved")  # the old hash kept: no recipe at hand
    db.session.execute(
        sa.update(ServiceRequest.__table__)
        .where(ServiceRequest.id == row.id)
        .values(state="approved", audit_seal=forged)
    )
    db.session.commit()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert (
        f"{reference} (request {row.id}): row seal broken: "
        "its seal does not match its values or its chain's head"
    ) in result.output


def test_the_last_event_removed_with_the_head_wound_back_is_caught_by_the_seal(office, runner):
    """The chain alone would hold: it ends where the head now says. The seal knew the head."""
    reference = office.submitted()
    row = request_row(reference)
    with db.engine.connect() as connection:
        last, before = connection.execute(
            sa.select(Event.id, Event.hash)
            .where(Event.request_id == row.id)
            .order_by(Event.id.desc())
            .limit(2)
        ).all()
    behind_the_apps_back("DELETE FROM event WHERE id = :id", id=last.id)
    behind_the_apps_back(
        "UPDATE service_request SET audit_seq = audit_seq - 1, audit_head = :head WHERE id = :id",
        head=before.hash,
        id=row.id,
    )

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"{reference} (request {row.id}): row seal broken" in result.output
    assert "0 broken chains, 1 edited rows" in result.output


def test_a_change_the_app_makes_without_an_event_is_logged_and_left_unsealed(
    office, runner, caplog
):
    reference = office.submitted()
    request = db.session.scalar(sa.select(ServiceRequest).filter_by(reference=reference))
    caplog.set_level(logging.WARNING, logger="moldir.audit")

    request.due_at += timedelta(days=1)
    db.session.commit()

    assert unrecorded_changes(caplog) == [
        f"request {reference}: due_at changed without an event; left unsealed"
    ]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"{reference} (request {request.id}): row edited: due_at is " in result.output


# --- stored files swapped or removed -------------------------------------------------------


def test_a_swapped_file_and_a_missing_file_are_reported(app, office, runner):
    reference = office.approved_after_a_chase()
    intact = office.submitted()
    charter, lease = documents_of(reference)
    file_of(app, charter).write_bytes(SWAPPED)
    file_of(app, lease).unlink()
    row = request_row(reference)

    result = runner.invoke(args=["audit", "verify"])
    without_files = runner.invoke(args=["audit", "verify", "--no-files"])

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"{reference} (request {row.id}): document {charter.id} swapped: "
        "its file does not match the SHA-256 recorded at upload",
        f"{reference} (request {row.id}): document {lease.id} missing: "
        "its file is not in the upload folder",
        "2 requests, 13 events, 3 documents, 0 broken chains, 0 edited rows, 2 bad files",
    ]
    assert intact not in result.output
    assert without_files.exit_code == 0, without_files.output
    assert without_files.output.strip() == "2 requests, 13 events, files not checked, chain intact"


def test_a_file_swapped_for_one_of_the_same_size_is_reported(app, office):
    reference = office.submitted()
    (charter,) = documents_of(reference)
    original = file_of(app, charter).read_bytes()
    file_of(app, charter).write_bytes(original[:-2] + b"X\n")

    report = audit.verify(db.session.connection(), upload_folder=app.config["UPLOAD_FOLDER"])

    assert [(b.part, b.document_id, b.problem) for b in report.breaks] == [
        (audit.FILE, charter.id, audit.SWAPPED)
    ]


@pytest.mark.parametrize("who", ["applicant", "employee"])
def test_a_swapped_file_is_never_downloaded(app, office, caplog, who):
    reference = office.submitted()
    (charter,) = documents_of(reference)
    file_of(app, charter).write_bytes(SWAPPED)
    person = office.applicant if who == "applicant" else office.employee
    prefix = "/my" if who == "applicant" else "/staff"
    sign_in(office.client, person)
    caplog.set_level(logging.INFO, logger="moldir.security")

    response = office.client.get(f"{prefix}/requests/{reference}/documents/{charter.id}")

    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert SWAPPED not in response.data
    page = text(response)
    assert "This document cannot be sent" in page
    assert "The stored file is not the one received at upload" in page
    (alert,) = [r for r in caplog.records if getattr(r, "event", None) == "document.altered"]
    assert alert.levelno == logging.ERROR
    assert (alert.document_id, alert.recorded_sha256) == (charter.id, charter.sha256)
    assert alert.found_sha256 == hashlib.sha256(SWAPPED).hexdigest()


def test_an_untouched_file_downloads_as_received(app, office):
    reference = office.submitted()
    (charter,) = documents_of(reference)
    sign_in(office.client, office.employee)

    with office.client.get(f"/staff/requests/{reference}/documents/{charter.id}") as response:
        body = response.data

    assert response.status_code == 200
    assert body == pdf("charter")
    assert response.content_length == len(body)


# --- the migration ---------------------------------------------------------------------------


def test_the_migration_seals_requests_written_before_it_as_the_app_would(office):
    references = [office.approved_after_a_chase(), office.submitted()]
    sealed = {reference: request_row(reference).audit_seal for reference in references}
    behind_the_apps_back("UPDATE service_request SET audit_seal = NULL")
    report = audit.verify(db.session.connection())
    assert [(b.part, b.problem) for b in report.breaks] == [(audit.ROW, audit.UNSEALED)] * 2

    spec = importlib.util.spec_from_file_location("audit_seal_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.backfill(db.session.connection(), batch_size=1)
    db.session.commit()

    for reference in references:
        assert request_row(reference).audit_seal == sealed[reference]
    assert audit.verify(db.session.connection()).intact
