"""A reassignment is news for three people: the new employee, the one it was taken from,
and the applicant, who was told who is accountable. The head's reason stays inside."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from notifications import templates
from notifications.inbox import Notice
from portal.extensions import db
from portal.models import Role
from portal.services import requests as request_service
from portal.services.requests import Upload
from tests.conftest import pdf_file
from tests.helpers import main, post_form, reassign, sign_in
from tests.notifications.conftest import outbox_rows
from tests.sla.stories import almaty

REASON = "Aigerim is on sick leave until Friday"


@pytest.fixture
def office(make, travel):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=5)
    aigerim = make.employee(department, name="Aigerim Nurlanova")
    head = make.employee(department, Role.HEAD, name="Head Aliya")
    applicant = make.applicant(name="Saule Karimova")
    applicant.phone, applicant.notify_sms = "+77011234567", True  # SMS too
    db.session.commit()
    travel(almaty(2026, 2, 2, 10, 0))
    references = []
    for _ in range(2):  # both go to Aigerim, the only caseworker yet
        request = request_service.submit(
            applicant, service, "shop", [Upload(charter.id, pdf_file())]
        )
        assert request.assignee_id == aigerim.id
        references.append(request.reference)
    bolat = make.employee(department, name="Bolat Serikov")
    return {
        "references": references,
        "aigerim": aigerim,
        "bolat": bolat,
        "head": head,
        "applicant": applicant,
    }


def _told(user, template, reference) -> list:
    """The outbox rows `template` owes `user` about `reference` (one per channel)."""
    rows = outbox_rows(recipient_id=user.id, template=template)
    return [r for r in rows if r.context["reference"] == reference]


def _everyone_is_told(office, references):
    aigerim, bolat, applicant = office["aigerim"], office["bolat"], office["applicant"]
    for reference in references:
        new = _told(bolat, "reassigned", reference)
        away = _told(aigerim, "reassigned_away", reference)
        theirs = _told(applicant, "accountable_changed", reference)
        assert {r.channel for r in new} == {"in_app", "email"}
        assert {r.channel for r in away} == {"in_app", "email"}
        assert {r.channel for r in theirs} == {"in_app", "email", "sms"}
        assert all(r.context["reason"] == REASON for r in new + away)
        for row in theirs:
            assert "reason" not in row.context
            assert row.context["assignee"] == "Bolat Serikov"
            for language in ("ru", "kk", "en"):
                message = templates.render(row.template, language, row.context, "https://m.kz")
                assert REASON not in message.body and "sick leave" not in message.body
                assert "Bolat Serikov" in message.body and reference in message.subject
        english = templates.render(away[0].template, "en", away[0].context, "https://m.kz")
        assert "now handled by Bolat Serikov" in english.body and REASON in english.body
    # The in-app notices are there for each of them, once per request.
    with db.engine.connect() as connection:
        notices = connection.execute(sa.select(Notice.user_id, Notice.kind)).all()
    for user, kind in ((bolat, "reassigned"), (aigerim, "reassigned_away")):
        assert notices.count((user.id, kind)) == len(references)
    assert notices.count((applicant.id, "accountable_changed")) == len(references)


def test_a_single_reassignment_tells_the_new_and_previous_employee_and_the_applicant(
    office, client
):
    reference = office["references"][0]
    sign_in(client, office["head"])
    assert reassign(client, reference, office["bolat"].id, REASON).status_code == 302
    _everyone_is_told(office, [reference])

    sign_in(client, office["applicant"])
    inbox = main(client.get("/inbox"))
    assert f"{reference}: Bolat Serikov is now accountable for your request" in inbox
    assert "sick leave" not in inbox
    sign_in(client, office["aigerim"])
    assert f"Request {reference} moved to a colleague" in main(client.get("/inbox"))


def test_a_bulk_reassignment_from_the_team_board_tells_everyone_of_each_request(office, client):
    references = office["references"]
    sign_in(client, office["head"])
    response = post_form(
        client,
        "/staff/team/reassign",
        {"references": references, "assignee": str(office["bolat"].id), "reason": REASON},
        token_from="/staff/team",
    )
    assert response.status_code == 302
    _everyone_is_told(office, references)
