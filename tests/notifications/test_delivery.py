"""The relay delivers through each channel, retries with backoff, and gives up visibly."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_date

import notifications
from notifications import channels, relay
from notifications.channels import InAppChannel, Outgoing
from notifications.inbox import Notice
from portal.extensions import db
from portal.privacy import pseudonym
from sla import clock
from tests.notifications.conftest import MONDAY, free_port, outbox_rows, run_relay_worker

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _decide(office, request, key="decision"):
    notifications.notify(
        office.applicant,
        "decision_rejected",
        request=request,
        context={"reason": "Нет подписи руководителя"},
        key=key,
    )
    db.session.commit()


def test_the_applicant_gets_the_receipt_by_email_in_kazakh_with_the_link(app, smtp, office):
    office.applicant.locale = "kk"
    db.session.commit()
    request = office.submit()

    run_relay_worker(app)  # the commit queued the relay

    (receipt, assigned) = smtp.to(office.applicant.email)
    assert receipt["Subject"] == f"{request.reference} өтініші қабылданды"
    assert receipt["Content-Language"] == "kk"
    assert receipt["From"] == "Moldir <no-reply@moldir.test>"
    body = receipt.get_content()
    assert f"https://moldir.example.kz/my/requests/{request.reference}" in body
    assert "Сәлеметсіз бе, Saule Karimova!" in body
    assert "Жауапты қызметкер: Aigerim Bekova" in body
    assert assigned["Subject"] == f"{request.reference}: жауапты қызметкер — Aigerim Bekova"
    # The employee reads Russian (the default) and opens the request on the staff side.
    (assignment,) = smtp.to(office.employee.email)
    assert assignment["Subject"] == f"Вам назначено обращение {request.reference}"
    assert (
        f"https://moldir.example.kz/staff/requests/{request.reference}" in assignment.get_content()
    )

    rows = outbox_rows(channel="email")
    assert {row.status for row in rows} == {"sent"}
    assert all(row.sent_at == clock.now() and row.attempts == 1 for row in rows)
    assert rows[0].provider_id == receipt["Message-ID"]


def test_the_message_id_is_derived_from_the_idempotency_key(app, smtp, office):
    request = office.submit()
    relay.deliver_due()
    (receipt, _assigned) = smtp.to(office.applicant.email)
    assert receipt["X-Moldir-Key"] == f"submitted:{request.id}:email"
    assert receipt["Message-ID"] == channels.message_id(
        f"submitted:{request.id}:email", "no-reply@moldir.test"
    )


def test_a_refusal_says_why(app, smtp, office):
    request = office.submit()
    _decide(office, request)
    relay.deliver_due()
    (rejection,) = [m for m in smtp.to(office.applicant.email) if "отказ" in m["Subject"]]
    assert "Причина: Нет подписи руководителя" in rejection.get_content()


def test_a_busy_server_is_retried_with_growing_pauses_then_given_up(app, smtp, office, travel):
    smtp.refuse(office.applicant.email, "451 4.3.0 Mailbox busy, try later")
    office.submit()

    pauses = []
    for attempt in range(1, 6):
        relay.deliver_due()
        (row,) = outbox_rows(template="request_submitted", channel="email")
        assert row.attempts == attempt
        if row.status == "failed":
            pauses.append(row.next_attempt_at - clock.now())
            travel(row.next_attempt_at)

    assert row.status == "dead"
    assert "451" in row.last_error
    # 1, 2, 4, 8 minutes between the five attempts; the fifth failure is the last.
    assert pauses == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert relay.deliver_due().claimed == 0
    assert smtp.to(office.applicant.email) == []
    # The employee's mail went out all the same, once.
    assert len(smtp.to(office.employee.email)) == 1


def test_nothing_is_retried_before_its_time(app, smtp, office, travel):
    smtp.refuse(office.applicant.email, "451 4.3.0 try later")
    office.submit()
    first = relay.deliver_due()
    assert (first.sent, first.retrying) == (1, 2)
    travel(MONDAY + timedelta(seconds=59))
    assert relay.deliver_due().claimed == 0
    travel(MONDAY + timedelta(seconds=60))
    smtp.reset()
    assert relay.deliver_due().sent == 2


def test_a_permanent_refusal_is_dead_at_once(app, smtp, office):
    smtp.refuse(office.applicant.email, "550 5.1.1 No such user")
    office.submit()
    counts = relay.deliver_due()
    assert (counts.sent, counts.dead) == (1, 2)
    dead = outbox_rows(status="dead")
    assert {row.recipient_id for row in dead} == {office.applicant.id}
    assert all("550" in row.last_error and row.attempts == 1 for row in dead)


def test_an_unreachable_server_hands_back_the_rest_of_the_batch(app, office):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TIMEOUT=2)
    office.submit()
    counts = relay.deliver_due()
    assert (counts.claimed, counts.sent, counts.retrying, counts.released) == (3, 0, 1, 2)
    rows = outbox_rows(channel="email")
    assert [row.status for row in rows] == ["failed", "pending", "pending"]
    assert [row.attempts for row in rows] == [1, 0, 0]
    # None of them is tried again before the first one's pause is over.
    assert {row.next_attempt_at for row in rows} == {clock.now() + timedelta(minutes=1)}
    assert "unreachable" in rows[0].last_error


def test_without_smtp_host_email_is_written_to_the_log(app, office, caplog):
    app.config["SMTP_HOST"] = ""
    request = office.submit()
    with caplog.at_level(logging.INFO, logger="notifications.channels"):
        counts = relay.deliver_due()
    assert counts.sent == 3
    assert f"{request.reference} принято" in caplog.text
    assert all(row.provider_id.startswith("log:<") for row in outbox_rows(channel="email"))


def test_sms_goes_to_the_gateway_with_the_idempotency_key(app, smtp, sms_gateway, office):
    office.applicant.notify_sms = True
    office.applicant.phone = "+77011234567"
    db.session.commit()
    request = office.submit()
    relay.deliver_due()

    calls = sorted(sms_gateway.calls, key=lambda c: c["headers"]["Idempotency-Key"])
    assert [c["headers"]["Idempotency-Key"] for c in calls] == [
        f"assigned:{request.id}:sms",
        f"submitted:{request.id}:sms",
    ]
    call = calls[1]
    assert call["headers"]["Authorization"] == "Bearer gw-token"
    assert call["body"]["to"] == "+77011234567"
    assert call["body"]["text"] == (
        f"Обращение {request.reference} принято "
        f"https://moldir.example.kz/my/requests/{request.reference}"
    )
    rows = outbox_rows(channel="sms")
    assert {row.status for row in rows} == {"sent"}
    assert {row.provider_id for row in rows} == {"gw-1", "gw-2"}


@pytest.mark.parametrize(("status", "outcome"), [(503, "failed"), (429, "failed"), (400, "dead")])
def test_a_gateway_error_is_retried_unless_it_is_ours(app, sms_gateway, office, status, outcome):
    app.config["SMTP_HOST"] = ""
    office.applicant.notify_sms = True
    office.applicant.phone = "+77011234567"
    db.session.commit()
    office.submit()
    sms_gateway.status = status
    relay.deliver_due()
    assert {row.status for row in outbox_rows(channel="sms")} == {outcome}


def test_without_a_gateway_sms_is_written_to_the_log(app, office, caplog):
    app.config["SMTP_HOST"] = ""
    office.applicant.notify_sms = True
    office.applicant.phone = "+77011234567"
    db.session.commit()
    office.submit()
    with caplog.at_level(logging.INFO, logger="notifications.channels"):
        relay.deliver_due()
    # The number itself stays out of the log: its pseudonym stands for it.
    assert f"sms (not sent, no SMS_GATEWAY_URL) to {pseudonym('+77011234567', 'phone')}" in (
        caplog.text
    )
    assert "7011234567" not in caplog.text
    assert {row.status for row in outbox_rows(channel="sms")} == {"sent"}


def test_an_in_app_row_delivered_twice_leaves_one_notice(app, office):
    request = office.submit()
    (row,) = outbox_rows(template="request_submitted", channel="in_app")
    message = Outgoing(
        outbox_id=row.id,
        idempotency_key=row.idempotency_key,
        recipient_id=row.recipient_id,
        request_id=request.id,
        template=row.template,
        context=row.context,
        address=None,
        language="ru",
        subject="",
        body="",
        short="",
    )
    first = InAppChannel().send(message)
    again = InAppChannel().send(message)
    db.session.commit()
    assert first == again
    count = db.session.scalar(sa.select(sa.func.count(Notice.id)).where(Notice.outbox_id == row.id))
    assert count == 1


def test_an_in_app_row_the_admin_retries_goes_through_the_relay(app, office):
    """Rows written by notify() are delivered at once; the channel serves the relay too."""
    request = office.submit()
    (row,) = outbox_rows(template="request_submitted", channel="in_app")
    db.session.execute(sa.delete(Notice).where(Notice.outbox_id == row.id))
    db.session.execute(
        sa.text("update outbox_message set status = 'pending' where id = :id"), {"id": row.id}
    )
    db.session.commit()
    app.config["SMTP_HOST"] = ""
    relay.deliver_due()
    (delivered,) = outbox_rows(id=row.id)
    assert delivered.status == "sent"
    assert delivered.delivered_at is not None
    notice = db.session.scalar(sa.select(Notice).where(Notice.outbox_id == row.id))
    assert notice.request_id == request.id


def test_a_name_cannot_add_lines_to_the_mail_headers(app, smtp, office):
    office.employee.full_name = "Aigerim\r\nBcc: spy@evil.test"
    db.session.commit()
    request = office.submit()
    relay.deliver_due()
    (_receipt, assigned) = smtp.to(office.applicant.email)
    assert assigned["Bcc"] is None
    assert assigned["Subject"] == (
        f"{request.reference}: ответственный сотрудник — Aigerim Bcc: spy@evil.test"
    )


def test_a_reminder_that_fails_at_closing_time_is_retried_when_the_office_opens(
    app, smtp, office, travel
):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    almaty = ZoneInfo("Asia/Almaty")
    request = office.submit()
    relay.deliver_due()
    smtp.refuse(office.applicant.email, "451 4.3.0 Mailbox busy, try later")
    travel(datetime(2026, 12, 4, 17, 59, 30, tzinfo=almaty))  # a Friday, just before closing
    notifications.notify(
        office.applicant,
        "documents_reminder",
        request=request,
        context={"number": 1, "reply_by": "2026-12-11T13:00:00+00:00", "items": []},
        key="reminder:test:day2",
    )
    db.session.commit()
    relay.deliver_due()
    (row,) = outbox_rows(template="documents_reminder", channel="email")
    assert row.status == "failed"
    # Not at 18:00:30 on Friday, nor over the weekend: Monday at opening time.
    assert row.next_attempt_at == datetime(2026, 12, 7, 9, 0, tzinfo=almaty)


def test_message_times_read_in_the_configured_time_zone(app, smtp, office):
    """An administration in another zone reads its deadlines on its own wall clock."""
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9, four hours ahead of Almaty
    app.config["TIMEZONE"] = "Asia/Tokyo"
    request = office.submit()

    run_relay_worker(app)

    receipt = smtp.to(office.applicant.email)[0]
    due = request.due_at.astimezone(tokyo)
    wall_clock = f"{format_date(due.date(), 'long', locale='ru')}, {due:%H:%M}"
    assert f"Срок рассмотрения — до {wall_clock}." in receipt.get_content()
    almaty = request.due_at.astimezone(ZoneInfo("Asia/Almaty"))
    assert f"{almaty:%H:%M}" not in receipt.get_content()
