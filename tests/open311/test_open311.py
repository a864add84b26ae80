"""Civic tools use Open311 GeoReport v2: discovery, services, requests, tokens; JSON and XML.

Every JSON answer is validated against the GeoReport v2 schemas (see README.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.models import ServiceRequest
from portal.services import tokens
from tests.helpers import counts, fresh
from tests.open311.support import json_of, validate, xml

BASE = "/open311/v2"
ALMATY = ZoneInfo("Asia/Almaty")
MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=ALMATY)


def _key(user) -> str:
    return tokens.create(user, "open311")[1]


def _errors(response, status: int) -> list[dict]:
    assert response.status_code == status, response.get_data(as_text=True)
    if response.mimetype == "text/xml":
        root = xml(response)
        assert root.tag == "errors"
        return [
            {"code": int(e.findtext("code")), "description": e.findtext("description")}
            for e in root.findall("error")
        ]
    body = json_of(response)
    assert isinstance(body, list) and body
    for item in body:
        assert set(item) == {"code", "description"} and item["description"]
    assert body[0]["code"] == status
    return body


# --- discovery and services ------------------------------------------------------------


def test_discovery_names_the_endpoint_and_its_formats(client):
    body = json_of(client.get(f"{BASE}/discovery.json"))
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}

    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert set(formats) == {"application/json", "text/xml"}


def test_services_list_follows_the_schema(client, world):
    body = json_of(client.get(f"{BASE}/services.json"))

    validate(body, "services.json")
    by_code = {s["service_code"]: s for s in body}
    assert set(by_code) == {"shop_permit", "trade_notice", "bus_route"}
    assert by_code["shop_permit"]["metadata"] is True  # it has attributes: its documents
    assert by_code["trade_notice"]["metadata"] is False
    assert by_code["shop_permit"]["group"] == world.licensing.name_en  # English by default
    assert by_code["shop_permit"]["type"] == "batch"


def test_services_list_in_xml_and_in_the_callers_language(client, world):
    root = xml(client.get(f"{BASE}/services.xml", headers={"Accept-Language": "en"}))
    assert root.tag == "services"
    services = root.findall("service")
    assert len(services) == 3
    permit = next(s for s in services if s.findtext("service_code") == "shop_permit")
    assert permit.findtext("metadata") == "true"
    assert permit.findtext("service_name") == world.permit.title_en
    assert permit.findtext("group") == world.licensing.name_en


def test_service_definition_lists_required_documents_as_attributes(client, world):
    body = json_of(client.get(f"{BASE}/services/shop_permit.json"))

    validate(body, "service-definition.json")
    assert body["service_code"] == "shop_permit"
    attributes = body["attributes"]
    assert [a["code"] for a in attributes] == ["charter", "registry_extract"]
    assert [a["order"] for a in attributes] == [1, 2]
    assert all(a["required"] and not a["variable"] for a in attributes)
    assert "/api/v1/requests" in attributes[0]["datatype_description"]

    root = xml(client.get(f"{BASE}/services/shop_permit.xml"))
    assert root.tag == "service_definition"
    assert [a.findtext("code") for a in root.findall("attributes/attribute")] == [
        "charter",
        "registry_extract",
    ]
    assert root.findtext("attributes/attribute/variable") == "false"

    assert json_of(client.get(f"{BASE}/services/trade_notice.json"))["attributes"] == []


def test_unknown_service_is_404_in_the_specs_error_format(client, world):
    assert _errors(client.get(f"{BASE}/services/nope.json"), 404)[0]["code"] == 404
    assert _errors(client.get(f"{BASE}/services/nope.xml"), 404)[0]["code"] == 404


# --- reading requests ------------------------------------------------------------------


@pytest.fixture
def requests_made(api, world, travel):
    """Daulet's shop permit (in review) and notice (approved), Saule's bus permit."""
    travel(MONDAY_MORNING)
    daulet, saule = api(world.daulet), api(world.saule)
    permit = daulet.submitted(world.permit, description="Shop at Abay 10")
    notice = daulet.submitted(world.notice, description="Opening hours change")
    bus = saule.submitted(world.bus_permit, description="Route 12")
    head = api(world.head)
    head.act(permit, "accept_documents")
    head.act(notice, "accept_documents")
    head.act(notice, "approve")
    return {"permit": permit, "notice": notice, "bus": bus}


def test_requests_map_our_fields_to_georeport(client, world, requests_made, travel):
    travel(MONDAY_MORNING + timedelta(hours=1))
    body = json_of(client.get(f"{BASE}/requests.json"))

    validate(body, "requests.json")
    by_id = {r["service_request_id"]: r for r in body}
    assert set(by_id) == set(requests_made.values())
    permit = by_id[requests_made["permit"]]
    stored = fresh(ServiceRequest, reference=requests_made["permit"])
    assert permit["status"] == "open"
    assert permit["service_code"] == "shop_permit"
    assert permit["agency_responsible"] == world.licensing.name_en
    assert datetime.fromisoformat(permit["expected_datetime"]) == stored.due_at
    assert permit["expected_datetime"].endswith("+05:00")  # the administration's zone
    assert datetime.fromisoformat(permit["requested_datetime"]) == stored.submitted_at
    assert datetime.fromisoformat(permit["updated_datetime"]) == stored.updated_at
    for location in ("address", "address_id", "zipcode", "lat", "long", "media_url"):
        assert permit[location] is None
    assert by_id[requests_made["notice"]]["status"] == "closed"


def test_without_a_key_only_public_fields_are_shown(client, requests_made):
    public = json_of(client.get(f"{BASE}/requests/{requests_made['permit']}.json"))
    assert public[0]["description"] is None

    with_key = client.get(
        f"{BASE}/requests/{requests_made['permit']}.json",
        query_string={"api_key": _key(fresh_user(requests_made["permit"]))},
    )
    body = json_of(with_key)
    validate(body, "requests.json")
    assert body[0]["description"] == "Shop at Abay 10"


def fresh_user(reference):
    return fresh(ServiceRequest, reference=reference).applicant


def test_with_a_key_the_same_access_rules_apply(client, world, requests_made):
    daulet = _key(world.daulet)
    mine = json_of(client.get(f"{BASE}/requests.json", query_string={"api_key": daulet}))
    assert {r["service_request_id"] for r in mine} == {
        requests_made["permit"],
        requests_made["notice"],
    }
    theirs = client.get(f"{BASE}/requests/{requests_made['bus']}.json?api_key={daulet}")
    _errors(theirs, 404)

    ruslan = _key(world.ruslan)  # transport department: sees the bus permit only
    department = json_of(client.get(f"{BASE}/requests.json", query_string={"api_key": ruslan}))
    assert [r["service_request_id"] for r in department] == [requests_made["bus"]]


def test_requests_filters(client, requests_made):
    def ids(**query):
        body = json_of(client.get(f"{BASE}/requests.json", query_string=query))
        validate(body, "requests.json")
        return {r["service_request_id"] for r in body}

    permit, notice, bus = requests_made["permit"], requests_made["notice"], requests_made["bus"]
    assert ids(service_request_id=f"{permit},{bus}") == {permit, bus}
    # With ids, the other filters are ignored (as the specification says).
    assert ids(service_request_id=permit, status="closed") == {permit}
    assert ids(service_code="shop_permit") == {permit}
    assert ids(service_code="shop_permit,bus_route") == {permit, bus}
    assert ids(status="open") == {permit, bus}
    assert ids(status="closed") == {notice}
    assert ids(status="open,closed") == {permit, notice, bus}
    assert ids(start_date="2026-03-02T00:00:00+05:00", end_date="2026-03-02T23:59:59+05:00") == {
        permit,
        notice,
        bus,
    }
    assert ids(start_date="2026-03-03T00:00:00Z") == set()
    assert ids(end_date="2026-03-01T00:00:00") == set()


def test_requests_default_to_the_last_90_days(client, requests_made, travel):
    travel(MONDAY_MORNING + timedelta(days=91))
    assert json_of(client.get(f"{BASE}/requests.json")) == []
    assert len(json_of(client.get(f"{BASE}/requests.json?start_date=2026-01-01"))) == 3


def test_requests_in_xml(client, requests_made):
    root = xml(client.get(f"{BASE}/requests/{requests_made['notice']}.xml"))
    assert root.tag == "service_requests"
    request = root.find("request")
    assert request.findtext("service_request_id") == requests_made["notice"]
    assert request.findtext("status") == "closed"
    assert request.find("lat") is not None and request.findtext("lat") == ""  # empty
    assert datetime.fromisoformat(request.findtext("expected_datetime")).tzinfo is not None
    listing = xml(client.get(f"{BASE}/requests.xml"))
    assert len(listing.findall("request")) == 3


def test_bad_filters_and_keys_answer_in_the_specs_error_format(client, world, requests_made):
    _errors(client.get(f"{BASE}/requests.json?start_date=yesterday"), 400)
    _errors(client.get(f"{BASE}/requests.json?start_date=0001-01-01T00:00:00%2B05:00"), 400)
    _errors(client.get(f"{BASE}/requests.json?end_date=2026-13-45"), 400)
    _errors(client.get(f"{BASE}/requests.xml?status=pending"), 400)
    _errors(client.get(f"{BASE}/requests.json?start_date=2026-03-05&end_date=2026-03-01"), 400)
    _errors(client.get(f"{BASE}/requests.json?api_key=mld_wrong"), 403)
    _errors(client.get(f"{BASE}/requests/SHY-2026-999999.json"), 404)
    _errors(client.get(f"{BASE}/requests/SHY-2026-999999.xml"), 404)
    _errors(client.get(f"{BASE}/nothing.json"), 404)
    assert _errors(client.get(f"{BASE}/nothing.xml"), 404)[0]["code"] == 404
    _errors(client.delete(f"{BASE}/services.json"), 405)
    _errors(client.get(f"{BASE}/services.json?x=%00"), 400)


def test_tokens_resolve_to_the_request(client, requests_made):
    reference = requests_made["permit"]
    body = json_of(client.get(f"{BASE}/tokens/{reference}.json"))
    assert body == [{"service_request_id": reference, "token": reference}]
    root = xml(client.get(f"{BASE}/tokens/{reference}.xml"))
    assert root.findtext("request/token") == reference
    _errors(client.get(f"{BASE}/tokens/nope.json"), 404)


# --- creating requests -----------------------------------------------------------------


def test_applicant_creates_a_request_with_an_api_key(client, world, travel):
    travel(MONDAY_MORNING)
    response = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": _key(world.daulet),
            "service_code": "trade_notice",
            "description": "We change our opening hours",
            "lat": "",
            "email": "ignored@example.kz",
        },
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    body = json_of(response)
    reference = body[0]["service_request_id"]
    assert response.headers["Location"].endswith(f"/open311/v2/requests/{reference}.json")
    stored = fresh(ServiceRequest, reference=reference)
    assert stored.applicant_id == world.daulet.id and stored.state == "submitted"
    assert stored.assignee.full_name in body[0]["service_notice"]

    read = json_of(client.get(f"{BASE}/requests/{reference}.json"))
    validate(read, "requests.json")
    assert datetime.fromisoformat(read[0]["expected_datetime"]) == stored.due_at


def test_creating_in_xml(client, world):
    response = client.post(
        f"{BASE}/requests.xml",
        data={"api_key": _key(world.daulet), "service_code": "trade_notice", "description": "x"},
    )
    assert response.status_code == 201
    assert xml(response).findtext("request/service_request_id").startswith("SHY-")


def test_creating_needs_an_applicants_valid_key(client, world):
    data = {"service_code": "trade_notice", "description": "x"}
    assert (
        "api_key" in _errors(client.post(f"{BASE}/requests.json", data=data), 403)[0]["description"]
    )
    _errors(client.post(f"{BASE}/requests.json", data={**data, "api_key": "mld_nope"}), 403)
    token, secret = tokens.create(world.daulet, "revoked")
    tokens.revoke(world.daulet, token.id)
    _errors(client.post(f"{BASE}/requests.xml", data={**data, "api_key": secret}), 403)
    staff = _key(world.aigerim)
    _errors(client.post(f"{BASE}/requests.json", data={**data, "api_key": staff}), 403)
    assert counts()["ServiceRequest"] == 0


def test_a_service_that_needs_documents_points_to_the_json_api(client, world):
    response = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": _key(world.daulet),
            "service_code": "shop_permit",
            "description": "Shop at Abay 10",
        },
    )
    description = _errors(response, 400)[0]["description"]
    assert "/api/v1/requests" in description and "charter" in description
    assert counts()["ServiceRequest"] == 0


def test_bad_posts_are_400(client, world):
    key = _key(world.daulet)
    _errors(client.post(f"{BASE}/requests.json", data={"api_key": key}), 400)
    _errors(
        client.post(
            f"{BASE}/requests.json",
            data={"api_key": key, "service_code": "nope", "description": "x"},
        ),
        400,
    )
    _errors(
        client.post(
            f"{BASE}/requests.json",
            data={"api_key": key, "service_code": "trade_notice", "description": " "},
        ),
        400,
    )
    unknown = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": key,
            "service_code": "trade_notice",
            "description": "x",
            "attribute[colour]": "red",
        },
    )
    assert "colour" in _errors(unknown, 400)[0]["description"]
    attached = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": key,
            "service_code": "shop_permit",
            "description": "x",
            "attribute[charter]": "a file?",
        },
    )
    assert "/api/v1/requests" in _errors(attached, 400)[0]["description"]
    assert counts()["ServiceRequest"] == 0


def test_open311_is_rate_limited_too(client, app, world):
    app.config["API_IP_RATE_LIMIT"] = "2 per minute"
    assert client.get(f"{BASE}/services.json").status_code == 200
    assert client.get(f"{BASE}/services.json").status_code == 200
    _errors(client.get(f"{BASE}/services.xml"), 429)


def test_no_session_or_csrf_needed(client, world):
    # A civic tool posts a plain form: no CSRF token, no cookie.
    response = client.post(
        f"{BASE}/requests.json",
        data={"api_key": _key(world.daulet), "service_code": "trade_notice", "description": "x"},
    )
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
