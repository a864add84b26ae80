"""The audit log is tamper-evident: someone changing events behind the app's back is found.

Each story lets people work through the pages, then plays the one who edits the database
directly (raw SQL, past every check of the app), and asks `flask audit verify` what it sees.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal import audit, lifecycle
from portal.extensions import db
from portal.models import Event, ServiceRequest
from tests.helpers import sign_in, staff_act, submitted, text

ALMATY = ZoneInfo("Asia/Almaty")
MIGRATION = Path(__file__).parent.parent / "migrations" / "versions" / "0010_audit_chain.py"


class Office:
    """A department with one service and one employee, and an applicant who uses it."""

    def __init__(self, make, client):
        self.client = client
        built = make.office(document_code="charter", names={"employee": "Aigerim Nurlanova"})
        self.service, self.employee, self.applicant = built.service, built.employee, built.applicant

    def request_accepted(self) -> str:
        """A request submitted and accepted through the pages: five events."""
        sign_in(self.client, self.applicant)
        reference = submitted(self.client, self.service)
        sign_in(self.client, self.employee)
        response = staff_act(self.client, reference, "accept_documents")
        assert response.status_code == 302, text(response)
        return reference


@pytest.fixture
def office(make, client):
    return Office(make, client)


def chain(reference: str) -> list:
    """The request's events as stored, in the timeline's order."""
    with db.engine.connect() as connection:
        return connection.execute(
            sa.select(Event.id, Event.kind, Event.seq, Event.prev_hash, Event.hash)
            .join(ServiceRequest, Event.request_id == ServiceRequest.id)
            .where(ServiceRequest.reference == reference)
            .order_by(Event.id)
        ).all()


def head(reference: str):
    with db.engine.connect() as connection:
        return connection.execute(
            sa.select(ServiceRequest.audit_seq, ServiceRequest.audit_head).where(
                ServiceRequest.reference == reference
            )
        ).one()


def behind_the_apps_back(statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def load_migration():
    spec = importlib.util.spec_from_file_location("audit_chain_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- what the app writes -------------------------------------------------------------------


def test_events_written_through_the_pages_form_one_chain_per_request(office):
    first = office.request_accepted()
    second = office.request_accepted()

    for reference in (first, second):
        events = chain(reference)
        assert [e.kind for e in events] == [
            "submitted",
            "assigned",
            "clock_started",
            "accept_documents",
        ]
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert [e.prev_hash for e in events] == [None] + [e.hash for e in events[:-1]]
        assert len({e.hash for e in events}) == 4
        assert tuple(head(reference)) == (4, events[-1].hash)


def test_a_clean_log_is_reported_intact(office, runner):
    office.request_accepted()
    office.request_accepted()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 requests, 8 events, 2 documents, chain intact"


def test_two_events_in_one_transaction_chain_one_after_the_other(office):
    reference = office.request_accepted()
    request = db.session.scalar(sa.select(ServiceRequest).filter_by(reference=reference))

    one = lifecycle.record(request, "deadline_recomputed", office.employee, {"n": 1})
    two = lifecycle.record(request, "deadline_recomputed", None, {"n": 2})
    db.session.commit()

    assert (one.seq, two.seq) == (5, 6)
    assert two.prev_hash == one.hash
    assert audit.verify(db.session.connection()).intact


def test_what_is_hashed_is_what_reads_back(office, travel):
    """Payload keys become strings, tuples lists, text stays unicode; times come back in UTC
    with their microseconds, on SQLite as on PostgreSQL."""
    reference = office.request_accepted()
    request = db.session.scalar(sa.select(ServiceRequest).filter_by(reference=reference))
    travel(datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=ALMATY))
    payload = {
        "reason": "Жарғы жоқ — нет устава",
        7: ("a", 1, 2.5, None, True),
        "nested": {"z": [], "a": {"big": 2**53 + 1}},
    }

    event = lifecycle.record(request, "deadline_recomputed", office.employee, payload)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Event, event.id)
    assert stored.payload == {
        "reason": "Жарғы жоқ — нет устава",
        "7": ["a", 1, 2.5, None, True],
        "nested": {"z": [], "a": {"big": 2**53 + 1}},
    }
    assert stored.created_at == datetime(2026, 3, 2, 5, 0, 0, 123456, tzinfo=ZoneInfo("UTC"))
    assert audit.verify(db.session.connection()).intact


# --- what someone changing the database is told ------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("kind", "'approve'"),
        ("payload", '\'{"service": "other"}\''),
        ("actor_id", "NULL"),
        ("to_state", "'approved'"),
    ],
)
def test_editing_an_event_behind_the_apps_back_is_reported(office, runner, column, value):
    reference = office.request_accepted()
    edited = chain(reference)[0]
    behind_the_apps_back(f"UPDATE event SET {column} = {value} WHERE id = :id", id=edited.id)  # noqa: S608

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"{reference} (request " in result.output
    assert f"event {edited.id} edited: its content does not match its hash" in result.output
    assert (
        "1 requests, 4 events, 1 documents, 1 broken chains, 0 edited rows, 0 bad files"
        in result.output
    )


def test_moving_an_event_in_time_by_a_microsecond_is_reported(office, runner):
    reference = office.request_accepted()
    edited = chain(reference)[2]
    event = db.session.get(Event, edited.id)
    at = event.created_at + timedelta(microseconds=1)
    db.session.execute(
        sa.update(Event.__table__).where(Event.id == edited.id).values(created_at=at)
    )
    db.session.commit()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"event {edited.id} edited" in result.output


def test_removing_an_event_from_the_middle_is_reported(office, runner):
    reference = office.request_accepted()
    events = chain(reference)
    behind_the_apps_back("DELETE FROM event WHERE id = :id", id=events[1].id)

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"event {events[2].id} removed: event #2 before it is missing" in result.output


def test_removing_the_last_event_is_reported(office, runner):
    reference = office.request_accepted()
    events = chain(reference)
    behind_the_apps_back("DELETE FROM event WHERE id = :id", id=events[-1].id)

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"event {events[-2].id} removed at the end: event #4 after it is missing" in (
        result.output
    )


def test_removing_every_event_of_a_request_is_reported(office, runner):
    reference = office.request_accepted()
    behind_the_apps_back(
        "DELETE FROM event WHERE request_id = "
        "(SELECT id FROM service_request WHERE reference = :reference)",
        reference=reference,
    )

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"{reference} (request " in result.output
    assert "no event removed at the end: event #1-#4 after it is missing" in result.output


def test_swapping_two_events_in_the_timeline_is_reported(office, runner):
    reference = office.request_accepted()
    events = chain(reference)
    a, b = events[1].id, events[2].id
    behind_the_apps_back("UPDATE event SET id = -1 WHERE id = :a", a=a)
    behind_the_apps_back("UPDATE event SET id = :a WHERE id = :b", a=a, b=b)
    behind_the_apps_back("UPDATE event SET id = :b WHERE id = -1", b=b)

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"event {a} reordered: it is number 3, in place of 2" in result.output


def test_an_event_slipped_in_by_hand_is_reported(office, runner):
    reference = office.request_accepted()
    request_id = db.session.scalar(sa.select(ServiceRequest.id).filter_by(reference=reference))
    db.session.execute(
        sa.insert(Event.__table__).values(
            request_id=request_id,
            kind="approve",
            payload={},
            created_at=datetime(2026, 3, 2, 10, tzinfo=ALMATY),
        )
    )
    db.session.commit()
    inserted = chain(reference)[-1]

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"event {inserted.id} inserted: it carries no chain" in result.output


def test_an_event_forged_onto_the_end_is_reported(office, runner):
    """Even with the recipe at hand: the request's head does not know it."""
    reference = office.request_accepted()
    request = db.session.scalar(sa.select(ServiceRequest).filter_by(reference=reference))
    last = chain(reference)[-1]
    at = datetime(2026, 3, 2, 10, tzinfo=ALMATY)
    forged = audit.event_hash(last.hash, request.id, 5, "approve", None, None, None, {}, at)
    db.session.execute(
        sa.insert(Event.__table__).values(
            request_id=request.id,
            kind="approve",
            payload={},
            created_at=at,
            seq=5,
            prev_hash=last.hash,
            hash=forged,
        )
    )
    db.session.commit()
    inserted = chain(reference)[-1]

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"event {inserted.id} inserted: the request's chain ends at number 4" in result.output


def test_only_the_broken_request_is_named_and_only_its_first_break(office, runner):
    intact = office.request_accepted()
    broken = office.request_accepted()
    events = chain(broken)
    behind_the_apps_back(
        "UPDATE event SET kind = 'x' WHERE id IN (:a, :b)", a=events[1].id, b=events[3].id
    )

    result = runner.invoke(args=["audit", "verify", "--batch", "1"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        lines[0],
        "2 requests, 8 events, 2 documents, 1 broken chains, 0 edited rows, 0 bad files",
    ]
    assert lines[0].startswith(f"{broken} ") and f"event {events[1].id} edited" in lines[0]
    assert intact not in result.output


def test_one_request_can_be_checked_alone(office, runner):
    broken = office.request_accepted()
    intact = office.request_accepted()
    behind_the_apps_back("DELETE FROM event WHERE id = :id", id=chain(broken)[0].id)

    alone = runner.invoke(args=["audit", "verify", "--request", intact])
    unknown = runner.invoke(args=["audit", "verify", "--request", "SHY-1999-000001"])

    assert alone.exit_code == 0, alone.output
    assert alone.output.strip() == "1 requests, 4 events, 1 documents, chain intact"
    assert unknown.exit_code == 2
    assert "no request SHY-1999-000001" in unknown.output


def test_verify_reads_every_request_whatever_the_batch(office):
    references = [office.request_accepted() for _ in range(3)]

    for batch_size in (1, 2, 1000):
        report = audit.verify(db.session.connection(), batch_size=batch_size)
        assert (report.requests, report.events, report.breaks) == (3, 12, [])
    assert len(references) == 3


# --- the migration ---------------------------------------------------------------------------


def test_the_migration_chains_events_written_before_it_as_the_app_would(office):
    references = [office.request_accepted() for _ in range(3)]
    written = {reference: chain(reference) for reference in references}
    behind_the_apps_back("UPDATE event SET seq = NULL, prev_hash = NULL, hash = NULL")
    behind_the_apps_back("UPDATE service_request SET audit_seq = 0, audit_head = NULL")
    report = audit.verify(db.session.connection())
    assert (report.count(audit.CHAIN), report.count(audit.ROW)) == (3, 3)  # seals: the head

    # Batches smaller than one request's chain, so chains run across them.
    load_migration().backfill(db.session.connection(), batch_size=3)
    db.session.commit()

    for reference in references:
        assert chain(reference) == written[reference]  # the very hashes record() made
        assert tuple(head(reference)) == (4, written[reference][-1].hash)
    assert audit.verify(db.session.connection()).intact
