"""Staff and heads over the API: queues, a request, and the same state machine."""

from __future__ import annotations

from portal.extensions import db
from portal.models import ServiceRequest
from tests.api.support import assert_error
from tests.helpers import event_kinds, fresh, snapshot


def _submitted_to(api, world, assignee, service=None):
    reference = api(world.daulet).submitted(service or world.permit)
    request = fresh(ServiceRequest, reference=reference)
    request.assignee = assignee
    db.session.commit()
    return reference


def test_staff_sees_their_queue_and_the_department_queue(api, world):
    mine = _submitted_to(api, world, world.aigerim)
    theirs = _submitted_to(api, world, world.daniyar)
    other_department = api(world.saule).submitted(world.bus_permit)

    aigerim = api(world.aigerim)
    queue = aigerim.get("/queue").get_json()
    assert [r["reference"] for r in queue["items"]] == [mine]
    assert queue["items"][0]["accountable_employee"]["name"] == "Aigerim Staff"
    department = aigerim.get("/queue/department").get_json()
    assert {r["reference"] for r in department["items"]} == {mine, theirs}
    assert department["total"] == 2
    assert other_department not in {r["reference"] for r in department["items"]}

    head = api(world.head).get("/queue/department?per_page=1").get_json()
    assert (head["total"], head["pages"], len(head["items"])) == (2, 2, 1)


def test_staff_of_another_department_finds_nothing(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    ruslan = api(world.ruslan)

    assert_error(ruslan.get(f"/requests/{reference}"), 404, "not_found")
    assert_error(ruslan.act(reference, "accept_documents"), 404)
    assert snapshot(reference)["state"] == "submitted"


def test_employee_works_a_request_through_to_approval(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    aigerim = api(world.aigerim)

    detail = aigerim.get(f"/requests/{reference}").get_json()
    assert detail["allowed_actions"] == ["accept_documents", "request_documents", "reject"]
    for action, state in (
        ("accept_documents", "in_review"),
        ("approve", "approved"),  # no one signs this service off
    ):
        response = aigerim.act(reference, action)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["state"] == state
    body = response.get_json()
    assert body["decided_at"] is not None
    assert body["time_left"]["working_seconds"] is None
    assert event_kinds(reference)[-2:] == ["approve", "clock_stopped"]


def test_sending_to_approval_with_no_one_to_approve_is_a_409(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    aigerim = api(world.aigerim)
    reviewed = aigerim.act(reference, "accept_documents").get_json()
    assert reviewed["allowed_actions"] == ["request_documents", "approve", "reject"]
    before = snapshot(reference)

    error = assert_error(aigerim.act(reference, "send_to_approval"), 409, "conflict")

    assert "No one signs off this service" in error["message"]
    assert snapshot(reference) == before


def test_an_illegal_transition_is_409_and_changes_nothing(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    before = snapshot(reference)

    error = assert_error(api(world.aigerim).act(reference, "approve"), 409, "conflict")
    assert "submitted" in error["message"]
    assert snapshot(reference) == before


def test_rejecting_needs_a_reason(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    aigerim = api(world.aigerim)

    error = assert_error(aigerim.act(reference, "reject"), 422)
    assert list(error["fields"]) == ["reason"]
    response = aigerim.act(reference, "reject", reason="The premises are residential")
    assert response.get_json()["state"] == "rejected"
    assert response.get_json()["decision_reason"] == "The premises are residential"


def test_only_the_accountable_employee_or_the_head_acts(api, world):
    reference = _submitted_to(api, world, world.aigerim)

    assert_error(api(world.daniyar).act(reference, "accept_documents"), 403, "forbidden")
    assert api(world.daniyar).get(f"/requests/{reference}").get_json()["allowed_actions"] == []
    response = api(world.head).act(reference, "accept_documents")
    assert response.get_json()["state"] == "in_review"


def test_asking_for_documents_needs_items_with_reasons(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    aigerim = api(world.aigerim)

    assert list(assert_error(aigerim.act(reference, "request_documents"), 422)["fields"]) == [
        "items"
    ]
    unknown = aigerim.act(
        reference, "request_documents", items=[{"document_type": "passport", "reason": "x"}]
    )
    assert_error(unknown, 422)
    no_reason = aigerim.act(
        reference, "request_documents", items=[{"document_type": "charter", "reason": " "}]
    )
    assert_error(no_reason, 422)
    assert snapshot(reference)["asks"] == []

    asked = aigerim.act(
        reference,
        "request_documents",
        items=[{"document_type": "charter", "reason": "Unsigned"}],
        note="Please sign page 2",
    )
    assert asked.status_code == 200
    assert asked.get_json()["open_document_request"]["reason"] == "Please sign page 2"
    twice = aigerim.act(
        reference, "request_documents", items=[{"document_type": "charter", "reason": "Again"}]
    )
    assert_error(twice, 409, "conflict")


def test_unknown_actions_and_bad_bodies_are_refused(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    aigerim = api(world.aigerim)

    assert list(assert_error(aigerim.act(reference, "teleport"), 422)["fields"]) == ["action"]
    assert_error(aigerim.act(reference, "withdraw"), 422)  # an applicant's move
    malformed = aigerim.post(
        f"/requests/{reference}/actions", data="{not json", content_type="application/json"
    )
    assert_error(malformed, 400, "malformed_json")
    as_form = aigerim.post(f"/requests/{reference}/actions", data={"action": "approve"})
    assert_error(as_form, 415)
    a_list = aigerim.post(f"/requests/{reference}/actions", json=["approve"])
    assert_error(a_list, 422)
    assert snapshot(reference)["state"] == "submitted"


def test_staff_may_not_submit_or_withdraw(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    aigerim = api(world.aigerim)
    assert_error(aigerim.submit(world.notice), 403, "forbidden")
    assert_error(aigerim.post(f"/requests/{reference}/withdraw", json={}), 403)


def test_supervisor_reads_every_request_but_works_no_queue(api, world):
    first = _submitted_to(api, world, world.aigerim)
    second = api(world.saule).submitted(world.bus_permit)
    supervisor = api(world.supervisor)

    listed = supervisor.get("/requests").get_json()
    assert {r["reference"] for r in listed["items"]} == {first, second}
    assert supervisor.get(f"/requests/{second}").get_json()["allowed_actions"] == []
    assert_error(supervisor.get("/queue"), 403)
    assert_error(supervisor.act(first, "approve"), 403)


def test_a_body_off_the_declared_schema_is_422_naming_the_field(api, world):
    reference = _submitted_to(api, world, world.aigerim)
    response = api(world.aigerim).act(
        reference, "accept_documents", items=[{"document_type": "charter", "reason": True}]
    )
    assert list(assert_error(response, 422, "invalid")["fields"]) == ["items.0.reason"]
    assert snapshot(reference)["state"] == "submitted"
