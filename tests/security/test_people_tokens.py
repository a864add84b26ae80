"""A person's API tokens as an admin sees them: listed with where they were last used from,
revoked one by one (recorded), and all revoked for good when the account is disabled."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import ApiToken, LoginSession, Role
from portal.services import tokens
from tests.conftest import csrf_token
from tests.helpers import main, sign_in, text

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def post(client, path, data=None):
    data = dict(data or {}, csrf_token=csrf_token(client, "/admin/people"))
    return client.post(path, data=data)


def call_api(client, secret, address="127.0.0.1"):
    return client.get(
        "/api/v1/me",
        headers={"Authorization": f"Bearer {secret}"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_disabling_revokes_tokens_and_enabling_does_not_bring_them_back(app, client, make):
    admin = make.overseer(Role.ADMIN)
    person = make.applicant()
    _token, secret = tokens.create(person, "accounting")
    machine = app.test_client()
    browser = app.test_client()
    sign_in(browser, person)
    assert call_api(machine, secret).status_code == 200

    sign_in(client, admin)
    assert post(client, f"/admin/people/{person.id}/disable", {"reason": "sold"}).status_code == 303
    assert call_api(machine, secret).status_code == 401
    assert browser.get("/inbox").status_code == 302  # the session ended too

    assert post(client, f"/admin/people/{person.id}/enable").status_code == 303
    # Enabled again: the old token and the old session stay dead; a new login works.
    answer = call_api(machine, secret)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "invalid_token"
    assert browser.get("/inbox").status_code == 302
    db.session.expire_all()
    (row,) = db.session.scalars(sa.select(ApiToken)).all()
    assert (row.revoked_reason, row.revoked_by_id) == ("account_disabled", admin.id)
    sessions = db.session.scalars(sa.select(LoginSession).where(LoginSession.user_id == person.id))
    assert all(s.revoked_at is not None for s in sessions)
    sign_in(browser, person)
    assert browser.get("/inbox").status_code == 200


def test_the_admin_sees_a_persons_tokens_and_where_they_were_used(app, client, make, travel):
    travel(NOW)
    admin = make.overseer(Role.ADMIN)
    person = make.applicant(name="Dana Owner")
    _used, used_secret = tokens.create(person, "accounting system")
    _idle, _secret = tokens.create(person, "old script")
    assert call_api(app.test_client(), used_secret, address="203.0.113.7").status_code == 200

    travel(NOW + timedelta(minutes=5))
    sign_in(client, admin)
    listing = text(client.get(f"/admin/people?q={person.email}"))
    assert f'href="/admin/people/{person.id}"' in listing
    page = client.get(f"/admin/people/{person.id}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    body = main(page)
    assert "Dana Owner" in body
    assert "accounting system" in body and "old script" in body
    assert "203.0.113.7" in body
    assert "never" in body  # the old script was never used
    assert body.count(">Revoke<") == 2


def test_the_admin_revokes_one_token_and_it_is_recorded(app, client, make, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    admin = make.overseer(Role.ADMIN)
    person = make.applicant()
    leaked, leaked_secret = tokens.create(person, "leaked")
    _kept, kept_secret = tokens.create(person, "kept")
    machine = app.test_client()

    sign_in(client, admin)
    response = post(client, f"/admin/people/{person.id}/tokens/{leaked.id}/revoke")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/people/{person.id}")
    page = text(client.get(response.headers["Location"]))
    assert "The token leaked was revoked." in page
    assert f"by {admin.full_name}" in page

    assert call_api(machine, leaked_secret).status_code == 401
    assert call_api(machine, kept_secret).status_code == 200
    db.session.expire_all()
    assert (leaked.revoked_by_id, leaked.revoked_reason) == (admin.id, "admin")
    (record,) = [r for r in caplog.records if getattr(r, "event", "") == "api_token.revoked"]
    assert (record.user_id, record.actor_id, record.token_id, record.reason) == (
        person.id,
        admin.id,
        leaked.id,
        "admin",
    )


def test_a_token_named_under_another_person_is_404(client, make):
    admin = make.overseer(Role.ADMIN)
    owner, other = make.applicant(), make.applicant()
    token, _secret = tokens.create(owner, "theirs")
    sign_in(client, admin)
    assert post(client, f"/admin/people/{other.id}/tokens/{token.id}/revoke").status_code == 404
    assert post(client, f"/admin/people/{owner.id}/tokens/999999/revoke").status_code == 404
    db.session.expire_all()
    assert token.revoked_at is None


def test_only_admins_revoke_other_peoples_tokens(client, make):
    head = make.employee(make.department(), Role.HEAD)
    owner = make.applicant()
    token, _secret = tokens.create(owner, "theirs")
    sign_in(client, head)
    assert client.get(f"/admin/people/{owner.id}").status_code == 403
    assert post(client, f"/admin/people/{owner.id}/tokens/{token.id}/revoke").status_code == 403
    db.session.expire_all()
    assert token.revoked_at is None


def test_owner_revoking_their_own_token_is_recorded_as_theirs(client, make):
    owner = make.applicant()
    token, _secret = tokens.create(owner, "mine")
    sign_in(client, owner)
    client.post(
        "/profile/tokens/revoke",
        data={"token_id": token.id, "csrf_token": csrf_token(client, "/profile/tokens")},
    )
    db.session.expire_all()
    assert (token.revoked_by_id, token.revoked_reason) == (owner.id, "owner")
