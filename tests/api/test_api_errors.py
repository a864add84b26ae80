"""Bad input gets a JSON error with the right 4xx, never a 500 or an HTML page."""

from __future__ import annotations

import io

from tests.api.support import assert_error
from tests.helpers import pdf


def test_unknown_paths_and_methods_answer_in_json(api, world):
    client = api(world.daulet)
    assert_error(client.get("/nothing/here"), 404, "not_found")
    assert_error(client.get("/services/no-such-service"), 404, "not_found")
    assert_error(client.get("/requests/SHY-2026-999999"), 404, "not_found")
    wrong_method = client.client.delete("/api/v1/services")
    assert_error(wrong_method, 405, "method_not_allowed")
    assert "GET" in wrong_method.headers["Allow"]


def test_bad_pagination_is_400_naming_the_parameter(api, world):
    client = api(world.daulet)
    for query in ("page=0", "page=abc", "per_page=101", "per_page=-1"):
        error = assert_error(client.get(f"/services?{query}"), 400, "bad_request")
        assert list(error["fields"]) == [query.split("=")[0]]
    assert list(assert_error(client.get("/requests?state=lost"), 400)["fields"]) == ["state"]


def test_a_body_over_the_ceiling_is_413(api, world, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    data = {
        "service_code": world.notice.code,
        "description": "x",
        "doc_1": (io.BytesIO(pdf() + b"0" * 4096), "a.pdf"),
    }
    response = api(world.daulet).post("/requests", data=data, content_type="multipart/form-data")
    assert_error(response, 413, "too_large")


def test_nul_characters_are_400_in_json(api, world):
    assert_error(api(world.daulet).get("/services?page=1%00"), 400)
    assert_error(api(world.daulet).get("/services/a%00b"), 400)


def test_rate_limit_per_token_answers_429_in_json(api, world, app):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    client = api(world.daulet)
    statuses = [client.get("/me").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = client.get("/me")
    assert_error(limited, 429, "rate_limited")
    assert "Retry-After" in limited.headers
    # Another token is counted on its own.
    assert api(world.saule).get("/me").status_code == 200


def test_rate_limit_per_address(api, world, app):
    app.config["API_IP_RATE_LIMIT"] = "2 per minute"
    assert api(world.daulet).get("/me").status_code == 200
    assert api(world.saule).get("/me").status_code == 200
    assert_error(api(world.aigerim).get("/me"), 429)
    other_address = api(world.aigerim).get("/me", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other_address.status_code == 200


def test_messages_follow_accept_language(api, world):
    english = api(None).get("/me").get_json()["error"]["message"]
    russian = api(None).get("/me", headers={"Accept-Language": "ru"}).get_json()
    assert english.startswith("Send your API token")
    assert russian["error"]["message"] != english


def test_a_misspelt_query_parameter_is_named(api, world):
    error = assert_error(api(world.daulet).get("/services?perpage=5"), 400, "bad_request")
    assert list(error["fields"]) == ["perpage"]


def test_nul_characters_inside_json_are_400(api, world):
    reference = api(world.daulet).submitted(world.notice)
    head = api(world.head)
    bad = head.act(
        reference, "request_documents", items=[{"document_type": "a\x00", "reason": "x"}]
    )
    assert_error(bad, 400)
    assert_error(head.act(reference, "reject", reason="no\x00"), 400)
