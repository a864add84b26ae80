"""One's own account: a forgotten password reset by an emailed link, a password changed
knowing the current one, an email address changed by confirming from the new address."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from notifications.outbox import OutboxMessage
from portal.extensions import db, limiter
from portal.models import LoginSession, OneTimeToken, Role, User
from portal.services import passwords
from tests.conftest import PASSWORD, csrf_token
from tests.helpers import post_form, sign_in, text

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEW_PASSWORD = "plum orchard at dawn"
SAME_ANSWER = "If {email} has an account here, we have sent it a link"


@pytest.fixture
def real_limits(app):
    app.config.update(
        LOGIN_RATE_LIMIT_BACKOFF_MAX=900,
        LOGIN_RATE_LIMIT_IP="30 per 15 minutes",
        LOGIN_RATE_LIMIT_ACCOUNT="5 per hour",
    )
    limiter.reset()
    yield app.config
    limiter.reset()


def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def links(template: str, address: str | None = None) -> list[str]:
    """The paths of the one-time links emailed with `template` (to `address`), oldest first."""
    db.session.expire_all()
    query = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.template == template, OutboxMessage.channel == "email")
        .order_by(OutboxMessage.id)
    )
    if address:
        query = query.where(OutboxMessage.address == address)
    return [row.context["path"] for row in db.session.scalars(query)]


def forgot(client, email, address="127.0.0.1"):
    english(client)
    return post_form(
        client, "/password/forgot", {"email": email}, environ_base={"REMOTE_ADDR": address}
    )


def set_password(client, path, password=NEW_PASSWORD, confirm=None):
    # The token from the login page: a used or forged link's page has no form to take it from.
    data = {"password": password, "confirm": confirm or password}
    return post_form(client, path, data, token_from="/login")


def log_in(client, email, password, address="127.0.0.1"):
    english(client)
    return post_form(
        client,
        "/login",
        {"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def signed_in(client) -> bool:
    return client.get("/inbox").status_code == 200


# --- reset ------------------------------------------------------------------------------


def test_a_forgotten_password_is_reset_by_the_emailed_link(app, client, make, travel, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    travel(NOW)
    owner = make.applicant()
    owner.notify_email = False  # a reset link goes by email whatever they chose for news
    db.session.commit()
    phone = app.test_client()
    sign_in(phone, owner)

    answer = forgot(client, owner.email.upper())
    assert answer.status_code == 200
    assert SAME_ANSWER.format(email=owner.email.upper()) in text(answer)
    [path] = links("password_reset", owner.email)
    token = path.rsplit("/", 1)[1]
    # Only the SHA-256 of the token is kept; it lives for an hour.
    row = db.session.scalar(sa.select(OneTimeToken))
    assert token not in (row.token_hash, row.new_email)
    assert row.expires_at - row.created_at == timedelta(hours=1)

    page = client.get(path)
    assert page.status_code == 200
    assert "Set a new password" in text(page)
    assert set_password(client, path).status_code == 302
    assert signed_in(client)
    # The old password opens nothing; the session signed in with it has ended.
    assert not signed_in(phone)
    assert log_in(app.test_client(), owner.email, PASSWORD).status_code == 422
    assert log_in(app.test_client(), owner.email, NEW_PASSWORD).status_code == 302


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, make):
    known = make.applicant()
    disabled = make.applicant()
    disabled.active = False
    db.session.commit()
    answers = {
        email: forgot(client, email)
        for email in (known.email, "nobody@nowhere.test", disabled.email)
    }
    for email, answer in answers.items():
        assert answer.status_code == 200
        page = text(answer).replace(email, "EMAIL")
        assert SAME_ANSWER.format(email="EMAIL") in page
    assert len({text(a).replace(e, "") for e, a in answers.items()}) == 1
    assert links("password_reset") == links("password_reset", known.email)
    assert len(links("password_reset")) == 1


def test_a_reset_link_works_once(app, client, make):
    owner = make.applicant()
    forgot(client, owner.email)
    [path] = links("password_reset")
    assert set_password(client, path).status_code == 302
    other = english(app.test_client())
    again = set_password(other, path, "another fine passphrase")
    assert again.status_code == 410
    assert "This link has already been used" in text(again)
    assert log_in(app.test_client(), owner.email, "another fine passphrase").status_code == 422


def test_a_reset_link_expires_after_an_hour(client, make, travel):
    travel(NOW)
    owner = make.applicant()
    forgot(client, owner.email)
    [path] = links("password_reset")
    travel(NOW + timedelta(minutes=61))
    english(client)
    assert client.get(path).status_code == 410
    db.session.expire_all()
    before = db.session.get(User, owner.id).password_hash
    response = set_password(client, path)
    assert response.status_code == 410
    assert "This link has expired" in text(response)
    db.session.expire_all()
    assert db.session.get(User, owner.id).password_hash == before


def test_a_newer_link_sets_the_older_aside(client, make):
    owner = make.applicant()
    forgot(client, owner.email)
    forgot(client, owner.email)
    first, second = links("password_reset")
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/password/reset/forged-token",
        "/password/reset/" + "A" * 43,
        "/password/reset/" + "x" * 5000,
    ],
)
def test_a_forged_reset_link_opens_nothing(client, make, path):
    make.applicant()
    english(client)
    assert client.get(path).status_code == 404
    refused = set_password(client, path)
    assert refused.status_code == 404
    assert "This link is not valid" in text(refused)


def test_an_invitation_link_is_not_a_reset_link(client, make):
    owner = make.applicant()
    forgot(client, owner.email)
    [path] = links("password_reset")
    assert client.get(path.replace("/password/reset/", "/invitation/")).status_code == 404


def test_a_weak_new_password_is_refused_with_a_reason(client, make):
    owner = make.applicant()
    forgot(client, owner.email)
    [path] = links("password_reset")
    short = set_password(client, path, "short")
    assert short.status_code == 422
    assert "Use at least 8 characters." in text(short)
    common = set_password(client, path, "Password123")
    assert common.status_code == 422
    assert "list of common passwords" in text(common)
    # Nothing was used up: the link still works.
    assert set_password(client, path).status_code == 302


def test_reset_requests_are_rate_limited_alike_for_any_address(app, client, make):
    app.config.update(RESET_RATE_LIMIT_ACCOUNT="3 per hour", RESET_RATE_LIMIT_IP="10 per hour")
    limiter.reset()
    owner = make.applicant()
    for email in (owner.email, "nobody@nowhere.test"):
        statuses = [forgot(client, email, address="198.51.100.7").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429], email
    assert "Too many attempts" in text(forgot(client, owner.email, address="198.51.100.7"))
    assert len(links("password_reset")) == 3
    # Per address too, whatever the email typed.
    for n in range(4):
        forgot(client, f"someone{n}@nowhere.test", address="198.51.100.7")
    assert forgot(client, "fresh@nowhere.test", address="198.51.100.7").status_code == 429
    assert forgot(client, "fresh@nowhere.test", address="192.0.2.44").status_code == 200
    limiter.reset()


def test_the_reset_link_works_while_login_is_throttled_and_clears_it(
    app, client, make, real_limits, travel
):
    travel(NOW)
    owner = make.applicant()
    stranger = "203.0.113.66"
    # A stranger from many addresses uses up the account's bound, and slows its own address.
    for n in range(5):
        assert log_in(client, owner.email, "guess", address=f"198.51.100.{n}").status_code == 422
    assert log_in(client, owner.email, PASSWORD, address="192.0.2.10").status_code == 429
    assert log_in(client, owner.email, "guess", address=stranger).status_code == 429

    forgot(client, owner.email, address="192.0.2.10")
    [path] = links("password_reset")
    assert set_password(english(app.test_client()), path).status_code == 302
    # The reset cleared every count against the account: the owner signs in at once, even
    # from an address that had failed.
    assert log_in(app.test_client(), owner.email, NEW_PASSWORD, "198.51.100.4").status_code == 302
    assert log_in(app.test_client(), owner.email, NEW_PASSWORD, "192.0.2.10").status_code == 302


# --- change of password -------------------------------------------------------------------


def test_changing_the_password_asks_for_the_current_one_and_ends_other_sessions(app, make):
    worker = make.employee(make.department())
    here, laptop, phone = app.test_client(), app.test_client(), app.test_client()
    for browser in (here, laptop, phone):
        sign_in(browser, worker)

    wrong = post_form(
        here,
        "/profile/password",
        {"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert "This is not your current password." in text(wrong)
    assert signed_in(laptop)

    changed = post_form(
        here,
        "/profile/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert "2 other sessions were signed out" in text(here.get("/profile"))
    assert signed_in(here)
    assert not signed_in(laptop)
    assert not signed_in(phone)
    reasons = db.session.scalars(
        sa.select(LoginSession.revoked_reason).where(LoginSession.user_id == worker.id)
    ).all()
    assert sorted(r or "open" for r in reasons) == ["open", "password_changed", "password_changed"]
    assert log_in(app.test_client(), worker.email, NEW_PASSWORD).status_code == 302


def test_staff_need_twelve_characters_applicants_eight(app, make):
    worker = make.employee(make.department())
    client = sign_in(app.test_client(), worker)
    eleven = "eleven char"
    short = post_form(
        client, "/profile/password", {"current": PASSWORD, "password": eleven, "confirm": eleven}
    )
    assert short.status_code == 422
    assert "Use at least 12 characters." in text(short)
    applicant = make.applicant()
    mine = sign_in(app.test_client(), applicant)
    ok = post_form(
        mine, "/profile/password", {"current": PASSWORD, "password": eleven, "confirm": eleven}
    )
    assert ok.status_code == 302


def test_password_rules(app):
    with app.test_request_context():
        for role, password in (
            (Role.STAFF, "a" * 11),
            (Role.APPLICANT, "1234567"),
            (Role.APPLICANT, "qwertyuiop"),  # common
            (Role.ADMIN, "1q2w3e4r5t6y"),  # common, long enough
            (Role.APPLICANT, "x" * 129),
        ):
            with pytest.raises(passwords.ServiceError):
                passwords.check(password, role)
        # No composition rules: lowercase words and spaces are fine; a 64-character phrase too.
        passwords.check("the quiet river bends", Role.ADMIN)
        passwords.check("w" * 64, Role.ADMIN)
    # The vendored list is the 20,000 of Django's.
    assert len(passwords._common()) > 19_000


# --- change of email --------------------------------------------------------------------


def test_a_new_email_is_confirmed_from_the_new_address_only(app, client, make):
    owner = make.applicant()
    sign_in(client, owner)
    old = owner.email
    asked = post_form(
        client, "/profile/email", {"email": "New.Owner@Firm.kz", "password": PASSWORD}
    )
    assert asked.status_code == 302
    assert "We sent a link to new.owner@firm.kz" in text(client.get("/profile"))
    # Nothing changes until the link is followed; the link went to the new address only.
    db.session.expire_all()
    assert db.session.get(User, owner.id).email == old
    assert links("email_change", old) == []
    [path] = links("email_change", "new.owner@firm.kz")

    # Opening the link (a mail scanner does) changes nothing; the button does.
    stranger = english(app.test_client())
    page = stranger.get(path)
    assert page.status_code == 200
    assert "new.owner@firm.kz" in text(page)
    db.session.expire_all()
    assert db.session.get(User, owner.id).email == old
    assert post_form(stranger, path).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, owner.id).email == "new.owner@firm.kz"
    assert log_in(app.test_client(), "new.owner@firm.kz", PASSWORD).status_code == 302
    assert log_in(app.test_client(), old, PASSWORD).status_code == 422
    # Once.
    assert english(app.test_client()).get(path).status_code == 410


def test_an_email_change_needs_the_password_and_a_free_address(client, make):
    owner, other = make.applicant(), make.applicant()
    other.email = "taken@firm.kz"
    db.session.commit()
    sign_in(client, owner)
    wrong = post_form(client, "/profile/email", {"email": "a@b.kz", "password": "nope"})
    assert wrong.status_code == 422
    assert "This is not your current password." in text(wrong)
    taken = post_form(client, "/profile/email", {"email": other.email, "password": PASSWORD})
    assert taken.status_code == 422
    assert "An account with this email already exists." in text(taken)
    assert links("email_change") == []


def test_an_address_taken_meanwhile_is_refused_at_confirmation(app, client, make):
    owner = make.applicant()
    sign_in(client, owner)
    post_form(client, "/profile/email", {"email": "wanted@firm.kz", "password": PASSWORD})
    [path] = links("email_change")
    someone = make.applicant()
    someone.email = "wanted@firm.kz"
    db.session.commit()
    refused = post_form(english(app.test_client()), path)
    assert refused.status_code == 409
    assert "An account with this email already exists." in text(refused)
    db.session.expire_all()
    assert db.session.get(User, owner.id).email != "wanted@firm.kz"


def test_a_forged_email_link_changes_nothing(client, make):
    owner = make.applicant()
    english(client)
    path = "/profile/email/confirm/" + "B" * 43
    assert client.get(path).status_code == 404
    assert client.post(path, data={"csrf_token": csrf_token(client, "/login")}).status_code == 404
    db.session.expire_all()
    assert db.session.get(User, owner.id).email == owner.email
