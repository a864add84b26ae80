"""Personal data stays out of caches and logs: `no-store` on every answer made for someone,
and one pseudonym for an email, phone or IIN/BIN wherever one is logged.

(The access matrix checks `no-store` on every route for every signed-in visitor too.)
"""

from __future__ import annotations

import logging

import pytest

from notifications import relay
from portal.extensions import db
from portal.privacy import email_digest, pseudonym
from portal.services import tokens
from tests.api.support import Api
from tests.api.support import world as world_fixture
from tests.conftest import csrf_token
from tests.helpers import sign_in

world = world_fixture  # the API stories' small world: departments, people, services


@pytest.fixture
def api(client):
    def as_user(user):
        return Api(client, tokens.create(user, "integration")[1])

    return as_user


def test_pages_for_a_signed_in_person_are_not_stored(app, make, world, api):
    reference = api(world.daulet).submitted(world.notice)
    client = app.test_client()
    sign_in(client, world.aigerim)
    for path in (
        f"/staff/requests/{reference}",
        "/staff/department?format=csv",  # an export
        "/staff/queue",
        "/inbox",
        "/profile",
        "/board",  # public, but its header names the person
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path

    anonymous = app.test_client()
    for path in ("/services", "/board", "/login"):
        assert "no-store" not in anonymous.get(path).headers.get("Cache-Control", ""), path


def test_the_goodbye_page_of_a_logout_is_not_stored(app, make):
    person = make.applicant()
    client = app.test_client()
    sign_in(client, person)
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/services")})
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"


def test_answers_to_a_token_are_not_stored(app, world, api, client):
    assert api(world.daulet).get("/me").headers["Cache-Control"] == "no-store"
    secret = tokens.create(world.daulet, "civic")[1]
    keyed = client.get("/open311/v2/requests.json", query_string={"api_key": secret})
    assert keyed.status_code == 200
    assert keyed.headers["Cache-Control"] == "no-store"
    # The public catalogue, asked for without a key, may be cached.
    public = client.get("/open311/v2/services.json")
    assert "no-store" not in public.headers.get("Cache-Control", "")


def test_the_log_only_email_channel_writes_no_address(app, world, api, caplog):
    caplog.set_level(logging.INFO)
    api(world.daulet).submitted(world.notice)
    counts = relay.deliver_due()
    assert counts.sent >= 1
    emails = [r.getMessage() for r in caplog.records if "no SMTP_HOST" in r.getMessage()]
    assert emails
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert world.daulet.email not in logged
    assert world.aigerim.email not in logged
    assert any(email_digest(world.daulet.email) in line for line in emails)


def test_the_log_only_sms_channel_writes_no_number(app, world, api, caplog):
    caplog.set_level(logging.INFO)
    world.daulet.phone = "+7 701 123 45 67"
    world.daulet.notify_sms = True
    db.session.commit()
    api(world.daulet).submitted(world.notice)
    relay.deliver_due()
    sms = [r.getMessage() for r in caplog.records if "no SMS_GATEWAY_URL" in r.getMessage()]
    assert sms
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "701 123 45 67" not in logged and "7011234567" not in logged
    assert any(pseudonym("87011234567", "phone") in line for line in sms)


def test_one_pseudonym_per_person_whatever_the_spelling(app):
    assert email_digest(" Owner@Dala-Agro.kz ") == email_digest("owner@dala-agro.kz")
    assert pseudonym("+7 (701) 123-45-67", "phone") == pseudonym("87011234567", "phone")
    assert pseudonym("900101300126", "identifier") != pseudonym("900101300126", "phone")
    # Keyed: another installation (another SECRET_KEY) gives another pseudonym.
    before = email_digest("owner@dala-agro.kz")
    app.config["SECRET_KEY"] = "another-secret"
    assert email_digest("owner@dala-agro.kz") != before
    assert email_digest(None) is None
