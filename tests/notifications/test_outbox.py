"""What is owed is written with the change that caused it, once per key, per chosen channel."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import notifications
from notifications import templates
from notifications.inbox import Notice
from notifications.outbox import OutboxMessage, request_path
from portal.extensions import db
from portal.models import Role
from sla import clock
from tests.notifications.conftest import outbox_rows, queued_relays


def _notices(user) -> list[str]:
    with db.engine.connect() as connection:
        return list(
            connection.scalars(
                sa.select(Notice.kind).where(Notice.user_id == user.id).order_by(Notice.id)
            )
        )


def test_submitting_owes_the_applicant_a_receipt_and_the_employee_an_assignment(office):
    request = office.submit()

    rows = outbox_rows()
    assert [(r.recipient_id, r.template, r.channel, r.status) for r in rows] == [
        (office.applicant.id, "request_submitted", "in_app", "sent"),
        (office.applicant.id, "request_submitted", "email", "pending"),
        (office.applicant.id, "request_assigned", "in_app", "sent"),
        (office.applicant.id, "request_assigned", "email", "pending"),
        (office.employee.id, "new_assignment", "in_app", "sent"),
        (office.employee.id, "new_assignment", "email", "pending"),
    ]
    receipt = rows[1]
    assert receipt.idempotency_key == f"submitted:{request.id}:email"
    assert receipt.address == office.applicant.email
    assert receipt.context["reference"] == request.reference
    assert receipt.context["path"] == f"/my/requests/{request.reference}"
    assert rows[5].context["path"] == f"/staff/requests/{request.reference}"
    assert receipt.context["assignee"] == office.employee.full_name
    # The in-app notice is there the moment the request is.
    assert _notices(office.applicant) == ["request_submitted", "request_assigned"]
    assert _notices(office.employee) == ["new_assignment"]


def test_a_rolled_back_change_owes_nothing(office):
    request = office.submit()
    before = len(outbox_rows())

    notifications.notify(
        office.applicant, "decision_approved", request=request, key=f"decision:{request.id}"
    )
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == before + 2
    db.session.rollback()

    assert len(outbox_rows()) == before
    assert "decision_approved" not in _notices(office.applicant)


def test_a_repeated_key_adds_nothing_within_and_across_transactions(office):
    request = office.submit()
    key = f"decision:{request.id}"

    first = notifications.notify(office.applicant, "decision_approved", request=request, key=key)
    again = notifications.notify(office.applicant, "decision_approved", request=request, key=key)
    db.session.commit()
    later = notifications.notify(office.applicant, "decision_approved", request=request, key=key)
    db.session.commit()

    assert [row.channel for row in first] == ["in_app", "email"]
    assert again == [] and later == []
    assert len(outbox_rows(template="decision_approved")) == 2
    assert _notices(office.applicant).count("decision_approved") == 1


def test_the_database_refuses_a_second_row_with_the_same_key(office):
    request = office.submit()
    now = clock.now()
    duplicate = OutboxMessage(
        recipient_id=office.applicant.id,
        channel="email",
        template="request_submitted",
        context={},
        language="ru",
        idempotency_key=f"submitted:{request.id}:email",
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(duplicate)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_channels_follow_what_the_person_chose(office):
    request = office.submit()
    applicant = office.applicant
    applicant.notify_email = False
    applicant.notify_sms = True  # but no phone yet: no SMS
    notifications.notify(applicant, "decision_approved", request=request, key="k1")
    applicant.phone = "+77011234567"
    notifications.notify(applicant, "decision_approved", request=request, key="k2")
    applicant.notify_email = True
    applicant.notify_sms = False
    notifications.notify(applicant, "decision_approved", request=request, key="k3")
    db.session.commit()

    rows = outbox_rows(template="decision_approved")
    assert [(r.idempotency_key, r.address) for r in rows] == [
        ("k1:in_app", None),
        ("k2:in_app", None),
        ("k2:sms", "+77011234567"),
        ("k3:in_app", None),
        ("k3:email", applicant.email),
    ]


def test_nobody_to_tell_is_no_error(office):
    assert notifications.notify(None, "escalation_head", key="nobody") == []


def test_an_unknown_template_is_refused_before_anything_is_written(office):
    with pytest.raises(ValueError, match="no template"):
        notifications.notify(office.applicant, "nonsense", key="x")


def test_the_message_is_in_the_language_the_person_reads(office):
    office.applicant.locale = "kk"
    db.session.commit()
    request = office.submit()
    (receipt,) = outbox_rows(template="request_submitted", channel="email")
    assert receipt.language == "kk"
    assert receipt.context["service"] == {
        "ru": office.service.title_ru,
        "kk": office.service.title_kk,
        "en": office.service.title_en,
    }
    assert receipt.context["reference"] == request.reference


def test_a_commit_that_owes_mail_queues_the_relay_and_a_rollback_does_not(app, office):
    request = office.submit()
    assert queued_relays(app) == 1
    notifications.notify(office.applicant, "decision_approved", request=request, key="a")
    db.session.commit()
    assert queued_relays(app) == 1  # one waiting relay is enough: it has not looked yet

    app.extensions["redis"].flushdb()
    notifications.notify(office.applicant, "decision_approved", request=request, key="b")
    db.session.rollback()
    assert queued_relays(app) == 0

    app.config["NOTIFY_KICK_RELAY"] = False
    notifications.notify(office.applicant, "decision_approved", request=request, key="c")
    db.session.commit()
    assert queued_relays(app) == 0


def test_a_lost_redis_does_not_fail_the_change(app, office, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    def down(*args, **kwargs):
        raise RedisDown("Redis is gone")

    monkeypatch.setattr(app.extensions["redis"], "set", down)
    request = office.submit()  # commits, then the kick fails quietly
    assert request.reference
    assert len(outbox_rows(channel="email", status="pending")) == 3


# --- the words --------------------------------------------------------------------------

CONTEXT = {
    "recipient": "Сауле Каримова",
    "reference": "SHY-2026-000042",
    "path": "/my/requests/SHY-2026-000042",
    "service": {"ru": "Лицензия", "kk": "Лицензия беру", "en": "Licence"},
    "department": {"ru": "Отдел", "kk": "Бөлім", "en": "Department"},
    "applicant": "ТОО «Дала Агро»",
    "assignee": "Айгерим Бекова",
    "due_at": "2026-03-09T13:00:00+00:00",
    "rung_due_at": "2026-03-05T13:00:00+00:00",
    "reply_by": "2026-03-16T13:00:00+00:00",
    "number": 2,
    "reason": "Нет подписи",
    "items": [
        {
            "document": "charter",
            "reason": "The scan is unreadable",
            "names": {"ru": "Устав", "kk": "Жарғы", "en": "Charter"},
        }
    ],
}


# Every message about one request (others, such as digests, speak of no one request).
REQUEST_TEMPLATES = (
    "request_submitted",
    "request_assigned",
    "new_assignment",
    "documents_requested",
    "documents_reminder",
    "package_complete",
    "decision_approved",
    "decision_rejected",
    "refused_incomplete",
    "escalation_at_risk",
    "escalation_intake",
    "escalation_approval",
    "escalation_head",
    "escalation_supervisor",
    "reassigned",
    "reassigned_away",
    "accountable_changed",
)


def test_every_request_template_is_there_in_all_three_languages():
    for name in REQUEST_TEMPLATES:
        assert set(templates.TEMPLATES[name]) == {"ru", "kk", "en"}, name


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
@pytest.mark.parametrize("template", REQUEST_TEMPLATES)
def test_every_template_speaks_every_language_with_the_reference_and_link(template, language):
    message = templates.render(template, language, CONTEXT, "https://moldir.example.kz/")
    link = "https://moldir.example.kz/my/requests/SHY-2026-000042"
    assert "SHY-2026-000042" in message.subject
    assert "\n" not in message.subject
    assert link in message.body
    assert "SHY-2026-000042" in message.body
    assert "{{" not in message.body and "None" not in message.body
    assert message.short.endswith(link)


def _spaced(text: str) -> str:
    """CLDR dates use no-break spaces; a reader sees spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def test_the_words_are_the_recipients_language():
    kk = templates.render("documents_requested", "kk", CONTEXT, "https://m.kz")
    ru = templates.render("documents_requested", "ru", CONTEXT, "https://m.kz")
    en = templates.render("documents_requested", "en", CONTEXT, "https://m.kz")
    assert kk.subject == "SHY-2026-000042: құжаттар қажет"
    assert ru.subject == "SHY-2026-000042: нужны документы"
    assert en.subject == "SHY-2026-000042: documents needed"
    assert "- Жарғы: The scan is unreadable" in kk.body
    assert "- Устав: The scan is unreadable" in ru.body
    # The reply-by instant on the akimat's wall clock (UTC+5), in words of the language.
    assert "16 марта 2026 г., 18:00" in _spaced(ru.body)
    assert "2026 ж. 16 наурыз, 18:00" in _spaced(kk.body)
    assert "March 16, 2026, 18:00" in _spaced(en.body)
    assert "Сәлеметсіз бе, Сауле Каримова!" in kk.body


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.APPLICANT, "/my/requests/R-1"),
        (Role.STAFF, "/staff/requests/R-1"),
        (Role.HEAD, "/staff/requests/R-1"),
        (Role.SUPERVISOR, "/supervisor/requests/R-1"),
        (Role.ADMIN, "/supervisor/requests/R-1"),
    ],
)
def test_the_link_opens_the_request_where_the_recipient_works(role, path):
    assert request_path(role, "R-1") == path


def test_a_released_savepoint_does_not_kick_the_relay_before_the_commit(app, office):
    request = office.submit()
    app.extensions["redis"].flushdb()

    with db.session.begin_nested():  # as the sweep wraps each request
        notifications.notify(office.applicant, "decision_approved", request=request, key="a")
    assert queued_relays(app) == 0  # nothing is visible to a relay yet

    try:
        with db.session.begin_nested():
            notifications.notify(office.applicant, "decision_approved", request=request, key="b")
            raise RuntimeError("this request failed; the others go on")
    except RuntimeError:
        pass
    db.session.commit()

    assert queued_relays(app) == 1
    assert [
        r.idempotency_key for r in outbox_rows(channel="email", template="decision_approved")
    ] == ["a:email"]
