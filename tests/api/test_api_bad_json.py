"""Bad JSON, broken text and races get a 4xx with a message in the API's envelope; even an
unforeseen failure on an API path is a JSON 500, never an HTML page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Business, Event, ServiceRequest, User
from portal.services import accounts
from tests.api.support import assert_error
from tests.conftest import PASSWORD, csrf_token
from tests.helpers import VALID_BIN, pdf, text

LONE_SURROGATE = '"\\ud800 broken"'  # JSON's escape for half of a UTF-16 pair
CESU_SURROGATE = b"\xed\xa0\x80"  # the same half, as raw bytes (not valid UTF-8)


def _raw_json(api_client, path: str, raw: str | bytes):
    return api_client.client.post(
        "/api/v1" + path,
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_client.secret}"},
    )


def _counts():
    return {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (ServiceRequest, Event, User, Business)
    }


@pytest.mark.parametrize(
    "body",
    [
        '{"action": "reject", "reason": BROKEN}',
        '{"action": "approve", "note": BROKEN}',
        '{"action": "request_documents", "items": [{"document_type": "x", "reason": BROKEN}]}',
        '{BROKEN: "a key"}',
        '{"action": BROKEN}',
    ],
)
def test_a_lone_surrogate_in_any_json_text_is_400(api, world, body):
    reference = api(world.daulet).submitted(world.notice)
    before = _counts()
    body = body.replace("BROKEN", LONE_SURROGATE)
    error = assert_error(_raw_json(api(world.head), f"/requests/{reference}/actions", body), 400)
    assert error["code"] == "invalid_text"
    assert "surrogate" in error["message"]
    assert _counts() == before


def test_a_lone_surrogate_in_a_withdrawal_reason_is_400(api, world):
    applicant = api(world.daulet)
    reference = applicant.submitted(world.notice)
    body = '{"reason": ' + LONE_SURROGATE + "}"
    error = assert_error(_raw_json(applicant, f"/requests/{reference}/withdraw", body), 400)
    assert error["code"] == "invalid_text"
    assert applicant.get(f"/requests/{reference}").get_json()["state"] == "submitted"


@pytest.mark.parametrize("depth", [33, 200, 5000, 100_000])
def test_json_nested_too_deeply_is_400(api, world, depth):
    reference = api(world.daulet).submitted(world.notice)
    before = _counts()
    nested = '{"action": "reject", "reason": ' + "[" * depth + "]" * depth + "}"
    error = assert_error(_raw_json(api(world.head), f"/requests/{reference}/actions", nested), 400)
    assert error["code"] == "too_deep"
    assert "32" in error["message"]
    assert _counts() == before


def test_json_at_the_depth_we_use_is_read(api, world):
    reference = api(world.daulet).submitted(world.notice)
    body = '{"action": "request_documents", "items": [{"document_type": "charter", "reason": "x"}]}'
    assert _raw_json(api(world.head), f"/requests/{reference}/actions", body).status_code == 200


def _multipart(fields: dict[str, bytes]) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (name.encode(), value)
        )
    return b"".join(parts) + b"--B--\r\n"


@pytest.mark.parametrize("field", ["service_code", "description", "carry_from"])
def test_broken_text_in_each_field_of_a_submission_is_never_a_500(api, world, client, field):
    applicant = api(world.daulet)
    fields = {"service_code": world.notice.code.encode(), "description": b"Please register"}
    fields[field] = fields.get(field, b"SHY-2026-000001") + CESU_SURROGATE
    before = _counts()
    response = client.post(
        "/api/v1/requests",
        data=_multipart(fields),
        content_type="multipart/form-data; boundary=B",
        headers={"Authorization": f"Bearer {applicant.secret}"},
    )
    if field == "description":
        # Not valid UTF-8: read with the replacement character, as any form is.
        assert response.status_code == 201, response.get_data(as_text=True)
        assert "\ufffd" in response.get_json()["description"]
    else:
        # No such service; no such request to carry documents from.
        assert_error(response, 422 if field == "service_code" else 404)
        assert _counts() == before


def test_broken_text_in_a_file_name_is_never_a_500(api, world, client):
    applicant = api(world.daulet)
    body = _multipart({"service_code": world.permit.code.encode(), "description": b"x"})
    files = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="doc_%d"; filename="scan%s.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%s\r\n" % (doc.id, CESU_SURROGATE, pdf(doc.code))
        for doc in world.permit.required_documents
    )
    response = client.post(
        "/api/v1/requests",
        data=body[: -len(b"--B--\r\n")] + files + b"--B--\r\n",
        content_type="multipart/form-data; boundary=B",
        headers={"Authorization": f"Bearer {applicant.secret}"},
    )
    # Werkzeug gives up on a body whose part headers are not UTF-8: nothing arrives, and
    # the answer is the envelope's refusal, with nothing written.
    assert_error(response, 422, "invalid")
    assert _counts()["ServiceRequest"] == 0


def test_an_unforeseen_failure_on_an_api_path_is_a_json_500(api, world, app, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the handler answers

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("portal.api.serialize.me", broken)
    error = assert_error(api(world.daulet).get("/me"), 500, "server_error")
    assert error["message"] == "Something went wrong."
    # Open311 answers in its own error format, as JSON.
    monkeypatch.setattr("portal.open311.routes.service_entry", broken)
    answer = app.test_client().get("/open311/v2/services.json")
    assert answer.status_code == 500
    assert answer.get_json() == [{"code": 500, "description": "Something went wrong."}]
    # The pages still get the page.
    monkeypatch.setattr("portal.public.routes.render_template", broken)
    assert app.test_client().get("/services").mimetype == "text/html"


# --- two registrations at once -----------------------------------------------------------


def _register(client, email="owner@dala-race.kz", identifier=VALID_BIN):
    return client.post(
        "/register",
        data={
            "kind": "company",
            "full_name": "Owner",
            "identifier": identifier,
            "company_name": "Firm LLP",
            "email": email,
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_token(client, "/register"),
        },
    )


def _meanwhile(monkeypatch, *, email: str, identifier: str):
    """Someone else's registration lands between our checks and our commit."""
    real = accounts.hash_password

    def hash_and_race(password):
        with db.engine.begin() as other:
            business = other.execute(
                sa.insert(Business).values(kind="company", identifier=identifier, name="Rival")
            ).inserted_primary_key[0]
            other.execute(
                sa.insert(User).values(
                    email=email,
                    password_hash="x",
                    full_name="Rival",
                    role="applicant",
                    business_id=business,
                    locale="ru",
                    active=True,
                )
            )
        return real(password)

    monkeypatch.setattr(accounts, "hash_password", hash_and_race)


@pytest.mark.parametrize(
    ("rival_email", "rival_bin", "field", "message"),
    [
        (
            "owner@dala-race.kz",
            "180340021791",
            "email",
            "An account with this email already exists.",
        ),
        ("rival@dala-race.kz", VALID_BIN, "identifier", "This BIN was registered a moment ago."),
    ],
)
@pytest.mark.commits  # the rival's row is committed by another transaction, as in a real race
def test_a_registration_that_loses_a_race_is_a_form_error(
    client, monkeypatch, rival_email, rival_bin, field, message
):
    with client.session_transaction() as session:
        session["lang"] = "en"
    _meanwhile(monkeypatch, email=rival_email, identifier=rival_bin)
    response = _register(client)
    assert response.status_code == 422
    assert message in text(response)
    # Only the rival's rows: nothing of ours half-written.
    assert db.session.scalars(sa.select(User.full_name)).all() == ["Rival"]
    assert db.session.scalars(sa.select(Business.name)).all() == ["Rival"]


def test_any_other_unique_race_on_an_api_path_is_a_json_409(api, world, app, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    def collide(*_args, **_kwargs):
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    monkeypatch.setattr("portal.services.requests.submit", collide)
    error = assert_error(api(world.daulet).submit(world.notice), 409, "conflict")
    assert "Nothing was changed" in error["message"]
