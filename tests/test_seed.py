"""The demo seed: a city administration with a month of history, seeded once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from portal import identifiers
from portal.extensions import db
from portal.models import (
    OPEN_STATES,
    Business,
    BusinessMember,
    Department,
    Document,
    DocumentRequest,
    Event,
    Role,
    Service,
    ServiceRequest,
    User,
)
from portal.seed import PASSWORD
from portal.services import accounts, storage
from portal.services.boards.staff import QueueFilters, staff_queue
from sla import clock, deadlines

EVERY_STATE = {
    "submitted",
    "in_review",
    "awaiting_documents",
    "in_approval",
    "approved",
    "rejected",
    "withdrawn",
}


def seed(runner) -> str:
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    return result.output


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def users(*roles: Role) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.role.in_([str(r) for r in roles]))))


def test_seed_builds_the_administration_its_services_and_people(runner):
    output = seed(runner)

    departments = db.session.scalars(sa.select(Department)).all()
    assert {d.code for d in departments} == {"ENT", "AGR", "ARC", "LND", "MOB"}
    assert all(d.name_ru and d.name_kk and d.name_en for d in departments)

    services = db.session.scalars(sa.select(Service)).all()
    assert len(services) >= 10
    for policy in ("pause", "run", "restart"):
        assert sum(s.waiting_policy == policy for s in services) >= 2
    for service in services:
        assert 1 <= service.target_days <= 15
        assert 1 <= len(service.required_documents) <= 3
        assert service.title_kk and service.description_kk and service.description_en

    for department in departments:
        people = [u for u in users(Role.STAFF, Role.HEAD) if u.department_id == department.id]
        assert 2 <= sum(u.role == Role.STAFF for u in people) <= 4, department.code
        assert sum(u.role == Role.HEAD for u in people) == 1, department.code
    assert len(users(Role.SUPERVISOR)) == 1
    assert len(users(Role.ADMIN)) == 1

    businesses = db.session.scalars(sa.select(Business)).all()
    companies = [b for b in businesses if b.kind == "company"]
    citizens = [b for b in businesses if b.kind == "citizen"]
    assert len(companies) == 2 and all(identifiers.is_valid_bin(b.identifier) for b in companies)
    assert len(citizens) == 1 and identifiers.is_valid_iin(citizens[0].identifier)

    for email in (
        "aigerim.staff@moldir.kz",
        "head.ent@moldir.kz",
        "deputy@moldir.kz",
        "admin@moldir.kz",
        "owner@dala-agro.kz",
        "director@tulpar-stroy.kz",
        "buhgalter@dala-agro.kz",
    ):
        assert accounts.authenticate(email, PASSWORD) is not None, email
        assert email in output
    # Дала Агро: its owner, an accountant let in, and someone asking to join.
    dala = accounts.authenticate("owner@dala-agro.kz", PASSWORD).business
    members = {
        (m.user.email, m.role, m.status)
        for m in db.session.scalars(sa.select(BusinessMember).filter_by(business_id=dala.id))
    }
    assert members == {
        ("owner@dala-agro.kz", "owner", "active"),
        ("buhgalter@dala-agro.kz", "accountant", "active"),
        ("agronom@dala-agro.kz", "employee", "pending"),
    }


def test_seed_history_gives_every_queue_work(runner):
    seed(runner)
    now = clock.now()

    requests = db.session.scalars(sa.select(ServiceRequest)).all()
    assert 45 <= len(requests) <= 55
    assert EVERY_STATE <= {r.state for r in requests}

    calendar = deadlines.calendar()
    for request in requests:
        kinds = {e.kind for e in request.events}
        assert {"submitted", "assigned"} <= kinds, request.reference
        submitted = request.submitted_at
        assert now - timedelta(days=35) < submitted < now
        assert calendar.is_office_hours(submitted), request.reference
        assert request.assignee is not None and request.assignee.is_staff
        if request.state == "rejected":
            assert request.decision_reason

    open_requests = [r for r in requests if r.state in OPEN_STATES]
    assert any(r.paused_since is None and r.due_at < now for r in open_requests)  # overdue
    assert any(r.paused_since is not None for r in open_requests)
    asked = db.session.scalars(sa.select(DocumentRequest)).all()
    assert {"open", "answered"} <= {a.state for a in asked}

    for employee in users(Role.STAFF):
        assert staff_queue(employee, "mine", QueueFilters()).rows, employee.email
    for head in users(Role.HEAD):
        assert staff_queue(head, "department", QueueFilters()).rows, head.email


def test_seeded_documents_are_stored_pdfs(runner):
    seed(runner)

    documents = db.session.scalars(sa.select(Document)).all()
    assert documents
    for document in documents:
        assert document.content_type == "application/pdf"
        assert storage.path_of(document.stored_name).read_bytes().startswith(b"%PDF-1.4")


def test_seeding_again_changes_nothing(runner):
    seed(runner)
    tables = (Department, Service, User, Business, ServiceRequest, Document, Event)
    before = {model.__name__: count(model) for model in tables}

    output = seed(runner)

    assert "nothing changed" in output
    assert {model.__name__: count(model) for model in tables} == before


def test_seeded_approvals_have_people_to_ask_and_figures_to_show(runner, client):
    from portal.models import ApprovalStep
    from portal.services import approvals, boards
    from tests.helpers import main, sign_in

    seed(runner)

    services = db.session.scalars(sa.select(Service)).all()
    assert sum(bool(s.approvers) for s in services) >= 5
    assert sum(not s.approvers for s in services) >= 2
    # Nobody is ever sent to approval with no one to approve.
    for request in db.session.scalars(sa.select(ServiceRequest)):
        kinds = [e.kind for e in request.events]
        if not request.service.approvers:
            assert "send_to_approval" not in kinds, request.reference
        if request.state == "in_approval":
            assert approvals.waiting(request), request.reference
    steps = db.session.scalars(sa.select(ApprovalStep)).all()
    outcomes = Counter(s.outcome for s in steps)
    assert outcomes["approved"] >= 5 and outcomes["returned"] >= 1 and outcomes[None] >= 3
    given = db.session.scalars(sa.select(Event).where(Event.kind == "approval_given")).all()
    assert len(given) == outcomes["approved"]
    assert all(e.actor_id not in (None, e.request.assignee_id) for e in given)
    approved = [
        r
        for r in db.session.scalars(
            sa.select(ServiceRequest).where(ServiceRequest.state == "approved")
        )
    ]
    assert {bool(r.service.approvers) for r in approved} == {True, False}

    # The figures: approval time per stage on the trends, and someone's approvals page.
    assert approvals.approval_time(by="stage")
    assert boards.trends()["approvals"]
    waiting_on = [u for u in users(Role.HEAD, Role.SUPERVISOR, Role.STAFF) if approvals.queue(u)]
    assert waiting_on
    sign_in(client, waiting_on[0], password=PASSWORD)
    page = main(client.get("/staff/approvals"))
    assert approvals.queue(waiting_on[0])[0].request.reference in page
    sign_in(client, users(Role.SUPERVISOR)[0], password=PASSWORD)
    trends = main(client.get("/supervisor/trends"))
    assert "No approval was answered in this period." not in trends
