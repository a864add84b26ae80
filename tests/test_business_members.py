"""A business with several people: joining, accepting, declining, removing, handing over,
invitations, a power of attorney, and another business's member kept out everywhere."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from notifications import relay
from notifications.outbox import OutboxMessage
from portal.extensions import db
from portal.models import BusinessInvitation, BusinessMember, ServiceRequest, User
from portal.services import businesses, tokens
from sla import clock
from tests.conftest import PASSWORD, PDF
from tests.helpers import (
    VALID_BIN,
    answer,
    ask_for,
    fresh,
    main,
    post_form,
    register,
    sign_in,
    sign_out,
    submitted,
    text,
    withdraw,
)
from tests.security import corpus


@pytest.fixture
def office(make):
    department = make.department("ENT")
    charter, lease = make.document_type("charter"), make.document_type("lease")
    service = make.service(department, [charter], code="shop")
    staff = make.employee(department, name="Aigerim Staff")
    return department, service, staff, charter, lease


def _owner(client):
    """Daulet registers Saryarqa Trade (and so owns it), then logs out."""
    client.get("/lang/en")
    assert register(client).status_code == 302
    sign_out(client)
    return fresh(User, email="daulet@saryarqa.kz")


def _joiner(client, email="aliya@saryarqa.kz", name="Aliya Accountant", role="accountant"):
    client.get("/lang/en")
    response = register(client, email=email, full_name=name, member_role=role)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/my/business")
    sign_out(client)
    return fresh(User, email=email)


def _member_row(user) -> BusinessMember:
    return fresh(BusinessMember, user_id=user.id)


def _decide(client, member_id, decision, role="accountant"):
    return post_form(
        client,
        f"/my/business/members/{member_id}/decide",
        {"decision": decision, "role": role},
        token_from="/my/business",
    )


def _confirm(client, member_id, what, confirmed=True):
    return post_form(
        client,
        f"/my/business/members/{member_id}/{what}",
        {"confirmed": "y"} if confirmed else {},
        token_from="/my/business",
    )


def _notices(user, template) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.recipient_id == user.id, OutboxMessage.template == template
            )
        )
    )


def test_a_second_registrant_asks_to_join_the_owner_accepts_and_they_work_the_requests(
    client, office
):
    _department, service, staff, charter, lease = office
    owner = _owner(client)
    sign_in(client, owner)
    reference = submitted(client, service, description="A shop on Abai avenue")
    sign_out(client)

    aliya = _joiner(client)
    # The owner is told through the outbox; Aliya sees nothing of the business yet.
    assert _notices(owner, "business_join_requested")
    sign_in(client, aliya)
    assert reference not in text(client.get("/my/requests"))
    assert client.get(f"/my/requests/{reference}").status_code == 404
    assert "You asked to join this business" in main(client.get("/my/business"))
    assert submitted_status(client, service) == 422  # no submitting for the business yet
    sign_out(client)

    sign_in(client, owner)
    page = main(client.get("/my/business"))
    assert "Aliya Accountant" in page and "asks to join" in page
    response = _decide(client, _member_row(aliya).id, "accept")
    assert response.status_code == 302
    assert _member_row(aliya).status == "active"
    sign_out(client)
    assert _notices(aliya, "business_join_accepted")

    sign_in(client, staff)
    assert ask_for(client, reference, {lease.id: "The lease is missing"}).status_code == 302
    sign_out(client)

    sign_in(client, aliya)
    assert reference in text(client.get("/my/requests"))
    page = main(client.get(f"/my/requests/{reference}"))
    assert "Submitted by Daulet Seitkali" in page
    assert "Withdraw the request" not in page  # neither the owner nor the submitter
    response = answer(client, reference, {lease.id: (PDF, "lease.pdf")})
    assert response.status_code == 302, text(response)
    page = main(client.get(f"/my/requests/{reference}"))
    # The timeline names who submitted and who answered.
    assert re.search(r"Request submitted</strong>\s*— Daulet Seitkali", page)
    assert re.search(r"Missing documents provided</strong>\s*— Aliya Accountant", page)
    assert withdraw(client, reference, "Not mine to give up").status_code == 403
    assert fresh(ServiceRequest, reference=reference).state == "in_review"
    sign_out(client)

    sign_in(client, owner)
    assert withdraw(client, reference, "We changed our plans").status_code == 302
    assert fresh(ServiceRequest, reference=reference).state == "withdrawn"


def submitted_status(client, service) -> int:
    data = {"description": "On the business's behalf"}
    for doc in service.required_documents:
        data[f"doc_{doc.id}"] = (io.BytesIO(PDF), "charter.pdf")
    return post_form(
        client, f"/my/apply/{service.code}", data, content_type="multipart/form-data"
    ).status_code


def test_the_owner_declines_and_the_requester_is_told(client, office):
    _department, service, _staff, _charter, _lease = office
    owner = _owner(client)
    sign_in(client, owner)
    reference = submitted(client, service)
    sign_out(client)
    stranger = _joiner(client, email="someone@else.kz", name="Someone Else", role="employee")

    sign_in(client, stranger)
    # Only the owner answers a request to join: for the asker it is not theirs to see.
    assert _decide(client, _member_row(stranger).id, "accept").status_code == 404
    sign_out(client)
    sign_in(client, owner)
    assert _decide(client, _member_row(stranger).id, "decline").status_code == 302
    assert _member_row(stranger).status == "declined"
    # Answered once: a second answer changes nothing.
    assert _decide(client, _member_row(stranger).id, "accept").status_code == 422
    sign_out(client)

    assert _notices(stranger, "business_join_declined")
    sign_in(client, stranger)
    assert client.get(f"/my/requests/{reference}").status_code == 404
    assert "declined your request" in main(client.get("/my/business"))


def test_a_removed_member_loses_access_at_once(client, office, api_client):
    _department, service, _staff, _charter, _lease = office
    owner = _owner(client)
    aliya = _joiner(client)
    sign_in(client, owner)
    _decide(client, _member_row(aliya).id, "accept")
    reference = submitted(client, service)
    sign_out(client)

    member_browser = api_client()
    sign_in(member_browser, aliya)
    _token, secret = tokens.create(fresh(User, id=aliya.id), "phone")
    api = {"Authorization": f"Bearer {secret}"}
    assert member_browser.get(f"/my/requests/{reference}").status_code == 200
    assert client.get(f"/api/v1/requests/{reference}", headers=api).status_code == 200

    sign_in(client, owner)
    assert _confirm(client, _member_row(aliya).id, "remove", confirmed=False).status_code == 422
    assert _member_row(aliya).status == "active"
    assert _confirm(client, _member_row(aliya).id, "remove").status_code == 302
    # The owner cannot remove themself: they hand over first.
    assert _confirm(client, _member_row(owner).id, "remove").status_code == 422

    # Her open browser and her token, at the very next call.
    assert member_browser.get(f"/my/requests/{reference}").status_code == 404
    assert reference not in text(member_browser.get("/my/requests"))
    assert client.get(f"/api/v1/requests/{reference}", headers=api).status_code == 404
    listed = client.get("/api/v1/requests", headers=api).get_json()
    assert listed["total"] == 0
    assert client.get(f"/open311/v2/requests/{reference}.json?api_key={secret}").status_code == 404
    assert _notices(aliya, "business_member_removed")


def test_the_owner_hands_ownership_over(client, office):
    owner = _owner(client)
    aliya = _joiner(client)
    sign_in(client, owner)
    _decide(client, _member_row(aliya).id, "accept")
    assert _confirm(client, _member_row(aliya).id, "make-owner").status_code == 302
    assert (_member_row(aliya).role, _member_row(owner).role) == ("owner", "employee")
    # No longer the owner: Daulet may not remove Aliya.
    assert _confirm(client, _member_row(aliya).id, "remove").status_code == 403
    sign_out(client)
    assert _notices(aliya, "business_ownership_received")

    sign_in(client, aliya)
    assert "Invite someone" in main(client.get("/my/business"))
    assert _confirm(client, _member_row(owner).id, "remove").status_code == 302
    assert _member_row(owner).status == "removed"


def test_the_owner_invites_by_email_and_the_link_works_once(client, office, travel):
    travel(clock.now())
    _department, service, _staff, _charter, _lease = office
    owner = _owner(client)
    sign_in(client, owner)
    reference = submitted(client, service)
    response = post_form(
        client,
        "/my/business/invitations",
        {"email": "Lawyer@Saryarqa.kz", "role": "lawyer"},
        token_from="/my/business",
    )
    assert response.status_code == 302
    sign_out(client)

    (mail,) = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.template == "business_invitation")
    ).all()
    assert (mail.channel, mail.address, mail.recipient_id) == ("email", "lawyer@saryarqa.kz", None)
    link = mail.context["path"]
    # Delivered by the relay like any email, though nobody has an account at that address.
    assert relay.deliver_due().errors == []
    db.session.expire_all()
    assert mail.status == "sent"
    invitation = db.session.scalar(sa.select(BusinessInvitation))
    assert link.split("/")[-1] not in invitation.token_hash  # only the hash is kept

    forged = client.get("/business/invitations/not-the-token")
    assert forged.status_code == 404
    page = client.get(link)
    assert page.status_code == 200 and "Saryarqa Trade LLP" in text(page)
    bad = post_form(client, link, {"full_name": "Marat Lawyer", "password": "x"})
    assert bad.status_code == 422
    response = post_form(
        client, link, {"full_name": "Marat Lawyer", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status_code == 302
    marat = fresh(User, email="lawyer@saryarqa.kz")
    assert (_member_row(marat).role, _member_row(marat).status) == ("lawyer", "active")
    assert reference in text(client.get("/my/requests"))
    sign_out(client)
    # Used: the link is dead, for a second person as for the first.
    assert client.get(link).status_code == 404


def test_an_invitation_expires(client, office, travel):
    start = clock.now()
    travel(start)
    owner = _owner(client)
    sign_in(client, owner)
    post_form(
        client,
        "/my/business/invitations",
        {"email": "late@saryarqa.kz", "role": "employee"},
        token_from="/my/business",
    )
    sign_out(client)
    link = db.session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.template == "business_invitation")
    ).context["path"]
    travel(start + timedelta(days=businesses.INVITATION_DAYS, minutes=1))
    assert client.get(link).status_code == 404


def test_a_power_of_attorney_is_attached_once_and_answers_a_request_for_it(client, office):
    _department, service, staff, _charter, _lease = office
    poa_type = businesses.power_of_attorney_type()
    db.session.commit()
    owner = _owner(client)
    marat = _joiner(client, email="marat@law.kz", name="Marat Lawyer", role="lawyer")
    sign_in(client, owner)
    _decide(client, _member_row(marat).id, "accept", role="lawyer")
    reference = submitted(client, service)
    sign_out(client)

    sign_in(client, marat)
    tomorrow = (clock.now() + timedelta(days=30)).date().isoformat()
    script = corpus.pdf(catalog=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>")
    refused = post_form(
        client,
        "/my/business/power-of-attorney",
        {"file": (io.BytesIO(script), "poa.pdf"), "valid_until": tomorrow},
        token_from="/my/business",
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert _member_row(marat).poa_stored_name is None
    stored = post_form(
        client,
        "/my/business/power-of-attorney",
        {"file": (io.BytesIO(PDF + b"%poa\n"), "poa.pdf"), "valid_until": tomorrow},
        token_from="/my/business",
        content_type="multipart/form-data",
    )
    assert stored.status_code == 302, text(stored)
    member_id = _member_row(marat).id
    download = client.get(f"/my/business/members/{member_id}/power-of-attorney")
    assert (download.status_code, download.get_data()) == (200, PDF + b"%poa\n")
    download.close()
    sign_out(client)

    sign_in(client, staff)
    assert ask_for(client, reference, {poa_type.id: "Who acts for the firm?"}).status_code == 302
    sign_out(client)
    sign_in(client, marat)
    assert "Leave it empty to send your stored power of attorney" in main(
        client.get(f"/my/requests/{reference}")
    )
    response = answer(client, reference, {})
    assert response.status_code == 302, text(response)
    request = fresh(ServiceRequest, reference=reference)
    (given,) = [d for d in request.documents if d.document_type_id == poa_type.id]
    assert given.sha256 == _member_row(marat).poa_sha256
    assert given.stored_name != _member_row(marat).poa_stored_name  # a copy of its own


def test_another_business_member_gets_nothing_anywhere(client, office, make):
    _department, service, _staff, _charter, _lease = office
    owner = _owner(client)
    sign_in(client, owner)
    reference = submitted(client, service)
    sign_out(client)
    outsider = make.applicant(name="Other Owner")
    stranger = _joiner(client, email="x@other.kz", name="Other Member")
    # The stranger asked to join Daulet's business: pending, so still nobody there.
    _token, secret = tokens.create(fresh(User, id=stranger.id), "t")
    _t, outsider_secret = tokens.create(fresh(User, id=outsider.id), "t")
    for key in (secret, outsider_secret):
        api = {"Authorization": f"Bearer {key}"}
        assert client.get(f"/api/v1/requests/{reference}", headers=api).status_code == 404
        assert client.get("/api/v1/requests", headers=api).get_json()["total"] == 0
        assert client.get(f"/open311/v2/requests/{reference}.json?api_key={key}").status_code == 404
    sign_in(client, outsider)
    member_id = _member_row(stranger).id
    assert client.get(f"/my/requests/{reference}").status_code == 404
    assert _decide(client, member_id, "accept").status_code == 404
    assert _member_row(stranger).status == "pending"


def test_a_citizen_stays_one_person(client):
    client.get("/lang/en")
    response = register(client, kind="citizen", identifier="900101300126", email="a@mail.kz")
    assert response.status_code == 302
    sign_out(client)
    again = register(client, kind="citizen", identifier="900101300126", email="b@mail.kz")
    assert again.status_code == 422
    assert "An account for this IIN already exists" in text(again)


# --- the migration ------------------------------------------------------------------------


def test_the_migration_makes_existing_applicants_owners_and_links_their_requests(tmp_path, app):
    """Upgrade a database at 0012 holding company and citizen applicants and a request."""
    from portal import create_app

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with old.app_context():
        upgrade(revision="0012_token_audit")
        with db.engine.begin() as connection:
            run = connection.execute
            run(
                sa.text(
                    "INSERT INTO department (id, code, name_ru, name_kk, name_en) "
                    "VALUES (1, 'D', 'Д', 'Б', 'D')"
                )
            )
            run(
                sa.text(
                    "INSERT INTO service (id, code, department_id, title_ru, title_kk, title_en, "
                    "description_ru, description_kk, description_en, target_days, waiting_policy, "
                    "at_risk_ratio, intake_days, warn_at_risk, escalate_to_head, reply_days, "
                    "reminder_days, active, silence_is_consent) VALUES (1, 's', 1, 't', 't', 't', "
                    "'d', 'd', 'd', 5, 'pause', 0.75, 2, 1, 1, 10, '[2]', 1, 0)"
                )
            )
            for n, kind, ident in ((1, "company", VALID_BIN), (2, "citizen", "900101300126")):
                run(
                    sa.text(
                        "INSERT INTO business (id, kind, identifier, name, created_at) "
                        "VALUES (:n, :kind, :ident, 'B', '2026-01-01 00:00:00')"
                    ),
                    {"n": n, "kind": kind, "ident": ident},
                )
                run(
                    sa.text(
                        "INSERT INTO user (id, email, password_hash, full_name, role, business_id, "
                        "locale, active, created_at, notify_email, notify_sms) VALUES "
                        "(:n, :email, 'h', 'U', 'applicant', :n, 'ru', 1, "
                        "'2026-01-01 00:00:00', 1, 0)"
                    ),
                    {"n": n, "email": f"u{n}@x.kz"},
                )
            run(
                sa.text(
                    "INSERT INTO service_request (id, reference, service_id, department_id, "
                    "applicant_id, business_id, description, state, submitted_at, updated_at, "
                    "sla_state, paused_working_seconds, target_working_seconds, "
                    "credited_working_seconds, clock_epoch, audit_seq) VALUES "
                    "(1, 'SHY-1', 1, 1, 1, NULL, 'old', 'submitted', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00', "
                    "'on_track', 0, 0, 0, 0, 0)"
                )
            )
        upgrade()
        with db.engine.connect() as connection:
            members = connection.execute(
                sa.text(
                    "SELECT user_id, business_id, role, status FROM business_member "
                    "ORDER BY user_id"
                )
            ).all()
            linked = connection.scalar(sa.text("SELECT business_id FROM service_request"))
            poa = connection.scalar(
                sa.text("SELECT count(*) FROM document_type WHERE code = 'power_of_attorney'")
            )
            described = connection.scalar(sa.text("SELECT description FROM service_request"))
        db.engine.dispose()
    assert [tuple(m) for m in members] == [(1, 1, "owner", "active"), (2, 2, "owner", "active")]
    assert (linked, described, poa) == (1, "old", 1)


@pytest.fixture
def api_client(app):
    return app.test_client
