"""Tokens: made and revoked on the profile, stored hashed, checked on every call."""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa

from portal.extensions import db
from portal.models import ApiToken, Role
from portal.services import tokens
from tests.api.support import assert_error
from tests.helpers import post_form, sign_in, text


def test_no_token_is_401_with_a_bearer_challenge(api, world):
    response = api(None).get("/services")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_401(api, world):
    assert_error(api(None, secret="mld_not-a-real-token").get("/me"), 401, "invalid_token")
    assert_error(api(None, secret="something else").get("/me"), 401, "invalid_token")
    basic = api(None).get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(basic, 401, "unauthorized")


def test_a_revoked_token_stops_working(api, world):
    token, secret = tokens.create(world.daulet, "accounting")
    client = api(None, secret=secret)
    assert client.get("/me").get_json()["name"] == "Daulet Owner"

    tokens.revoke(world.daulet, token.id)
    assert_error(client.get("/me"), 401, "invalid_token")


def test_a_token_keeps_the_role_it_was_made_with(api, world):
    _token, secret = tokens.create(world.aigerim, "desk")
    world.aigerim.role = Role.HEAD
    db.session.commit()
    assert_error(api(None, secret=secret).get("/queue"), 401, "invalid_token")


def test_a_deactivated_account_cannot_use_its_tokens(api, world):
    _token, secret = tokens.create(world.daulet, "accounting")
    world.daulet.active = False
    db.session.commit()
    assert_error(api(None, secret=secret).get("/me"), 401)


def test_tokens_are_stored_as_a_fingerprint_and_remember_their_last_use(api, world):
    token, secret = tokens.create(world.daulet, "accounting")
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.token_hash, token.prefix} and secret.startswith(token.prefix)
    assert token.last_used_at is None

    api(None, secret=secret).get("/me")
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at is not None


def test_me_says_who_and_which_role(api, world):
    body = api(world.aigerim).get("/me").get_json()
    assert body == {
        "id": world.aigerim.id,
        "name": "Aigerim Staff",
        "email": world.aigerim.email,
        "role": "staff",
        "department": {"code": "LIC", "name": world.licensing.name_en},
    }


def test_person_makes_a_token_on_the_profile_sees_it_once_and_revokes_it(client, world):
    sign_in(client, world.daulet)
    profile = text(client.get("/profile"))
    assert "/profile/tokens" in profile

    made = post_form(client, "/profile/tokens", {"name": "Accounting system"})
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-token"[^>]*value="(mld_[^"]+)"', text(made)).group(1)
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == world.daulet.id))
    assert stored.role == "applicant" and stored.name == "Accounting system"
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()

    listing = text(client.get("/profile/tokens"))
    assert secret not in listing  # shown once only
    assert "Accounting system" in listing and stored.prefix in listing

    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200

    revoked = post_form(client, "/profile/tokens/revoke", {"token_id": str(stored.id)})
    assert revoked.status_code == 302
    assert "Accounting system" not in text(client.get("/profile/tokens"))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_a_token_needs_a_name_and_one_may_not_revoke_anothers(client, world):
    other, _secret = tokens.create(world.saule, "hers")
    sign_in(client, world.daulet)

    unnamed = post_form(client, "/profile/tokens", {"name": ""})
    assert unnamed.status_code == 422
    post_form(client, "/profile/tokens/revoke", {"token_id": str(other.id)}, "/profile/tokens")
    db.session.expire_all()
    assert db.session.get(ApiToken, other.id).revoked_at is None


def test_tokens_page_needs_a_login(client):
    response = client.get("/profile/tokens")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
