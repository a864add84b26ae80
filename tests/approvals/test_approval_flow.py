"""Approvals through the pages: asked all at once, given or returned, then decided."""

from __future__ import annotations

import sqlalchemy as sa

from notifications.inbox import Notice
from portal.extensions import db
from portal.models import Event, ServiceRequest
from tests.approvals.conftest import steps
from tests.helpers import main, post_form, sign_in, text
from tests.sla.stories import almaty


def _act(client, reference, action, reason=""):
    page = f"/staff/requests/{reference}"
    return post_form(client, f"{page}/act", {"action": action, "reason": reason}, token_from=page)


def _answer(client, step, decision, comment="", page=None):
    page = page or f"/staff/requests/{step.request.reference}"
    return post_form(
        client,
        f"/staff/approvals/{step.id}",
        {"decision": decision, "comment": comment},
        token_from=page,
    )


def _state(request) -> str:
    db.session.expire_all()
    return db.session.get(ServiceRequest, request.id).state


def _notices(kind):
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(Notice.user_id).where(Notice.kind == kind).order_by(Notice.id)
        )
    ]


def test_sending_to_approval_asks_every_approver_at_once(chancery, client, travel):
    travel(almaty(2026, 2, 2, 10, 0))  # Monday
    request = chancery.submit()
    sign_in(client, chancery.employee)
    assert _act(client, request.reference, "accept_documents").status_code == 302
    assert _act(client, request.reference, "send_to_approval").status_code == 302

    found = steps(request)
    assert [(s.approver_role, s.approver_department_id) for s in found] == [
        ("head", None),
        (None, chancery.legal.id),
    ]
    # Two working days each, in parallel: Wednesday at closing time.
    assert {s.due_at for s in found} == {almaty(2026, 2, 4, 18, 0)}
    assert {s.requested_at for s in found} == {almaty(2026, 2, 2, 10, 0)}
    assert all(s.outcome is None for s in found)
    assert _notices("approval_requested") == [(chancery.head.id,), (chancery.lawyer.id,)]

    page = main(client.get(f"/staff/requests/{request.reference}"))
    assert "Approvals" in page
    assert "Head of the department" in page and chancery.legal.name_en in page
    # Not the caseworker's to approve yet: the sign-offs come first.
    assert 'value="approve"' not in page


def test_the_caseworker_decides_only_after_every_approval(chancery, client, travel):
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    head_step, legal_step = steps(request)

    sign_in(client, chancery.employee)
    refused = _act(client, request.reference, "approve")
    assert refused.status_code == 409
    assert "Wait until every approval is given" in text(refused)
    assert _state(request) == "in_approval"

    travel(almaty(2026, 2, 2, 14, 0))
    sign_in(client, chancery.head)
    assert _answer(client, head_step, "approve").status_code == 302

    travel(almaty(2026, 2, 3, 11, 0))
    # The lawyer works in another department, yet opens the request they sign off.
    sign_in(client, chancery.lawyer)
    queue = main(client.get("/staff/approvals"))
    assert request.reference in queue
    page = main(client.get(f"/staff/requests/{request.reference}"))
    assert "Your approval as" in page
    assert _answer(client, legal_step, "approve", "Licence terms checked").status_code == 302
    assert request.reference not in main(client.get("/staff/approvals"))

    head_step, legal_step = steps(request)
    assert (head_step.outcome, head_step.answered_by_id) == ("approved", chancery.head.id)
    assert legal_step.answered_at == almaty(2026, 2, 3, 11, 0)
    assert legal_step.comment == "Licence terms checked"

    sign_in(client, chancery.employee)
    assert _act(client, request.reference, "approve").status_code == 302
    assert _state(request) == "approved"
    kinds = db.session.scalars(
        sa.select(Event.kind).where(Event.request_id == request.id).order_by(Event.id)
    ).all()
    assert kinds[-6:] == [
        "send_to_approval",
        "approvals_requested",
        "approval_given",
        "approval_given",
        "approve",
        "clock_stopped",
    ]


def test_a_return_needs_a_comment_and_sends_the_request_back_to_review(chancery, client, travel):
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    head_step, legal_step = steps(request)

    sign_in(client, chancery.lawyer)
    silent = _answer(client, legal_step, "return")
    assert silent.status_code == 422
    assert "Say what has to change" in text(silent)
    assert _state(request) == "in_approval"

    travel(almaty(2026, 2, 2, 15, 0))
    assert _answer(client, legal_step, "return", "Clause 4 contradicts the code").status_code == 302
    assert _state(request) == "in_review"
    head_step, legal_step = steps(request)
    assert (legal_step.outcome, legal_step.comment) == ("returned", "Clause 4 contradicts the code")
    assert head_step.outcome == "cancelled"  # no longer needed: the round is over
    assert _notices("approval_returned") == [(chancery.employee.id,)]

    # The comment is on the caseworker's timeline; the applicant reads that the request
    # went back to review, not the approver's words (portal/domain/events.py).
    sign_in(client, chancery.employee)
    assert "Clause 4 contradicts the code" in main(
        client.get(f"/staff/requests/{request.reference}")
    )
    sign_in(client, chancery.applicant)
    applicant_page = main(client.get(f"/my/requests/{request.reference}"))
    assert "Returned to review" in applicant_page
    assert "Clause 4 contradicts the code" not in applicant_page
    assert chancery.legal.name_en in applicant_page

    # Sent again: a new round, everyone asked afresh.
    sign_in(client, chancery.employee)
    assert _act(client, request.reference, "send_to_approval").status_code == 302
    rounds = [(s.round, s.outcome) for s in steps(request)]
    assert rounds == [(1, "cancelled"), (1, "returned"), (2, None), (2, None)]


def test_only_the_designated_approvers_answer(chancery, client, make, travel):
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    head_step, legal_step = steps(request)
    colleague = make.employee(chancery.department, name="Bolat Colleague")

    # Staff of the owning department are not its head; the lawyer is not the head either.
    for person, step in [
        (chancery.employee, head_step),
        (colleague, head_step),
        (chancery.lawyer, head_step),
        (chancery.outsider, legal_step),
        (chancery.outsider, head_step),
    ]:
        sign_in(client, person)
        response = _answer(client, step, "approve", page="/staff/approvals")
        assert response.status_code == 404, (person.full_name, step.approver_role)
    # The outsider cannot even open the request.
    assert client.get(f"/staff/requests/{request.reference}").status_code == 404

    sign_in(client, chancery.applicant)
    response = post_form(
        client,
        f"/staff/approvals/{head_step.id}",
        {"decision": "approve"},
        token_from=f"/my/requests/{request.reference}",
    )
    assert response.status_code == 403

    assert all(s.outcome is None for s in steps(request))
    assert _state(request) == "in_approval"


def test_a_step_is_answered_once(chancery, client, travel):
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    head_step, _ = steps(request)
    sign_in(client, chancery.head)
    assert _answer(client, head_step, "approve").status_code == 302
    again = _answer(client, head_step, "return", "Changed my mind")
    assert again.status_code == 409
    assert steps(request)[0].outcome == "approved"
    assert _state(request) == "in_approval"


def test_a_supervisor_signs_off_when_the_service_asks_for_one(chancery, client, travel):
    from portal.models import ServiceApprover

    chancery.service.approvers.clear()
    db.session.flush()  # the old ones go before the new one takes position 0
    chancery.service.approvers.append(ServiceApprover(position=0, role="supervisor"))
    db.session.commit()
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    (step,) = steps(request)

    sign_in(client, chancery.supervisor)
    assert request.reference in main(client.get("/staff/approvals"))
    page = f"/supervisor/requests/{request.reference}"
    assert "Your approval as" in main(client.get(page))
    assert (
        _answer(client, step, "return", "Ask the fire service first", page=page).status_code == 302
    )
    assert _state(request) == "in_review"


def test_withdrawing_closes_the_waiting_approvals(chancery, travel):
    from portal.services import requests as request_service

    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    request_service.withdraw(chancery.applicant, request.reference, "No longer needed")
    assert [s.outcome for s in steps(request)] == ["cancelled", "cancelled"]


def test_a_service_without_approvers_is_decided_as_before(chancery, client, travel):
    chancery.service.approvers = []
    db.session.commit()
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    sign_in(client, chancery.employee)
    assert _act(client, request.reference, "accept_documents").status_code == 302
    page = text(client.get(f"/staff/requests/{request.reference}"))
    assert 'value="send_to_approval"' not in page
    refused = _act(client, request.reference, "send_to_approval")
    assert refused.status_code == 409
    assert "No one signs off this service: decide the request yourself" in text(refused)
    assert (_state(request), steps(request)) == ("in_review", [])
    assert _act(client, request.reference, "approve").status_code == 302
    assert _state(request) == "approved"


def test_the_admin_sets_approvers_and_silence_is_consent(chancery, client, make):
    from portal.models import Role

    admin = make.overseer(role=Role.ADMIN)
    sign_in(client, admin)
    path = f"/admin/services/{chancery.service.code}"
    page = main(client.get(path))
    assert "Silence is consent" in page
    data = {
        "target_days": "10",
        "waiting_policy": "pause",
        "at_risk_percent": "75",
        "approval_days": "4",
        "reply_days": "10",
        "reminder_days": "2, 4, 6",
        "approvers": ["role:supervisor", f"department:{chancery.legal.id}"],
        "silence_is_consent": "y",
        "warn_at_risk": "y",
        "escalate_to_head": "y",
        "supervisor_after_days": "3",
        "confirmed": "yes",
    }
    response = post_form(client, path, data)
    assert response.status_code == 302, text(response)
    db.session.expire_all()
    service = chancery.service
    assert [(a.role, a.department_id) for a in service.approvers] == [
        ("supervisor", None),
        (None, chancery.legal.id),
    ]
    assert service.silence_is_consent is True
    assert service.approval_days == 4


def test_the_approval_pages_speak_russian_and_kazakh(chancery, client, travel):
    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)

    sign_in(client, chancery.lawyer, lang="ru")
    assert "Ждут моего согласования" in main(client.get("/staff/approvals"))
    page = main(client.get(f"/staff/requests/{request.reference}"))
    assert "Согласования" in page and "Руководитель отдела" in page
    assert "Направлено на согласование" in page  # the timeline

    sign_in(client, chancery.applicant, lang="kk")
    page = main(client.get(f"/my/requests/{request.reference}"))
    assert "Келісулер" in page and "Бөлім басшысы" in page


def test_approvers_and_the_caseworker_are_told_in_their_language(chancery, travel):
    from notifications import templates
    from notifications.outbox import OutboxMessage
    from portal.services import approvals

    travel(almaty(2026, 2, 2, 10, 0))
    request = chancery.submit()
    chancery.to_approval(request)
    _, legal_step = steps(request)
    approvals.answer(chancery.lawyer, legal_step.id, "return", "Clause 4")

    def context(template, user):
        return db.session.scalar(
            sa.select(OutboxMessage.context).where(
                OutboxMessage.template == template, OutboxMessage.recipient_id == user.id
            )
        )

    asked = context("approval_requested", chancery.lawyer)
    ru = templates.render("approval_requested", "ru", asked, "https://moldir.test")
    assert chancery.legal.name_ru in ru.body and "4 февраля 2026" in ru.body
    assert ru.link == "https://moldir.test/staff/approvals"
    kk = templates.render("approval_requested", "kk", asked, "https://moldir.test")
    assert chancery.legal.name_kk in kk.body
    returned = context("approval_returned", chancery.employee)
    en = templates.render("approval_returned", "en", returned, "https://moldir.test")
    assert "Comment: Clause 4" in en.body and "Yerlan Lawyer" in en.body
    assert en.link == f"https://moldir.test/staff/requests/{request.reference}"


def test_nobody_signs_off_their_own_request(chancery):
    import pytest

    from portal.services import NotVisible, ServiceError, approvals
    from portal.services import requests as request_service

    request = chancery.submit()
    request_service.reassign(chancery.head, request.reference, chancery.head.id, "I take it")
    request_service.act(chancery.head, request.reference, "accept_documents")
    request_service.act(chancery.head, request.reference, "send_to_approval")
    head_step = steps(request)[0]
    assert head_step.approver_role == "head"
    with pytest.raises((NotVisible, ServiceError)):
        approvals.answer(chancery.head, head_step.id, "approve")
    assert steps(request)[0].outcome is None
