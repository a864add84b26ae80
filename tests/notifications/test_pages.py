"""The pages: a person chooses how to be told, reads the inbox; an admin watches the outbox."""

from __future__ import annotations

import sqlalchemy as sa

from notifications import relay
from portal.extensions import db
from portal.models import Role, User
from tests.boards.build import read_csv, read_xlsx
from tests.conftest import csrf_token
from tests.helpers import main, text
from tests.notifications.conftest import outbox_rows, queued_relays


def _saved(user_id: int):
    with db.engine.connect() as connection:
        return connection.execute(
            sa.select(User.notify_email, User.notify_sms, User.phone, User.locale).where(
                User.id == user_id
            )
        ).one()


# --- the profile ----------------------------------------------------------------------------


def test_applicant_chooses_sms_with_a_phone_number_and_no_email(make, login):
    applicant = make.applicant()
    client = login(applicant)
    client.get("/lang/en")
    page = client.get("/profile")
    assert page.status_code == 200
    assert '<input checked id="notify_email"' in main(page)

    saved = client.post(
        "/profile",
        data={
            "notify_sms": "y",
            "phone": "+7 (701) 234-56-78",
            "locale": "kk",
            "csrf_token": csrf_token(client, "/profile"),
        },
    )
    assert saved.status_code == 302
    assert _saved(applicant.id) == (False, True, "+77012345678", "kk")
    assert "Your choices are saved." in text(client.get("/profile"))


def test_a_wrong_phone_number_saves_nothing_and_says_why(make, login):
    applicant = make.applicant()
    client = login(applicant)
    client.get("/lang/en")
    before = _saved(applicant.id)

    for phone, message in [
        ("+1 555 0100", "Enter the phone number as +7XXXXXXXXXX."),
        ("", "Enter a phone number to get SMS."),
    ]:
        response = client.post(
            "/profile",
            data={
                "notify_sms": "y",
                "phone": phone,
                "locale": "en",
                "csrf_token": csrf_token(client, "/profile"),
            },
        )
        assert response.status_code == 422
        assert message in main(response)
        assert 'aria-invalid="true"' in main(response)
        assert _saved(applicant.id) == before


def test_the_profile_refuses_a_post_without_its_csrf_token(make, login):
    applicant = make.applicant()
    client = login(applicant)
    response = client.post(
        "/profile", data={"notify_sms": "y", "phone": "+77012345678", "locale": "ru"}
    )
    assert response.status_code in (400, 422)
    assert _saved(applicant.id)[1] is False


def test_the_profile_is_for_people_who_logged_in(client):
    response = client.get("/profile")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_domestic_8_number_is_kept_as_plus_7(make, login):
    employee = make.employee(make.department())
    client = login(employee)
    client.post(
        "/profile",
        data={
            "notify_email": "y",
            "phone": "8 701 234 56 78",
            "locale": "ru",
            "csrf_token": csrf_token(client, "/profile"),
        },
    )
    assert _saved(employee.id) == (True, False, "+77012345678", "ru")


# --- the inbox ------------------------------------------------------------------------------


def test_the_inbox_lists_notices_in_the_readers_language_and_marks_them_read(office, login):
    request = office.submit()
    client = login(office.applicant)
    client.get("/lang/en")
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    page = main(inbox)
    assert f"Request {request.reference} received" in page
    assert f"{request.reference}: Aigerim Bekova is accountable for your request" in page
    assert f'href="/my/requests/{request.reference}"' in page
    assert '<span class="tag" aria-label="2 unread">2</span>' in text(inbox)

    client.post("/inbox/read", data={"csrf_token": csrf_token(client, "/inbox")})
    assert "unread" not in text(client.get("/inbox"))


# --- the admin's outbox -----------------------------------------------------------------------


def _admin_with_dead_letters(office, make, login, smtp, lang: str):
    """An admin, in `lang`, looking at an outbox where the applicant's two emails bounced."""
    smtp.refuse(office.applicant.email, "550 5.1.1 No such user")
    office.submit()
    relay.deliver_due()
    client = login(make.overseer(Role.ADMIN))
    client.get(f"/lang/{lang}")
    return client


def test_admin_filters_the_outbox_by_status_channel_and_template(app, office, make, login, smtp):
    client = _admin_with_dead_letters(office, make, login, smtp, "en")

    everything = main(client.get("/admin/outbox"))
    assert everything.count("<tr>") == 1 + 6
    dead = main(client.get("/admin/outbox?status=dead"))
    assert dead.count("<tr>") == 1 + 2
    assert "550" in dead
    assert dead.count(">Retry</button>") == 2
    in_app = main(client.get("/admin/outbox?channel=in_app&template=new_assignment"))
    assert in_app.count("<tr>") == 1 + 1
    assert "Aigerim Bekova" in in_app
    nonsense = client.get("/admin/outbox?status=nonsense")
    assert main(nonsense).count("<tr>") == 1 + 6  # an unknown filter value is no filter


def test_admin_downloads_the_filtered_outbox_as_excel_and_csv(app, office, make, login, smtp):
    client = _admin_with_dead_letters(office, make, login, smtp, "ru")

    sheet = read_xlsx(client.get("/admin/outbox?status=dead&format=xlsx"))
    assert sheet[0][:3] == ["#", "Создано", "Получатель"], sheet[0]
    assert len(sheet) == 1 + 2 and {r[6] for r in sheet[1:]} == {"dead"}
    assert all(isinstance(r[0], int) for r in sheet[1:])
    assert any("550" in (r[-1] or "") for r in sheet[1:])
    rows = read_csv(client.get("/admin/outbox?status=dead&format=csv"))
    assert rows[0] == sheet[0] and len(rows) == len(sheet)


def test_admin_retries_a_dead_message_and_it_goes_out(app, office, make, login, smtp):
    smtp.refuse(office.applicant.email, "550 5.1.1 No such user")
    office.submit()
    relay.deliver_due()
    (dead, _other) = outbox_rows(status="dead")
    client = login(make.overseer(Role.ADMIN))
    client.get("/lang/en")
    app.extensions["redis"].flushdb()

    response = client.post(
        f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf_token(client, "/admin/outbox")}
    )
    assert response.status_code == 302
    (row,) = outbox_rows(id=dead.id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert queued_relays(app) == 1
    assert "The message will be sent again." in text(client.get("/admin/outbox"))

    smtp.reset()  # the address works now
    relay.deliver_due()
    (row,) = outbox_rows(id=dead.id)
    assert row.status == "sent"
    assert [m["X-Moldir-Key"] for m in smtp.messages] == [row.idempotency_key]

    again = client.post(
        f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf_token(client, "/admin/outbox")}
    )
    assert again.status_code == 302
    assert "Only a dead message can be retried." in text(client.get("/admin/outbox"))
    assert outbox_rows(id=dead.id)[0].status == "sent"


def test_a_retry_without_the_csrf_token_changes_nothing(app, office, make, login, smtp):
    smtp.refuse(office.applicant.email, "550 5.1.1 No such user")
    office.submit()
    relay.deliver_due()
    (dead, _other) = outbox_rows(status="dead")
    client = login(make.overseer(Role.ADMIN))
    assert client.post(f"/admin/outbox/{dead.id}/retry").status_code == 400
    assert outbox_rows(id=dead.id)[0].status == "dead"
    token = csrf_token(client, "/admin/outbox")
    assert client.post("/admin/outbox/999999/retry", data={"csrf_token": token}).status_code == 404


def test_only_an_admin_sees_the_outbox(app, office, make, login, smtp):
    smtp.refuse(office.applicant.email, "550 5.1.1 No such user")
    office.submit()
    relay.deliver_due()
    (dead, _other) = outbox_rows(status="dead")
    for person in (office.applicant, office.employee, office.head, office.supervisor):
        client = login(person)
        assert client.get("/admin/outbox").status_code == 403
        token = csrf_token(client, "/profile")
        response = client.post(f"/admin/outbox/{dead.id}/retry", data={"csrf_token": token})
        assert response.status_code == 403
    assert outbox_rows(id=dead.id)[0].status == "dead"
