"""Limits that bind through every door: field lengths and the daily storage quota.

One declaration (portal/limits.py) gives a field's length to the form, the API's
OpenAPI document and its checks. The quota counts what a person, and their business
(BIN), stored in the last 24 hours; past it, uploads are refused with a message and
nothing is written, through the form and through the API.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from portal import limits
from portal.api import schemas
from portal.applicant.forms import WithdrawForm, submit_form_for
from portal.extensions import db
from portal.models import BusinessMember, MemberRole, MemberStatus, Role, User
from portal.services import tokens
from tests.conftest import csrf_token
from tests.helpers import counts, sign_in, stored_files, text
from tests.security.corpus import multipart, pdf

MONDAY = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # 10:00 in Almaty
KB = 1024


@pytest.fixture
def office(make, app, travel):
    travel(MONDAY)
    app.config["MAX_UPLOAD_BYTES"] = 2 * 1024 * KB
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * KB
    department = make.department()
    charter = make.document_type("charter")
    service = make.service(department, [charter])
    make.employee(department)
    applicant = make.applicant()
    _token, secret = tokens.create(applicant, "limits")
    return SimpleNamespace(
        service=service, field=f"doc_{charter.id}", applicant=applicant, secret=secret
    )


def padded_pdf(size: int) -> bytes:
    """A real PDF of exactly `size` bytes (a comment pads it)."""
    data = pdf()
    return data + b"%" + b"0" * (size - len(data) - 2) + b"\n"


def api_submit(client, office, description="Please register our shop", data=None, secret=None):
    fields = {"service_code": office.service.code, "description": description}
    body, content_type = multipart(fields, {office.field: (data or pdf(), "charter.pdf")})
    return client.post(
        "/api/v1/requests",
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {secret or office.secret}"},
    )


def form_submit(client, office, description="Please register our shop", data=None):
    path = f"/my/apply/{office.service.code}"
    fields = {"csrf_token": csrf_token(client, path), "description": description}
    body, content_type = multipart(fields, {office.field: (data or pdf(), "charter.pdf")})
    return client.post(path, data=body, content_type=content_type)


# --- field limits --------------------------------------------------------------------------


def test_form_and_api_schema_read_one_declaration(app):
    with app.test_request_context():
        form = submit_form_for([])(meta={"csrf": False})
        withdraw = WithdrawForm(meta={"csrf": False})
    length = next(v for v in form.description.validators if hasattr(v, "max"))
    assert length.max == limits.DESCRIPTION == 4000
    assert schemas.SUBMIT_BODY["properties"]["description"]["maxLength"] == limits.DESCRIPTION
    reason = next(v for v in withdraw.reason.validators if hasattr(v, "max"))
    assert reason.max == schemas.WITHDRAW_BODY["properties"]["reason"]["maxLength"]


def test_openapi_document_states_the_description_limit(client):
    spec = client.get("/api/openapi.json").get_json()
    body = spec["paths"]["/requests"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["properties"]["description"]["maxLength"] == limits.DESCRIPTION


def test_api_refuses_a_description_longer_than_the_form_allows(client, office):
    before = counts()
    response = api_submit(client, office, description="x" * 400_000)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"description": "At most 4000 characters."}
    assert counts() == before and stored_files() == []


def test_api_takes_a_description_at_the_limit(client, office):
    response = api_submit(client, office, description="я" * limits.DESCRIPTION)
    assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["description"]) == limits.DESCRIPTION


def test_form_refuses_the_same_long_description(client, office):
    sign_in(client, office.applicant)
    before = counts()
    response = form_submit(client, office, description="x" * (limits.DESCRIPTION + 1))
    assert response.status_code == 422
    assert "4000" in text(response)
    assert counts() == before and stored_files() == []


def test_api_withdraw_reason_has_the_form_limit(client, office):
    reference = api_submit(client, office).get_json()["reference"]
    response = client.post(
        f"/api/v1/requests/{reference}/withdraw",
        json={"reason": "x" * (limits.WITHDRAW_REASON + 1)},
        headers={"Authorization": f"Bearer {office.secret}"},
    )
    assert response.status_code == 422
    assert "reason" in response.get_json()["error"]["fields"]


# --- the daily storage quota -------------------------------------------------------------


def test_api_refuses_uploads_past_the_daily_quota_and_writes_nothing(app, client, office):
    app.config["UPLOAD_QUOTA_MB_PER_DAY"] = 1
    assert api_submit(client, office, data=padded_pdf(600 * KB)).status_code == 201
    before, files = counts(), stored_files()

    response = api_submit(client, office, data=padded_pdf(600 * KB))

    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["message"] == (
        "You can upload at most 1 MB in 24 hours; these files would pass that. Try again later."
    )
    assert counts() == before and stored_files() == files


def test_quota_frees_up_after_24_hours(app, client, office, travel):
    app.config["UPLOAD_QUOTA_MB_PER_DAY"] = 1
    assert api_submit(client, office, data=padded_pdf(600 * KB)).status_code == 201
    travel(MONDAY + timedelta(hours=23, minutes=59))
    assert api_submit(client, office, data=padded_pdf(600 * KB)).status_code == 429
    travel(MONDAY + timedelta(hours=24, minutes=1))
    assert api_submit(client, office, data=padded_pdf(600 * KB)).status_code == 201


def test_form_says_the_quota_is_used_up(app, client, office):
    app.config["UPLOAD_QUOTA_MB_PER_DAY"] = 1
    sign_in(client, office.applicant)
    assert form_submit(client, office, data=padded_pdf(600 * KB)).status_code == 302
    before, files = counts(), stored_files()

    response = form_submit(client, office, data=padded_pdf(600 * KB))

    assert response.status_code == 422
    errors = re.findall(r'<p class="form-error" role="alert">(.*?)</p>', response.text)
    assert [html.unescape(e) for e in errors] == [
        "You can upload at most 1 MB in 24 hours; these files would pass that. Try again later."
    ]
    assert counts() == before and stored_files() == files


def test_business_quota_counts_every_member(app, client, office):
    app.config["UPLOAD_QUOTA_MB_PER_DAY"] = 100
    app.config["UPLOAD_QUOTA_MB_PER_BUSINESS_PER_DAY"] = 1
    accountant = User(
        email="accountant@firm.test",
        password_hash=office.applicant.password_hash,
        full_name="Accountant",
        role=Role.APPLICANT,
        business_id=office.applicant.business_id,
    )
    db.session.add(accountant)
    db.session.flush()
    # An active member of the same business (accepted by its owner).
    db.session.add(
        BusinessMember(
            business_id=accountant.business_id,
            user_id=accountant.id,
            role=MemberRole.ACCOUNTANT,
            status=MemberStatus.ACTIVE,
        )
    )
    db.session.commit()
    _token, accountant_secret = tokens.create(accountant, "limits")
    assert api_submit(client, office, data=padded_pdf(600 * KB)).status_code == 201
    before = counts()

    response = api_submit(client, office, data=padded_pdf(600 * KB), secret=accountant_secret)

    assert response.status_code == 429
    assert response.get_json()["error"]["message"].startswith(
        "Your business can upload at most 1 MB in 24 hours"
    )
    assert counts() == before


def test_another_business_is_not_held_by_the_quota(app, client, office, make):
    app.config["UPLOAD_QUOTA_MB_PER_DAY"] = 1
    assert api_submit(client, office, data=padded_pdf(600 * KB)).status_code == 201
    other = make.applicant()
    _token, secret = tokens.create(other, "limits")
    assert api_submit(client, office, data=padded_pdf(600 * KB), secret=secret).status_code == 201
