"""The lifecycle: moves outside the table are refused, say why, and change nothing."""

import itertools
import types

import pytest
import sqlalchemy as sa

from portal import lifecycle
from portal.extensions import db
from portal.models import FINAL_STATES, Event, Role, ServiceRequest, State, User
from portal.services import approvals
from tests.helpers import (
    answer,
    ask_for,
    event_kinds,
    pdf,
    sign_in,
    snapshot,
    staff_act,
    stored_files,
    submitted,
    text,
    withdraw,
)


class Desk:
    """One department, one employee, one applicant, and a way to move a request along."""

    def __init__(self, make, client):
        self.client = client
        self.department = make.department()
        self.lease = make.document_type("lease")
        self.service = make.service(self.department, [make.document_type("charter")])
        self.employee = make.employee(self.department, name="Aigerim Nurlanova")
        self.applicant = make.applicant()
        self._signed_in = None  # who the client is logged in as

    def needs_approval(self):
        """The head of the department signs off this service before a decision."""
        approvals.set_approvers(self.service, ["role:head"])
        db.session.commit()

    def _as(self, user):
        if self._signed_in is not user:
            sign_in(self.client, user)
            self._signed_in = user
        return self.client

    def new_request(self) -> str:
        return submitted(self.as_applicant(), self.service)

    def as_employee(self):
        return self._as(self.employee)

    def as_applicant(self):
        return self._as(self.applicant)

    def bring(self, reference, state) -> str:
        """Move the request to `state` the way people do, through the pages."""
        steps = {
            "in_review": ["accept"],
            "awaiting_documents": ["ask"],
            "in_approval": ["accept", "send_to_approval"],
            "approved": ["accept", "approve"],  # a service no one signs off
            "rejected": ["reject"],
            "withdrawn": ["withdraw"],
        }[state]
        for step in steps:
            if step == "withdraw":
                response = withdraw(self.as_applicant(), reference)
            elif step == "ask":
                response = ask_for(self.as_employee(), reference, {self.lease.id: "Lease"})
            elif step == "accept":
                response = staff_act(self.as_employee(), reference, "accept_documents")
            elif step == "reject":
                response = staff_act(self.as_employee(), reference, "reject", "No")
            else:
                response = staff_act(self.as_employee(), reference, step)
            assert response.status_code == 302, text(response)
        assert snapshot(reference)["state"] == state
        return reference


@pytest.fixture
def desk(make, client):
    return Desk(make, client)


def refused_and_unchanged(response, reference, before, status=409, state_word=None):
    assert response.status_code == status, text(response)
    page = text(response)
    if state_word:
        assert f"This action is not possible while the request is {state_word}." in page
    assert snapshot(reference) == before
    return page


# --- through the pages -----------------------------------------------------------------


def test_employee_cannot_approve_a_request_that_was_just_submitted(desk):
    reference = desk.new_request()
    before = snapshot(reference)

    response = staff_act(desk.as_employee(), reference, "approve")

    refused_and_unchanged(response, reference, before, state_word="submitted")


def test_employee_cannot_send_to_approval_before_review(desk):
    reference = desk.new_request()
    before = snapshot(reference)

    response = staff_act(desk.as_employee(), reference, "send_to_approval")

    refused_and_unchanged(response, reference, before, state_word="submitted")


def test_employee_cannot_approve_before_the_approval_stage(desk):
    desk.needs_approval()
    reference = desk.bring(desk.new_request(), "in_review")
    before = snapshot(reference)
    client = desk.as_employee()
    assert 'value="approve"' not in text(client.get(f"/staff/requests/{reference}"))

    response = staff_act(client, reference, "approve")

    page = refused_and_unchanged(response, reference, before)
    assert "This service needs approvals: send the request to approval first." in page


def test_nobody_to_approve_means_no_approval_stage(desk):
    reference = desk.bring(desk.new_request(), "in_review")
    before = snapshot(reference)
    client = desk.as_employee()
    page = text(client.get(f"/staff/requests/{reference}"))
    assert 'value="send_to_approval"' not in page and 'value="approve"' in page

    response = staff_act(client, reference, "send_to_approval")

    page = refused_and_unchanged(response, reference, before)
    assert "No one signs off this service: decide the request yourself" in page
    assert staff_act(client, reference, "approve").status_code == 302
    assert snapshot(reference)["state"] == "approved"


def test_employee_cannot_ask_again_while_documents_are_awaited(desk):
    reference = desk.bring(desk.new_request(), "awaiting_documents")
    before = snapshot(reference)

    response = ask_for(desk.as_employee(), reference, {desk.lease.id: "Once more"})

    refused_and_unchanged(response, reference, before, state_word="awaiting documents")
    assert before["asks"] == ["open"]


def test_employee_cannot_act_while_documents_are_awaited(desk):
    reference = desk.bring(desk.new_request(), "awaiting_documents")
    before = snapshot(reference)
    client = desk.as_employee()

    for action in ("accept_documents", "send_to_approval", "approve"):
        response = staff_act(client, reference, action)
        refused_and_unchanged(response, reference, before, state_word="awaiting documents")
    response = staff_act(client, reference, "reject", "No answer yet")
    refused_and_unchanged(response, reference, before, state_word="awaiting documents")


def test_a_decision_is_final_for_the_employee(desk):
    reference = desk.bring(desk.new_request(), "approved")
    before = snapshot(reference)
    client = desk.as_employee()

    page = text(client.get(f"/staff/requests/{reference}"))
    assert f"/staff/requests/{reference}/act" not in page
    for action, reason in [
        ("approve", None),
        ("reject", "Changed my mind"),
        ("return_to_review", "Look again"),
        ("accept_documents", None),
    ]:
        response = staff_act(client, reference, action, reason)
        refused_and_unchanged(response, reference, before, state_word="approved")
    response = ask_for(client, reference, {desk.lease.id: "Too late"})
    refused_and_unchanged(response, reference, before, state_word="approved")


def test_applicant_cannot_withdraw_after_approval(desk):
    reference = desk.bring(desk.new_request(), "approved")
    before = snapshot(reference)
    client = desk.as_applicant()
    assert "Withdraw the request" not in text(client.get(f"/my/requests/{reference}"))

    response = withdraw(client, reference, "Never mind")

    refused_and_unchanged(response, reference, before, state_word="approved")


def test_applicant_cannot_withdraw_after_rejection_or_twice(desk):
    rejected = desk.bring(desk.new_request(), "rejected")
    withdrawn = desk.bring(desk.new_request(), "withdrawn")
    client = desk.as_applicant()

    for reference, word in ((rejected, "rejected"), (withdrawn, "withdrawn")):
        before = snapshot(reference)
        refused_and_unchanged(withdraw(client, reference), reference, before, state_word=word)


def test_applicant_cannot_provide_documents_when_nothing_is_asked(desk):
    reference = desk.new_request()
    before, files = snapshot(reference), stored_files()
    client = desk.as_applicant()
    assert "Documents requested from you" not in text(client.get(f"/my/requests/{reference}"))

    response = answer(client, reference, {desk.lease.id: (pdf("lease"), "lease.pdf")})

    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Nothing is being asked of you on this request." in page
    assert snapshot(reference) == before
    assert stored_files() == files


def test_applicant_cannot_answer_an_ask_twice(desk):
    reference = desk.bring(desk.new_request(), "awaiting_documents")
    client = desk.as_applicant()
    assert answer(client, reference, {desk.lease.id: (pdf("a"), "lease.pdf")}).status_code == 302
    before, files = snapshot(reference), stored_files()

    response = answer(client, reference, {desk.lease.id: (pdf("b"), "lease.pdf")})

    assert response.status_code == 302
    assert "Nothing is being asked of you" in text(client.get(response.headers["Location"]))
    assert snapshot(reference) == before
    assert stored_files() == files


def test_unknown_action_is_refused(desk):
    reference = desk.new_request()
    before = snapshot(reference)

    for action in ("refuse_incomplete", "withdraw", "provide_documents", "teleport"):
        response = staff_act(desk.as_employee(), reference, action)
        assert response.status_code == 422, action
        assert "Unknown action." in text(response)
        assert snapshot(reference) == before


def test_employee_returns_a_request_from_approval_to_review_with_a_reason(desk):
    desk.needs_approval()
    reference = desk.bring(desk.new_request(), "in_approval")
    client = desk.as_employee()
    before = snapshot(reference)

    without = staff_act(client, reference, "return_to_review", "")
    assert without.status_code == 422
    assert "Give a reason." in text(without)
    assert snapshot(reference) == before

    assert staff_act(client, reference, "return_to_review", "Check the plan").status_code == 302
    assert snapshot(reference)["state"] == "in_review"
    assert event_kinds(reference)[-1] == "return_to_review"


def test_every_transition_is_an_event_with_who_and_from_which_state(desk):
    reference = desk.bring(desk.new_request(), "approved")

    events = db.session.scalars(
        sa.select(Event)
        .join(ServiceRequest)
        .where(ServiceRequest.reference == reference, Event.to_state.is_not(None))
        .order_by(Event.id)
    ).all()

    assert [(e.kind, e.from_state, e.to_state) for e in events] == [
        ("submitted", None, "submitted"),
        ("accept_documents", "submitted", "in_review"),
        ("approve", "in_review", "approved"),
    ]
    assert events[0].actor_id == desk.applicant.id
    assert {e.actor_id for e in events[1:]} == {desk.employee.id}


# --- the table itself ------------------------------------------------------------------

ACTOR_FOR = {
    frozenset({Role.APPLICANT}): Role.APPLICANT,
    frozenset({Role.STAFF, Role.HEAD}): Role.STAFF,
    frozenset({Role.STAFF, Role.HEAD, Role.SUPERVISOR}): Role.STAFF,  # approvers
    frozenset(): None,
}
NOT_IN_TABLE = [
    (action, state)
    for action, state in itertools.product(lifecycle.TRANSITIONS, State)
    if state not in lifecycle.TRANSITIONS[action].sources
]
IN_TABLE = [
    (action, state)
    for action, state in itertools.product(lifecycle.TRANSITIONS, State)
    if state in lifecycle.TRANSITIONS[action].sources
]


def person(role):
    return None if role is None else types.SimpleNamespace(role=role)


@pytest.mark.parametrize(("action", "state"), NOT_IN_TABLE)
def test_a_move_not_in_the_table_is_refused(action, state):
    request = ServiceRequest(state=state)
    actor = person(ACTOR_FOR[lifecycle.TRANSITIONS[action].actors])

    assert not lifecycle.is_allowed(request, action)
    with pytest.raises(lifecycle.TransitionRefused) as refused:
        lifecycle.apply(request, action, actor)

    assert "not possible while the request is" in str(refused.value)
    assert request.state == state
    assert request.events == []


def test_every_final_state_is_a_dead_end():
    for action, transition in lifecycle.TRANSITIONS.items():
        assert not (transition.sources & FINAL_STATES), action
    assert {t.target for t in lifecycle.TRANSITIONS.values()} >= FINAL_STATES


@pytest.mark.parametrize(("action", "state"), IN_TABLE)
def test_a_move_in_the_table_changes_state_and_writes_its_event(app, action, state):
    transition = lifecycle.TRANSITIONS[action]
    role = ACTOR_FOR[transition.actors]
    actor = User(role=role, full_name="Someone") if role else None
    request = ServiceRequest(state=state)
    try:
        event = lifecycle.apply(request, action, actor)

        assert request.state == transition.target
        assert (event.kind, event.from_state, event.to_state) == (action, state, transition.target)
        assert event.actor is actor
        assert event in db.session.new  # in the same transaction as the move
    finally:
        db.session.rollback()


@pytest.mark.parametrize(
    ("action", "role"),
    [
        ("approve", Role.APPLICANT),
        ("approve", Role.SUPERVISOR),
        ("withdraw", Role.STAFF),
        ("withdraw", Role.HEAD),
        ("provide_documents", Role.STAFF),
        ("refuse_incomplete", Role.HEAD),
        ("refuse_incomplete", Role.APPLICANT),
    ],
)
def test_a_move_by_the_wrong_kind_of_person_is_refused(action, role):
    state = next(iter(lifecycle.TRANSITIONS[action].sources))
    request = ServiceRequest(state=state)

    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.apply(request, action, person(role))

    assert request.state == state


def test_a_person_is_needed_for_moves_people_make():
    request = ServiceRequest(state=State.IN_APPROVAL)

    with pytest.raises(lifecycle.TransitionRefused, match="needs a person"):
        lifecycle.apply(request, "approve", None)

    assert request.state == State.IN_APPROVAL


def test_unknown_action_is_refused_by_the_table():
    request = ServiceRequest(state=State.SUBMITTED)

    with pytest.raises(lifecycle.TransitionRefused, match="Unknown action"):
        lifecycle.apply(request, "teleport", person(Role.STAFF))


# --- the event log ---------------------------------------------------------------------


def test_events_cannot_be_changed(desk):
    reference = desk.new_request()
    kinds = event_kinds(reference)
    event = db.session.scalars(sa.select(Event).order_by(Event.id)).first()

    event.kind = "approve"
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()

    event.payload = {"rewritten": True}
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()

    assert event_kinds(reference) == kinds


def test_events_cannot_be_deleted(desk):
    reference = desk.new_request()
    kinds = event_kinds(reference)
    event = db.session.scalars(sa.select(Event).order_by(Event.id)).first()

    db.session.delete(event)
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()

    assert event_kinds(reference) == kinds
