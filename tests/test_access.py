"""Who may see and do what: each rule, through the real pages."""

import io
from types import SimpleNamespace

from portal.extensions import db
from portal.models import Document, Role, ServiceRequest
from tests.conftest import PASSWORD
from tests.helpers import (
    answer,
    ask_for,
    counts,
    fresh,
    main,
    pdf,
    post_form,
    reassign,
    sign_in,
    sign_out,
    snapshot,
    staff_act,
    stored_files,
    submitted,
    text,
)

NOT_FOUND = "There is nothing here, or it is not yours to see."
FORBIDDEN = "Your account may not open this page."


def build_city(make, client):
    """Two departments, their people, and one request in the first, with a document."""
    land = make.department("LAND")
    trade = make.department("TRADE")
    lease = make.document_type("lease")
    charter = make.document_type("charter")
    people = SimpleNamespace(
        land=land,
        trade=trade,
        lease=lease,
        service=make.service(land, [charter], code="plot"),
        trade_service=make.service(trade, [], code="kiosk"),
        assignee=make.employee(land, name="Aigerim Nurlanova"),
        colleague=make.employee(land, name="Bolat Serikov"),
        head=make.employee(land, Role.HEAD, name="Marat Akhmetov"),
        outsider=make.employee(trade, name="Saule Omarova"),
        other_head=make.employee(trade, Role.HEAD, name="Yerlan Dosov"),
        supervisor=make.overseer(),
        owner=make.applicant(name="Daulet Seitkali"),
        stranger=make.applicant(name="Gulnara Abenova"),
    )
    sign_in(client, people.owner)
    people.reference = submitted(client, people.service)
    people.document = fresh(Document)
    sign_out(client)
    return people


# --- applicants ------------------------------------------------------------------------


def test_applicant_sees_only_own_requests(make, client):
    city = build_city(make, client)
    sign_in(client, city.stranger)
    theirs = submitted(client, city.trade_service)

    page = text(client.get("/my/requests"))

    assert theirs in page
    assert city.reference not in page


def test_applicant_cannot_open_another_applicants_request(make, client):
    city = build_city(make, client)
    sign_in(client, city.stranger)

    for path in (
        f"/my/requests/{city.reference}",
        f"/my/requests/{city.reference}/confirmation",
        f"/my/requests/{city.reference}/documents/{city.document.id}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert NOT_FOUND in text(response)
        assert city.reference not in main(response)


def test_someone_elses_request_looks_the_same_as_no_request_at_all(make, client):
    city = build_city(make, client)
    sign_in(client, city.stranger)

    someone_elses = client.get(f"/my/requests/{city.reference}")
    nobodys = client.get("/my/requests/SHY-2026-999999")

    assert someone_elses.status_code == nobodys.status_code == 404
    assert text(someone_elses).replace(city.reference, "") == text(nobodys).replace(
        "SHY-2026-999999", ""
    )


def test_applicant_cannot_answer_or_withdraw_another_applicants_request(make, client):
    city = build_city(make, client)
    sign_in(client, city.assignee)
    ask_for(client, city.reference, {city.lease.id: "Lease missing"})
    before, files = snapshot(city.reference), stored_files()
    sign_in(client, city.stranger)
    own = submitted(client, city.trade_service)  # a page of their own, to take a token from
    token_page = f"/my/requests/{own}"

    answered = post_form(
        client,
        f"/my/requests/{city.reference}/answer",
        {f"doc_{city.lease.id}": (io.BytesIO(pdf("x")), "lease.pdf")},
        token_from=token_page,
        content_type="multipart/form-data",
    )
    withdrawn = post_form(
        client, f"/my/requests/{city.reference}/withdraw", {}, token_from=token_page
    )

    assert answered.status_code == 404
    assert withdrawn.status_code == 404
    assert snapshot(city.reference) == before
    assert stored_files() == files  # their own request has no documents


def test_another_applicants_document_cannot_be_fetched_through_ones_own_request(make, client):
    city = build_city(make, client)
    sign_in(client, city.stranger)
    own = submitted(client, city.trade_service)

    response = client.get(f"/my/requests/{own}/documents/{city.document.id}")

    assert response.status_code == 404


# --- staff -----------------------------------------------------------------------------


def test_staff_see_only_their_department(make, client):
    city = build_city(make, client)
    sign_in(client, city.outsider)
    before = snapshot(city.reference)
    token_page = "/staff/queue"

    assert city.reference not in text(client.get("/staff/department"))
    assert client.get(f"/staff/requests/{city.reference}").status_code == 404
    document = client.get(f"/staff/requests/{city.reference}/documents/{city.document.id}")
    assert document.status_code == 404
    acted = post_form(
        client,
        f"/staff/requests/{city.reference}/act",
        {"action": "reject", "reason": "Not ours"},
        token_from=token_page,
    )
    assert acted.status_code == 404
    asked = post_form(
        client,
        f"/staff/requests/{city.reference}/ask",
        {f"want_{city.lease.id}": "y", f"reason_{city.lease.id}": "Why not"},
        token_from=token_page,
    )
    assert asked.status_code == 404
    assert snapshot(city.reference) == before


def test_colleague_who_is_not_accountable_can_view_but_not_act(make, client):
    city = build_city(make, client)
    sign_in(client, city.colleague)
    before = snapshot(city.reference)

    page = text(client.get(f"/staff/requests/{city.reference}"))
    assert "Daulet Seitkali" in page
    assert (
        "Only the accountable employee or the head of the department acts on this request." in page
    )
    assert f"/staff/requests/{city.reference}/act" not in page
    assert f"/staff/requests/{city.reference}/reassign" not in page
    with client.get(f"/staff/requests/{city.reference}/documents/{city.document.id}") as doc:
        assert doc.status_code == 200

    acted = staff_act(client, city.reference, "accept_documents")
    assert acted.status_code == 403
    assert "Only the accountable employee or the head may act on this." in text(acted)
    asked = ask_for(client, city.reference, {city.lease.id: "Lease missing"})
    assert asked.status_code == 403
    assert "Only the accountable employee or the head may act on this." in text(asked)
    moved = reassign(client, city.reference, city.colleague.id)
    assert moved.status_code == 403
    assert snapshot(city.reference) == before


def test_head_acts_and_reassigns_in_their_department_only(make, client):
    city = build_city(make, client)
    before = snapshot(city.reference)

    sign_in(client, city.other_head)
    assert client.get(f"/staff/requests/{city.reference}").status_code == 404
    acted = post_form(
        client,
        f"/staff/requests/{city.reference}/act",
        {"action": "accept_documents"},
        token_from="/staff/department",
    )
    assert acted.status_code == 404
    moved = post_form(
        client,
        f"/staff/requests/{city.reference}/reassign",
        {"assignee": str(city.outsider.id), "reason": "Mine now"},
        token_from="/staff/department",
    )
    assert moved.status_code == 404
    assert snapshot(city.reference) == before

    sign_in(client, city.head)
    page = text(client.get(f"/staff/requests/{city.reference}"))
    assert f"/staff/requests/{city.reference}/act" in page
    assert f"/staff/requests/{city.reference}/reassign" in page
    assert reassign(client, city.reference, city.colleague.id).status_code == 302
    assert staff_act(client, city.reference, "accept_documents").status_code == 302
    after = snapshot(city.reference)
    assert after["assignee_id"] == city.colleague.id
    assert after["state"] == "in_review"


# --- the supervisor --------------------------------------------------------------------


def test_supervisor_sees_every_department_read_only(make, client):
    city = build_city(make, client)
    sign_in(client, city.stranger)
    trade_reference = submitted(client, city.trade_service)
    before = (snapshot(city.reference), snapshot(trade_reference), counts())
    sign_in(client, city.supervisor)

    listing = text(client.get("/supervisor/requests"))
    assert city.reference in listing
    assert trade_reference in listing
    filtered = text(client.get(f"/supervisor/requests?department={city.trade.id}"))
    assert trade_reference in filtered
    assert city.reference not in filtered
    page = text(client.get(f"/supervisor/requests/{city.reference}"))
    assert "Daulet Seitkali" in page
    assert "Timeline" in page
    assert '<form method="post" action="/staff' not in page
    link = f"/supervisor/requests/{city.reference}/documents/{city.document.id}"
    assert link in page
    with client.get(link) as document:
        assert document.status_code == 200
        assert document.headers["Content-Disposition"].startswith("attachment;")

    token_page = "/supervisor/requests"
    for path, data in [
        (f"/staff/requests/{city.reference}/act", {"action": "approve"}),
        (f"/staff/requests/{city.reference}/ask", {f"want_{city.lease.id}": "y"}),
        (
            f"/staff/requests/{city.reference}/reassign",
            {"assignee": str(city.colleague.id), "reason": "Because"},
        ),
        (f"/my/requests/{city.reference}/withdraw", {}),
    ]:
        response = post_form(client, path, data, token_from=token_page)
        assert response.status_code == 403, path
        assert FORBIDDEN in text(response)
    assert client.get(f"/staff/requests/{city.reference}").status_code == 403
    assert (snapshot(city.reference), snapshot(trade_reference), counts()) == before


# --- wrong kind of account, or none ----------------------------------------------------


STAFF_PAGES = (
    "/staff/queue",
    "/staff/department",
    "/staff/requests/{ref}",
    "/staff/requests/{ref}/documents/{doc}",
)
SUPERVISOR_PAGES = ("/supervisor/requests", "/supervisor/requests/{ref}")
APPLICANT_PAGES = (
    "/my/requests",
    "/my/apply/plot",
    "/my/requests/{ref}",
    "/my/requests/{ref}/confirmation",
    "/my/requests/{ref}/documents/{doc}",
)


def refused(client, city, paths):
    for path in paths:
        response = client.get(path.format(ref=city.reference, doc=city.document.id))
        assert response.status_code == 403, path
        assert FORBIDDEN in text(response), path


def test_applicant_is_refused_staff_and_supervisor_pages(make, client):
    city = build_city(make, client)
    sign_in(client, city.owner)  # even their own request, through the staff door

    refused(client, city, STAFF_PAGES + SUPERVISOR_PAGES)


def test_applicant_cannot_act_as_staff_on_their_own_request(make, client):
    city = build_city(make, client)
    sign_in(client, city.owner)
    before = snapshot(city.reference)

    response = post_form(
        client,
        f"/staff/requests/{city.reference}/act",
        {"action": "approve"},
        token_from="/my/requests",
    )

    assert response.status_code == 403
    assert snapshot(city.reference) == before


def test_staff_are_refused_applicant_and_supervisor_pages(make, client):
    city = build_city(make, client)

    for employee in (city.assignee, city.head):
        sign_in(client, employee)
        refused(client, city, APPLICANT_PAGES + SUPERVISOR_PAGES)


def test_supervisor_is_refused_applicant_and_staff_pages(make, client):
    city = build_city(make, client)
    sign_in(client, city.supervisor)

    refused(client, city, APPLICANT_PAGES + STAFF_PAGES)


def test_staff_cannot_submit_or_answer_as_an_applicant(make, client):
    city = build_city(make, client)
    sign_in(client, city.assignee)
    before, files = counts(), stored_files()

    applied = post_form(
        client,
        "/my/apply/plot",
        {"description": "Inside job"},
        token_from="/staff/queue",
    )
    answered = post_form(
        client, f"/my/requests/{city.reference}/answer", {}, token_from="/staff/queue"
    )

    assert applied.status_code == 403
    assert answered.status_code == 403
    assert counts() == before
    assert stored_files() == files


def test_anonymous_visitor_is_sent_to_log_in(make, client):
    city = build_city(make, client)
    client.get("/lang/en")

    for path in APPLICANT_PAGES + STAFF_PAGES + SUPERVISOR_PAGES:
        target = path.format(ref=city.reference, doc=city.document.id)
        response = client.get(target)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path
    assert "Please log in to see this page." in text(client.get("/login"))


def test_anonymous_visitor_posting_a_form_is_sent_to_log_in_and_nothing_changes(make, client):
    city = build_city(make, client)
    before, files = snapshot(city.reference), stored_files()

    for path, data in [
        (f"/my/requests/{city.reference}/withdraw", {}),
        (f"/staff/requests/{city.reference}/act", {"action": "reject", "reason": "x"}),
        (
            f"/staff/requests/{city.reference}/reassign",
            {"assignee": str(city.colleague.id), "reason": "x"},
        ),
    ]:
        response = post_form(client, path, data, token_from="/login")
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")

    assert snapshot(city.reference) == before
    assert stored_files() == files


def test_public_pages_are_open_to_everyone(make, client):
    city = build_city(make, client)

    for path in ("/", "/services", f"/services/{city.service.code}", "/login", "/register"):
        assert client.get(path).status_code == 200, path


def test_deactivated_employee_is_logged_out_and_cannot_log_in(make, client):
    city = build_city(make, client)
    sign_in(client, city.assignee)
    city.assignee.active = False
    db.session.commit()

    assert client.get("/staff/queue").status_code == 302
    response = post_form(client, "/login", {"email": city.assignee.email, "password": PASSWORD})
    assert response.status_code == 422
    assert "Wrong email or password." in text(response)


def test_applicant_answering_cannot_slip_in_a_document_nobody_asked_for(make, client):
    city = build_city(make, client)
    extra = make.document_type("extra")
    sign_in(client, city.assignee)
    ask_for(client, city.reference, {city.lease.id: "Lease missing"})
    sign_in(client, city.owner)

    response = answer(
        client,
        city.reference,
        {city.lease.id: (pdf("lease"), "lease.pdf"), extra.id: (pdf("extra"), "extra.pdf")},
    )

    assert response.status_code == 302
    request = fresh(ServiceRequest, reference=city.reference)
    assert sorted(d.document_type.code for d in request.documents) == ["charter", "lease"]
    assert len(stored_files()) == 2


def test_login_never_sends_anyone_off_the_site(make, client):
    applicant = make.applicant()

    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = post_form(
            client,
            "/login",
            {"email": applicant.email, "password": PASSWORD},
            query_string={"next": target},
        )
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target
        sign_out(client)
