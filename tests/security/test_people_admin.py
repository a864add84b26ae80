"""The admin finds people, disables an account (ending its sessions) and enables it again."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.models import AccountChange, LoginSession, Role
from tests.conftest import PASSWORD, csrf_token
from tests.helpers import sign_in, text


def post(client, path, data=None):
    data = dict(data or {}, csrf_token=csrf_token(client, "/admin/people"))
    return client.post(path, data=data)


def signed_in(client) -> bool:
    return client.get("/inbox").status_code == 200


def test_disabling_an_account_ends_its_open_sessions(app, client, make, caplog):
    caplog.set_level(logging.INFO, "moldir.security")
    admin = make.overseer(Role.ADMIN)
    worker = make.employee(make.department(), name="Dana Worker")
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, worker)
    sign_in(laptop, worker)
    assert signed_in(phone) and signed_in(laptop)

    sign_in(client, admin)
    response = post(client, f"/admin/people/{worker.id}/disable", {"reason": "left the office"})
    assert response.status_code == 303
    assert "2 open sessions were ended" in text(client.get(response.headers["Location"]))

    assert not signed_in(phone)
    assert not signed_in(laptop)
    db.session.expire_all()
    assert not worker.active
    rows = db.session.scalars(sa.select(LoginSession).where(LoginSession.user_id == worker.id))
    assert {row.revoked_reason for row in rows} == {"account_disabled"}
    change = db.session.scalar(sa.select(AccountChange))
    assert (change.action, change.reason, change.actor_id) == (
        "disabled",
        "left the office",
        admin.id,
    )
    # Nor can they log in again; the message is the usual one.
    answer = phone.post(
        "/login",
        data={
            "email": worker.email,
            "password": PASSWORD,
            "csrf_token": csrf_token(phone, "/login"),
        },
    )
    assert answer.status_code == 422
    assert "Wrong email or password." in text(answer)

    (record,) = [r for r in caplog.records if getattr(r, "event", "") == "account.disabled"]
    assert (record.user_id, record.actor_id, record.sessions_ended) == (worker.id, admin.id, 2)


def test_enabling_lets_them_log_in_again(client, make):
    admin = make.overseer(Role.ADMIN)
    person = make.applicant()
    person.active = False
    db.session.commit()
    sign_in(client, admin)
    assert post(client, f"/admin/people/{person.id}/enable").status_code == 303
    db.session.expire_all()
    assert person.active
    sign_in(client, person)


def test_disabling_needs_a_reason(client, make):
    admin = make.overseer(Role.ADMIN)
    person = make.applicant()
    sign_in(client, admin)
    response = post(client, f"/admin/people/{person.id}/disable", {"reason": "  "})
    assert response.status_code == 422
    db.session.expire_all()
    assert person.active


def test_an_admin_cannot_disable_themselves(client, make):
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)
    response = post(client, f"/admin/people/{admin.id}/disable", {"reason": "oops"})
    assert response.status_code == 422
    assert "You cannot disable your own account." in text(response)
    assert signed_in(client)


def test_disabling_needs_the_csrf_token(client, make):
    admin = make.overseer(Role.ADMIN)
    person = make.applicant()
    sign_in(client, admin)
    response = client.post(f"/admin/people/{person.id}/disable", data={"reason": "x"})
    assert response.status_code == 400
    db.session.expire_all()
    assert person.active


def test_unknown_person_is_404(client, make):
    sign_in(client, make.overseer(Role.ADMIN))
    assert post(client, "/admin/people/999999/disable", {"reason": "x"}).status_code == 404
    assert post(client, "/admin/people/99999999999/enable").status_code == 404


def test_only_admins_see_or_change_people(client, make):
    person = make.applicant()
    for visitor in (person, make.overseer(Role.SUPERVISOR)):
        sign_in(client, visitor)
        assert client.get("/admin/people").status_code == 403
        response = post(client, f"/admin/people/{person.id}/disable", {"reason": "x"})
        assert response.status_code in (400, 403)
    db.session.expire_all()
    assert person.active


def test_the_list_searches_by_email_or_name_role_and_state(client, make):
    admin = make.overseer(Role.ADMIN)
    department = make.department()
    make.employee(department, name="Aigerim Sapar")
    make.employee(department, role=Role.HEAD, name="Bolat Head")
    gone = make.applicant(name="Dias Gone")
    gone.active = False
    db.session.commit()
    sign_in(client, admin)

    def names(query):
        page = text(client.get("/admin/people" + query))
        return {n for n in ("Aigerim Sapar", "Bolat Head", "Dias Gone") if n in page}

    assert names("") == {"Aigerim Sapar", "Bolat Head", "Dias Gone"}
    assert names("?q=aigerim") == {"Aigerim Sapar"}
    assert names("?q=firm.test") == {"Dias Gone"}
    assert names("?role=head") == {"Bolat Head"}
    assert names("?active=no") == {"Dias Gone"}
    assert names("?q=%25") == set()  # a wildcard typed is a character searched for
    assert client.get("/admin/people?role=nonsense&active=maybe&page=x").status_code == 200
    assert client.get("/admin/people?page=99999999999").status_code == 200


def test_the_command_line_disables_an_account(app, runner, make):
    person = make.applicant()
    browser = app.test_client()
    sign_in(browser, person)

    result = runner.invoke(args=["people", "disable", person.email.upper(), "--reason", "fraud"])
    assert result.exit_code == 0, result.output
    assert "1 open session(s) ended" in result.output
    assert not signed_in(browser)
    change = db.session.scalar(sa.select(AccountChange))
    assert (change.reason, change.actor_id) == ("fraud", None)

    assert runner.invoke(args=["people", "disable", "nobody@x.test"]).exit_code != 0
    assert runner.invoke(args=["people", "enable", person.email]).exit_code == 0
    db.session.expire_all()
    assert person.active
