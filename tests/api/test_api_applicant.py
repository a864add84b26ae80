"""An applicant's own system, over the API: catalogue, submit, follow, answer, withdraw."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from portal.models import ServiceRequest
from tests.api.support import assert_error
from tests.helpers import counts, fresh, pdf, snapshot, stored_files

ALMATY = ZoneInfo("Asia/Almaty")
MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=ALMATY)


def test_applicant_reads_the_catalogue_with_documents_and_targets(api, world):
    response = api(world.daulet).get("/services")

    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 3 and body["page"] == 1 and body["pages"] == 1
    permit = next(s for s in body["items"] if s["code"] == "shop_permit")
    assert permit["target_days"] == 5
    assert permit["waiting_policy"] == "pause"
    assert permit["department"] == {"code": "LIC", "name": world.licensing.name_en}
    assert [d["code"] for d in permit["required_documents"]] == ["charter", "registry_extract"]
    assert permit["required_documents"][0]["field"] == f"doc_{world.charter.id}"

    one = api(world.daulet).get("/services/shop_permit").get_json()
    assert one == permit


def test_catalogue_is_paginated_with_totals(api, world):
    client = api(world.daulet)
    first = client.get("/services?per_page=2").get_json()
    second = client.get("/services?per_page=2&page=2").get_json()

    assert (first["total"], first["pages"], len(first["items"])) == (3, 2, 2)
    assert (second["page"], len(second["items"])) == (2, 1)
    codes = [s["code"] for s in first["items"] + second["items"]]
    assert sorted(codes) == codes and len(set(codes)) == 3
    beyond = client.get("/services?page=9").get_json()
    assert beyond["items"] == [] and beyond["total"] == 3


def test_applicant_submits_with_documents_and_sees_who_is_accountable(api, world, travel):
    travel(MONDAY_MORNING)
    response = api(world.daulet).submit(world.permit)

    assert response.status_code == 201
    body = response.get_json()
    reference = body["reference"]
    assert response.headers["Location"] == f"/api/v1/requests/{reference}"
    assert body["state"] == "submitted"
    assert body["accountable_employee"]["name"] in ("Aigerim Staff", "Daniyar Staff")
    assert body["due_at"] == fresh(ServiceRequest, reference=reference).due_at.isoformat()
    assert body["time_left"] == {
        "working_seconds": (5 * 9 + 8) * 3600,  # due at close of office, day 5 after today
        "paused": False,
        "text": "5 working days 8 h",
    }
    assert body["waiting_policy"] == "pause"
    assert body["open_document_request"] is None
    assert [d["document_type"]["code"] for d in body["documents"]] == [
        "charter",
        "registry_extract",
    ]
    assert [e["kind"] for e in body["timeline"]] == ["submitted", "assigned", "clock_started"]
    assert body["allowed_actions"] == ["withdraw"]
    assert snapshot(reference)["documents"] == 2


def test_a_service_with_no_documents_needs_only_a_description(api, world):
    response = api(world.daulet).submit(world.notice, description="We open on Monday")
    assert response.status_code == 201
    assert response.get_json()["documents"] == []


def test_a_missing_document_is_named_and_nothing_is_stored(api, world):
    response = api(world.daulet).submit(world.permit, files={f"doc_{world.registry.id}": ""})

    error = assert_error(response, 422, "missing")
    assert list(error["fields"]) == [f"doc_{world.registry.id}"]
    assert counts()["ServiceRequest"] == 0
    assert stored_files() == []


def test_a_bad_upload_is_refused_with_the_field(api, world):
    fake = (io.BytesIO(b"MZ\x90\x00 not a pdf"), "charter.pdf")
    response = api(world.daulet).submit(world.permit, files={f"doc_{world.charter.id}": fake})

    error = assert_error(response, 422, "bad_type")
    assert list(error["fields"]) == [f"doc_{world.charter.id}"]
    assert counts()["ServiceRequest"] == 0


def test_a_file_over_the_limit_is_413(api, world):
    big = (io.BytesIO(pdf() + b"0" * 300 * 1024), "charter.pdf")
    response = api(world.daulet).submit(world.permit, files={f"doc_{world.charter.id}": big})
    assert_error(response, 413, "too_large")


def test_submitting_needs_a_description_and_a_known_service(api, world):
    client = api(world.daulet)
    assert assert_error(client.submit(world.notice, description="  "), 422)["fields"] == {
        "description": "Describe your request."
    }
    unknown = client.post(
        "/requests",
        data={"service_code": "nope", "description": "x"},
        content_type="multipart/form-data",
    )
    assert list(assert_error(unknown, 422)["fields"]) == ["service_code"]


def test_submitting_as_json_is_415(api, world):
    response = api(world.daulet).post(
        "/requests", json={"service_code": "trade_notice", "description": "x"}
    )
    assert_error(response, 415, "unsupported_media_type")


def test_applicant_lists_only_their_own_requests(api, world):
    daulet, saule = api(world.daulet), api(world.saule)
    mine = [daulet.submitted(world.notice, description=f"Notice {n}") for n in range(3)]
    theirs = saule.submitted(world.notice)

    listed = daulet.get("/requests").get_json()
    assert listed["total"] == 3
    assert {r["reference"] for r in listed["items"]} == set(mine)
    page = daulet.get("/requests?per_page=2&page=2").get_json()
    assert (page["pages"], len(page["items"])) == (2, 1)
    assert daulet.get("/requests?state=withdrawn").get_json()["total"] == 0
    # Someone else's request does not exist for them.
    assert_error(daulet.get(f"/requests/{theirs}"), 404, "not_found")
    assert_error(daulet.post(f"/requests/{theirs}/withdraw", json={}), 404)


def test_applicant_answers_a_document_request_by_uploading(api, world):
    daulet = api(world.daulet)
    reference = daulet.submitted(world.permit)
    assignee = fresh(ServiceRequest, reference=reference).assignee
    asked = api(assignee).act(
        reference,
        "request_documents",
        items=[{"document_type": "charter", "reason": "The stamp is unreadable"}],
    )
    assert asked.status_code == 200, asked.get_json()

    detail = daulet.get(f"/requests/{reference}").get_json()
    assert detail["state"] == "awaiting_documents"
    assert detail["time_left"]["paused"] is True
    ask = detail["open_document_request"]
    assert ask["items"][0]["reason"] == "The stamp is unreadable"
    assert ask["items"][0]["field"] == f"doc_{world.charter.id}"
    assert ask["reply_by"] is not None
    assert detail["allowed_actions"] == ["provide_documents", "withdraw"]

    bad = daulet.post(
        f"/requests/{reference}/documents",
        data={ask["items"][0]["field"]: (io.BytesIO(b""), "empty.pdf")},
        content_type="multipart/form-data",
    )
    assert_error(bad, 422, "empty")
    missing = daulet.post(
        f"/requests/{reference}/documents", data={}, content_type="multipart/form-data"
    )
    assert_error(missing, 422, "missing")

    answered = daulet.post(
        f"/requests/{reference}/documents",
        data={ask["items"][0]["field"]: (io.BytesIO(pdf("new")), "charter-2.pdf")},
        content_type="multipart/form-data",
    )
    assert answered.status_code == 200, answered.get_json()
    body = answered.get_json()
    assert body["state"] == "in_review"
    assert body["open_document_request"] is None
    assert "provide_documents" in [e["kind"] for e in body["timeline"]]

    again = daulet.post(
        f"/requests/{reference}/documents",
        data={ask["items"][0]["field"]: (io.BytesIO(pdf("x")), "c.pdf")},
        content_type="multipart/form-data",
    )
    assert_error(again, 409, "conflict")


def test_applicant_withdraws_once(api, world):
    daulet = api(world.daulet)
    reference = daulet.submitted(world.notice)

    response = daulet.post(f"/requests/{reference}/withdraw", json={"reason": "Not needed"})
    assert response.status_code == 200
    assert response.get_json()["state"] == "withdrawn"
    assert response.get_json()["allowed_actions"] == []
    assert_error(daulet.post(f"/requests/{reference}/withdraw"), 409, "conflict")


def test_withdraw_reason_must_be_text(api, world):
    daulet = api(world.daulet)
    reference = daulet.submitted(world.notice)
    error = assert_error(daulet.post(f"/requests/{reference}/withdraw", json={"reason": 5}), 422)
    assert list(error["fields"]) == ["reason"]
    assert snapshot(reference)["state"] == "submitted"


def test_applicant_may_not_work_queues_or_act(api, world):
    daulet = api(world.daulet)
    reference = daulet.submitted(world.notice)
    assert_error(daulet.get("/queue"), 403, "forbidden")
    assert_error(daulet.get("/queue/department"), 403, "forbidden")
    assert_error(daulet.act(reference, "approve"), 403, "forbidden")
    assert snapshot(reference)["state"] == "submitted"
