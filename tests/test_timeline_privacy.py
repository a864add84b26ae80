"""The applicant sees every step of their request, but not the administration's internal
remarks: an approver's comment, a head's reason for reassigning, and who wrote them.

What each kind of event shows is declared once, in portal/domain/events.py; these stories
record every declared kind with words in it and read the request as the applicant does:
its page, the JSON API, Open311 and their messages (in-app and email).
"""

import pytest
import sqlalchemy as sa

import notifications
from notifications import templates
from notifications.outbox import OutboxMessage
from portal import lifecycle
from portal.domain.events import REGISTRY, EventKind, UndeclaredEventKind
from portal.extensions import db
from portal.models import Event, Role, ServiceApprover
from portal.services import approvals, tokens
from portal.services import requests as request_service
from portal.services.requests import Upload
from tests.conftest import pdf_file
from tests.helpers import sign_in, text


def test_the_applicant_sees_a_reassignment_happen_but_not_the_heads_reason(make, login):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=5)
    first = make.employee(department, name="Aigerim Bekova")
    second = make.employee(department, name="Bolat Serikov")
    head = make.employee(department, Role.HEAD, name="Yerlan Head")
    applicant = make.applicant()
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    assignee = request.assignee
    other = second if assignee.id == first.id else first
    request_service.reassign(head, request.reference, other.id, "INTERNAL: overloaded, sloppy")

    client = login(applicant)
    client.get("/lang/en")
    page = client.get(f"/my/requests/{request.reference}").get_data(as_text=True)
    assert f"Reassigned from {assignee.full_name} to {other.full_name}" in page
    assert "INTERNAL" not in page
    assert "Yerlan Head" not in page

    client = login(head)
    client.get("/lang/en")
    page = client.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "INTERNAL: overloaded, sloppy" in page
    assert "Yerlan Head" in page


class ApplicantView:
    """Everything the applicant can read about one request."""

    def __init__(self, client, applicant, reference):
        sign_in(client, applicant)
        _token, secret = tokens.create(applicant, "privacy")
        self.page = text(client.get(f"/my/requests/{reference}"))
        api = client.get(
            f"/api/v1/requests/{reference}", headers={"Authorization": f"Bearer {secret}"}
        )
        assert api.status_code == 200, api.get_data(as_text=True)
        self.api = api.get_json()
        self.api_text = api.get_data(as_text=True)
        open311 = client.get(f"/open311/v2/requests/{reference}.json?api_key={secret}")
        assert open311.status_code == 200, open311.get_data(as_text=True)
        self.open311 = open311.get_data(as_text=True)
        self.inbox = text(client.get("/inbox"))
        rows = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.recipient_id == applicant.id)
        ).all()
        # What the relay sends (email, SMS) and the inbox shows: each row rendered.
        self.messages = "\n".join(
            templates.render(row.template, "en", row.context, "https://moldir.test").body
            for row in rows
        )

    def everywhere(self) -> str:
        return "\n".join((self.page, self.api_text, self.open311, self.inbox, self.messages))


@pytest.mark.parametrize("kind", list(EventKind))
def test_the_applicant_reads_of_each_kind_only_what_it_declares_public(kind, make, client):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=5)
    make.employee(department, name="Aigerim Bekova")
    insider = make.employee(make.department(), Role.HEAD, name="Yerlan Insider")
    applicant = make.applicant()
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    words = f"WORDS-OF-{kind.upper()}"
    spec = REGISTRY[kind]

    event = lifecycle.record(
        request, kind, insider, {"reason": words, "note": words, "assignee": "X", "stage": "head"}
    )
    # Every message that reports this kind, with the words in every place a template reads.
    for message in spec.messages:
        notifications.notify(
            applicant,
            message,
            request=request,
            context={"reason": words, "comment": words, "note": words},
            key=f"privacy:{message}",
        )
    db.session.commit()
    event_id = event.id

    seen = ApplicantView(client, applicant, request.reference)

    timeline = {step["kind"]: step for step in seen.api["timeline"]}
    assert (kind in timeline) is spec.applicant_sees("event")
    if spec.applicant_sees("event"):
        assert timeline[kind]["text"] in seen.page
        assert (timeline[kind]["actor"] == "Yerlan Insider") is spec.applicant_sees("actor")
        assert (timeline[kind]["reason"] == words) is spec.applicant_sees("comment")
    assert ("Yerlan Insider" in seen.page) is spec.applicant_sees("actor")
    assert (words in seen.page) is spec.applicant_sees("comment")
    assert words not in seen.open311  # Open311 shows the decision's reason, not the events'
    if spec.messages:
        assert seen.messages  # the messages were written, and read
    assert words not in seen.inbox
    if not spec.applicant_sees("comment"):
        assert words not in seen.everywhere()

    # The administration sees all of it.
    assert db.session.get(Event, event_id).payload["reason"] == words
    sign_in(client, insider)
    staff = client.get(f"/api/v1/requests/{request.reference}")
    assert staff.status_code in (401, 403, 404)  # another department's head: not theirs


def test_recording_an_undeclared_kind_is_refused(make):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=5)
    make.employee(department)
    applicant = make.applicant()
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    before = request.audit_seq

    with pytest.raises(UndeclaredEventKind):
        lifecycle.record(request, "approval_returned", None, {"reason": "a kind never declared"})
    db.session.rollback()

    assert (
        db.session.scalar(
            sa.select(sa.func.count(Event.id)).where(Event.kind == "approval_returned")
        )
        == 0
    )
    assert db.session.get(type(request), request.id).audit_seq == before


def test_an_approvers_comment_and_a_heads_return_stay_inside(make, client):
    """The two leaks found walking the portal: an approver's words on approving, and a
    head's words on sending the request back to review."""
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=10)
    service.approvers = [ServiceApprover(position=0, role="head")]
    db.session.commit()
    employee = make.employee(department, name="Aigerim Bekova")
    head = make.employee(department, Role.HEAD, name="Dana Head")
    applicant = make.applicant()
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    request_service.act(employee, request.reference, "accept_documents")
    request_service.act(employee, request.reference, "send_to_approval")
    (step,) = approvals.waiting(request)
    approvals.answer(head, step.id, "approve", "APPROVER: the applicant's director is shady")
    request_service.act(head, request.reference, "return_to_review", "HEAD: check the lease")

    seen = ApplicantView(client, applicant, request.reference)

    kinds = [step["kind"] for step in seen.api["timeline"]]
    assert "approval_given" in kinds and "return_to_review" in kinds
    assert "Returned to review" in seen.page
    for words in ("APPROVER", "shady", "HEAD: check the lease", "Dana Head"):
        assert words not in seen.everywhere(), words

    sign_in(client, employee)
    page = text(client.get(f"/staff/requests/{request.reference}"))
    assert "APPROVER: the applicant's director is shady" in page
    assert "HEAD: check the lease" in page
