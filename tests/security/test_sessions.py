"""Login sessions live on the server: logout, timeouts and a disabled account end them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import LoginSession
from tests.conftest import csrf_token

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PRIVATE = "/inbox"  # any page that needs a signed-in person


@pytest.fixture(autouse=True)
def real_timeouts(app):
    """The production defaults, not the suite's endless sessions."""
    app.config.update(SESSION_IDLE_MINUTES=30, SESSION_ABSOLUTE_HOURS=12)


def session_rows(user) -> list[LoginSession]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(LoginSession).where(LoginSession.user_id == user.id).order_by(LoginSession.id)
        )
    )


def signed_in(client) -> bool:
    response = client.get(PRIVATE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def log_out(client):
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/services")}).status_code
    return client


def test_copied_cookie_is_dead_after_logout(app, client, make, login, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    person = make.applicant()
    login(person)
    copied = client.get_cookie("session").value
    log_out(client)

    thief = app.test_client()
    thief.set_cookie("session", copied, domain="localhost")
    assert not signed_in(thief)
    assert session_rows(person)[0].revoked_reason == "logout"
    rejected = [r for r in caplog.records if getattr(r, "event", "") == "session.rejected"]
    assert rejected[-1].reason == "logout"
    assert rejected[-1].user_id == person.id


def test_logging_out_ends_only_this_browser(app, make, login):
    person = make.applicant()
    phone = login(person)
    laptop = app.test_client()
    from tests.helpers import sign_in

    sign_in(laptop, person)
    log_out(phone)
    assert signed_in(laptop)
    assert [row.revoked_at is None for row in session_rows(person)] == [False, True]


def test_the_session_row_says_where_and_what(client, make, login):
    person = make.applicant()
    client.environ_base.update(REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="x" * 500)
    login(person)
    (row,) = session_rows(person)
    assert row.ip == "198.51.100.4"
    assert row.user_agent == "x" * 200
    assert len(row.token_hash) == 64
    with client.session_transaction() as session:
        assert session["login_token"] not in row.token_hash  # only the hash is kept


def test_idle_session_expires_after_30_minutes(client, make, login, travel, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    travel(NOW)
    person = make.applicant()
    login(person)
    travel(NOW + timedelta(minutes=29))
    assert signed_in(client)  # activity: the idle clock starts again
    travel(NOW + timedelta(minutes=58))
    assert signed_in(client)
    travel(NOW + timedelta(minutes=88))
    response = client.get(PRIVATE)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    (row,) = session_rows(person)
    assert row.revoked_reason == "idle"
    (expired,) = [r for r in caplog.records if getattr(r, "event", "") == "session.expired"]
    assert (expired.reason, expired.user_id) == ("idle", person.id)
    # Coming back later does not revive it.
    travel(NOW + timedelta(minutes=89))
    assert not signed_in(client)


def test_a_busy_session_still_ends_after_12_hours(client, make, login, travel):
    travel(NOW)
    person = make.applicant()
    login(person)
    at = NOW
    while at + timedelta(minutes=20) < NOW + timedelta(hours=12):
        at += timedelta(minutes=20)
        travel(at)
        assert signed_in(client), at
    travel(NOW + timedelta(hours=12))
    assert not signed_in(client)
    assert session_rows(person)[0].revoked_reason == "absolute"


def test_timeouts_follow_the_settings(app, client, make, login, travel):
    app.config.update(SESSION_IDLE_MINUTES=5)
    travel(NOW)
    login(make.applicant())
    travel(NOW + timedelta(minutes=6))
    assert not signed_in(client)


def test_last_seen_is_written_at_most_once_a_minute(client, make, login, travel):
    travel(NOW)
    person = make.applicant()
    login(person)
    travel(NOW + timedelta(seconds=30))
    assert signed_in(client)
    assert session_rows(person)[0].last_seen_at == NOW
    travel(NOW + timedelta(seconds=61))
    assert signed_in(client)
    assert session_rows(person)[0].last_seen_at == NOW + timedelta(seconds=61)


def test_a_cookie_without_a_login_session_is_not_trusted(client, make, login):
    person = make.applicant()
    login(person)
    with client.session_transaction() as session:
        session["login_token"] = "made-up"
    assert not signed_in(client)
    # The cookie was forgotten on the way: only the language and a message stay.
    with client.session_transaction() as session:
        assert "_user_id" not in session and "login_token" not in session
        session["_user_id"] = str(person.id)
    assert not signed_in(client)
