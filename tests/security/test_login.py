"""Logging in: one answer whatever was wrong, throttled per account and per address, logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from portal.extensions import db, limiter
from portal.models import Role
from portal.privacy import email_digest
from portal.services import accounts
from tests.conftest import PASSWORD, csrf_token
from tests.helpers import VALID_BIN, text

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GENERIC_THROTTLE = "Too many attempts. Please wait a few minutes and try again."
STRANGER, OWNER = "203.0.113.66", "192.0.2.10"


@pytest.fixture
def real_limits(app):
    """The production defaults, not the suite's generous ones."""
    app.config.update(
        LOGIN_RATE_LIMIT_BACKOFF_MAX=900,
        LOGIN_RATE_LIMIT_IP="30 per 15 minutes",
        LOGIN_RATE_LIMIT_ACCOUNT="100 per hour",
        REGISTER_RATE_LIMIT_IP="10 per hour",
    )
    limiter.reset()
    yield app.config
    limiter.reset()


def attempt(client, email, password, address="127.0.0.1"):
    with client.session_transaction() as session:
        session.clear()
        session["lang"] = "en"
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def security_records(caplog, event):
    return [r for r in caplog.records if r.name == "moldir.security" and r.event == event]


def test_wrong_password_unknown_email_and_disabled_account_read_the_same(client, make, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    known = make.applicant()
    disabled = make.applicant()
    disabled.active = False
    db.session.commit()

    answers = [
        attempt(client, known.email, "wrong password!"),
        attempt(client, "nobody@nowhere.test", PASSWORD),
        attempt(client, disabled.email, PASSWORD),
    ]

    assert [a.status_code for a in answers] == [422, 422, 422]
    for answer in answers:
        assert "Wrong email or password." in text(answer)
        assert "disabled" not in text(answer).lower()
    # Why is told to the log only.
    reasons = [r.reason for r in security_records(caplog, "login.failed")]
    assert reasons == ["wrong_password", "unknown_account", "account_disabled"]


def test_every_failure_costs_one_password_hash(monkeypatch, make):
    known = make.applicant()
    checked = []
    real = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda *args: checked.append(1) or real(*args)
    )
    for email, password in (
        (known.email, "wrong password!"),
        ("nobody@nowhere.test", PASSWORD),
        (known.email, PASSWORD),
    ):
        checked.clear()
        accounts.check_credentials(email, password)
        assert len(checked) == 1, email


def test_a_strangers_guesses_from_elsewhere_do_not_keep_the_owner_out(
    client, make, real_limits, travel, caplog
):
    caplog.set_level(logging.INFO, "moldir.security")
    travel(NOW)
    owner = make.applicant()
    at = NOW
    for n in range(1, 21):
        assert attempt(client, owner.email, f"guess {n}", address=STRANGER).status_code == 422
        at += timedelta(seconds=min(2**n, 900))  # each guess waits out its delay first
        travel(at)
    travel(at - timedelta(seconds=1))

    # The owner, from their own address, at once.
    assert attempt(client, owner.email, PASSWORD, address=OWNER).status_code == 302
    # The stranger is slowed: refused before any password is checked, even the right one.
    slowed = attempt(client, owner.email, PASSWORD, address=STRANGER)
    assert slowed.status_code == 429
    assert int(slowed.headers["Retry-After"]) >= 1
    assert "Too many failed attempts. Please try again in 1 second." in text(slowed)
    assert 'name="password"' in text(slowed)  # the form again, not a bare error
    throttled = security_records(caplog, "login.throttled")
    assert throttled[-1].limited_by == "account_address"
    assert throttled[-1].email_hash == email_digest(owner.email)


def test_each_failure_from_one_address_doubles_the_wait(client, make, real_limits, travel):
    travel(NOW)
    owner = make.applicant()
    at = NOW
    for n in range(1, 12):
        assert attempt(client, owner.email, f"guess {n}").status_code == 422
        # 2^n seconds, capped at LOGIN_RATE_LIMIT_BACKOFF_MAX (15 minutes).
        wait = min(2**n, 900)
        travel(at + timedelta(seconds=wait - 1))
        refused = attempt(client, owner.email, f"guess {n} again")
        assert refused.status_code == 429, n
        assert int(refused.headers["Retry-After"]) >= 1
        at += timedelta(seconds=wait)
        travel(at)
    assert attempt(client, owner.email, "guess 12").status_code == 422
    assert "Please try again in 15 minutes." in text(attempt(client, owner.email, "x"))


def test_the_owner_gets_in_after_a_typo_and_starts_afresh(client, make, real_limits, travel):
    travel(NOW)
    owner = make.applicant()
    assert attempt(client, owner.email, "typo one").status_code == 422
    travel(NOW + timedelta(seconds=2))
    assert attempt(client, owner.email, "typo two").status_code == 422
    assert attempt(client, owner.email, PASSWORD).status_code == 429  # 4 s not yet over
    travel(NOW + timedelta(seconds=6))
    assert attempt(client, owner.email, PASSWORD).status_code == 302
    # Signed in: the count starts again from nothing.
    assert attempt(client, owner.email, "typo three").status_code == 422
    assert "try again in 2 seconds" in text(attempt(client, owner.email, "typo four"))


def test_an_unknown_email_is_slowed_alike(client, real_limits, travel):
    travel(NOW)
    assert attempt(client, "ghost@nowhere.test", "guess").status_code == 422
    refused = attempt(client, "ghost@nowhere.test", "guess again")
    assert refused.status_code == 429
    assert "Too many failed attempts. Please try again in 2 seconds." in text(refused)


def test_guesses_from_many_addresses_meet_a_high_bound_per_account(
    client, make, real_limits, travel, caplog
):
    caplog.set_level(logging.INFO, "moldir.security")
    real_limits["LOGIN_RATE_LIMIT_ACCOUNT"] = "5 per hour"
    travel(NOW)
    owner = make.applicant()
    for n in range(5):
        address = f"198.51.100.{n + 1}"
        assert attempt(client, owner.email, "guess", address=address).status_code == 422
    held = attempt(client, owner.email, PASSWORD, address=OWNER)
    assert held.status_code == 429
    assert "This account is protected for now" in text(held)
    assert "Retry-After" in held.headers
    assert security_records(caplog, "login.throttled")[-1].limited_by == "account"
    # Somebody else is not held up.
    assert attempt(client, make.applicant().email, PASSWORD, address=OWNER).status_code == 302
    travel(NOW + timedelta(minutes=61))
    assert attempt(client, owner.email, PASSWORD, address=OWNER).status_code == 302


def test_the_default_account_bound_is_high(tmp_path, monkeypatch):
    from portal import config as settings

    monkeypatch.delenv("LOGIN_RATE_LIMIT_ACCOUNT", raising=False)
    assert settings.from_environment(tmp_path)["LOGIN_RATE_LIMIT_ACCOUNT"] == "100 per hour"


def test_logging_in_does_not_use_up_the_account_or_address_limits(client, make, real_limits):
    real_limits["LOGIN_RATE_LIMIT_IP"] = "3 per 15 minutes"
    real_limits["LOGIN_RATE_LIMIT_ACCOUNT"] = "3 per 15 minutes"
    person = make.applicant()
    for _n in range(8):
        assert attempt(client, person.email, PASSWORD).status_code == 302


def test_many_failures_from_one_address_are_throttled(client, make, real_limits, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    real_limits["LOGIN_RATE_LIMIT_IP"] = "3 per 15 minutes"
    people = [make.applicant() for _n in range(4)]
    statuses = [attempt(client, p.email, "wrong password!").status_code for p in people[:3]]
    assert statuses == [422, 422, 422]
    limited = attempt(client, people[3].email, PASSWORD)
    assert limited.status_code == 429
    assert GENERIC_THROTTLE in text(limited)
    assert security_records(caplog, "login.throttled")[0].limited_by == "ip"
    # Another address is counted on its own.
    assert attempt(client, people[3].email, PASSWORD, address="10.0.0.7").status_code == 302


def test_registering_is_throttled_per_address(client, real_limits):
    real_limits["REGISTER_RATE_LIMIT_IP"] = "2 per hour"

    def register(n):
        return client.post(
            "/register",
            data={
                "kind": "company",
                "full_name": f"Owner {n}",
                "identifier": VALID_BIN,
                "company_name": "Firm",
                "email": f"owner{n}@firm.test",
                "password": "too short",
                "confirm": "too short",
                "csrf_token": csrf_token(client, "/register"),
            },
        )

    assert [register(n).status_code for n in range(2)] == [422, 422]
    limited = register(3)
    assert limited.status_code == 429
    assert 'name="full_name"' in text(limited)


def test_logging_in_rotates_the_session(client, make):
    person = make.applicant()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["lang"] = "en"
    token = csrf_token(client, "/login")
    client.post("/login", data={"email": person.email, "password": PASSWORD, "csrf_token": token})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["lang"] == "en"
        first = session["login_token"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/services")})
    token = csrf_token(client, "/login")
    client.post("/login", data={"email": person.email, "password": PASSWORD, "csrf_token": token})
    with client.session_transaction() as session:
        assert session["login_token"] != first


def test_login_and_logout_are_logged_with_who_and_where(client, make, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    person = make.applicant()
    assert attempt(client, person.email, PASSWORD, address="192.0.2.10").status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/services")})

    (success,) = security_records(caplog, "login.succeeded")
    assert success.user_id == person.id
    assert success.ip == "192.0.2.10"
    assert success.path == "/login"
    assert success.endpoint == "auth.login"
    assert success.outcome == "success"
    (logout,) = security_records(caplog, "logout")
    assert logout.user_id == person.id


def test_denied_access_is_logged(client, make, login, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    assert client.get("/admin/calendar").status_code == 302
    (redirected,) = security_records(caplog, "access.login_required")
    assert redirected.path == "/admin/calendar"

    applicant = make.applicant()
    login(applicant)
    assert client.get("/admin/calendar").status_code == 403
    (forbidden,) = security_records(caplog, "access.denied")
    assert (forbidden.status, forbidden.user_id) == (403, applicant.id)
    assert forbidden.endpoint == "admin.calendar"

    assert client.get("/my/requests/SHY-2026-999999").status_code == 404
    (hidden,) = security_records(caplog, "access.not_visible")
    assert hidden.user_id == applicant.id


def test_api_authentication_failures_are_logged(client, make, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    records = security_records(caplog, "api.auth_failed")
    assert [r.reason for r in records] == ["no_token", "invalid_token"]
    assert all(r.status == 401 and r.path == "/api/v1/me" for r in records)
    # Logged once, not again by the general denial log.
    assert not security_records(caplog, "access.denied")


def test_a_role_refused_by_the_api_is_logged(client, make, caplog):
    from portal.services import tokens

    caplog.set_level(logging.INFO, "moldir.security")
    employee = make.employee(make.department(), Role.STAFF)
    _token, secret = tokens.create(employee, "ci")
    response = client.post("/api/v1/requests", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    (record,) = security_records(caplog, "api.forbidden")
    assert (record.user_id, record.reason) == (employee.id, "role")


def test_the_production_defaults(tmp_path, monkeypatch):
    from portal import config as settings

    for name in (
        "LOGIN_RATE_LIMIT_BACKOFF_MAX",
        "LOGIN_RATE_LIMIT_ACCOUNT",
        "LOGIN_RATE_LIMIT_IP",
        "SESSION_IDLE_MINUTES",
        "SESSION_ABSOLUTE_HOURS",
        "TRUSTED_PROXIES",
        "SESSION_COOKIE_SECURE",
    ):
        monkeypatch.delenv(name, raising=False)
    values = settings.from_environment(tmp_path)
    assert values["LOGIN_RATE_LIMIT_BACKOFF_MAX"] == 900
    assert values["LOGIN_RATE_LIMIT_ACCOUNT"] == "100 per hour"
    assert values["LOGIN_RATE_LIMIT_IP"] == "30 per 15 minutes"
    assert values["RATELIMIT_STRATEGY"] == "moving-window"
    assert (values["SESSION_IDLE_MINUTES"], values["SESSION_ABSOLUTE_HOURS"]) == (30, 12)
    assert values["TRUSTED_PROXIES"] == 0
    assert values["SESSION_COOKIE_SECURE"] is None  # decided by security.init_app
