"""The applicant's journey, and the employee's, through the real HTTP paths."""

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import force_locale, format_datetime

from portal.extensions import db
from portal.models import Document, Event, Role, ServiceRequest, User
from tests.conftest import PASSWORD
from tests.helpers import (
    VALID_BIN,
    VALID_IIN,
    answer,
    ask_for,
    event_kinds,
    fresh,
    pdf,
    post_form,
    reassign,
    register,
    row_of,
    sign_in,
    snapshot,
    staff_act,
    stored_files,
    submit,
    submitted,
    text,
    withdraw,
)

ALMATY = ZoneInfo("Asia/Almaty")
MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=ALMATY)


# --- registering and signing in --------------------------------------------------------


def test_business_registers_with_its_bin_and_lands_in_the_catalogue(client):
    client.get("/lang/en")
    response = register(client, identifier="1905 4000-1230")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/services")
    page = text(client.get(response.headers["Location"]))
    assert "Welcome! Your account is ready." in page
    assert "Daulet Seitkali" in page  # logged in: the log-out button names them
    user = fresh(User, email="daulet@saryarqa.kz")
    assert user.role == Role.APPLICANT
    assert user.business.kind == "company"
    assert user.business.identifier == VALID_BIN  # spaces and dashes dropped
    assert user.business.name == "Saryarqa Trade LLP"
    assert user.password_hash != PASSWORD


def test_citizen_registers_with_their_iin(client):
    response = register(
        client,
        kind="citizen",
        full_name="Aruzhan Bekova",
        identifier=VALID_IIN,
        company_name="",
        email="Aruzhan@Mail.KZ",
    )

    assert response.status_code == 302
    user = fresh(User, email="aruzhan@mail.kz")  # emails are kept in lower case
    assert user.business.kind == "citizen"
    assert user.business.identifier == VALID_IIN
    assert user.business.name == "Aruzhan Bekova"


def test_registered_applicant_logs_in_and_out(make, client):
    applicant = make.applicant(name="Daulet Seitkali")
    client.get("/lang/en")

    wrong = post_form(client, "/login", {"email": applicant.email, "password": "not the one"})
    assert wrong.status_code == 422
    assert "Wrong email or password." in text(wrong)
    assert client.get("/my/requests").status_code == 302

    right = post_form(client, "/login", {"email": applicant.email.upper(), "password": PASSWORD})
    assert right.status_code == 302
    assert "My requests" in text(client.get("/my/requests"))

    out = post_form(client, "/logout", token_from="/services")
    assert out.status_code == 302
    assert "You have logged out." in text(client.get(out.headers["Location"]))
    assert client.get("/my/requests").status_code == 302


def test_login_sends_the_applicant_back_where_they_were_going(make, client):
    department = make.department()
    service = make.service(department)
    applicant = make.applicant()

    page = client.get(f"/my/apply/{service.code}")
    assert page.status_code == 302
    login_path = page.headers["Location"]
    assert login_path.startswith("/login?next=")

    response = post_form(
        client, login_path, {"email": applicant.email, "password": PASSWORD}, token_from="/login"
    )
    assert response.headers["Location"] == f"/my/apply/{service.code}"


# --- the catalogue ---------------------------------------------------------------------


def test_catalogue_groups_services_by_department_with_documents_and_target(make, client):
    land = make.department("LAND")
    business = make.department("BIZ")
    charter = make.document_type("charter")
    plan = make.document_type("site_plan")
    make.service(land, [plan], target_days=10, code="plot")
    make.service(business, [charter, plan], target_days=3, code="shop")
    make.service(business, [], target_days=1, code="sign")
    closed = make.service(business, [], code="old")
    closed.active = False
    db.session.commit()
    client.get("/lang/en")

    page = text(client.get("/services"))

    sections = {
        heading: body
        for heading, body in (
            (part.split("</h2>")[0].split(">")[-1], part) for part in page.split("<section")[1:]
        )
    }
    assert list(sections) == [land.name_en, business.name_en]
    assert "/services/plot" in sections[land.name_en]
    assert "/services/shop" not in sections[land.name_en]
    assert "/services/shop" in sections[business.name_en]
    assert "/services/sign" in sections[business.name_en]
    assert "/services/old" not in page
    shop = sections[business.name_en].split("/services/shop")[1].split("</article>")[0]
    assert "3 working days" in shop
    assert f"{charter.name_en}; {plan.name_en}" in shop
    sign = sections[business.name_en].split("/services/sign")[1].split("</article>")[0]
    assert "1 working day" in sign
    assert "none" in sign


def test_service_page_shows_department_documents_and_how_to_apply(make, client):
    department = make.department()
    charter = make.document_type("charter")
    service = make.service(department, [charter], target_days=7)
    client.get("/lang/en")

    page = text(client.get(f"/services/{service.code}"))

    assert department.name_en in page
    assert charter.name_en in page
    assert "7 working days" in page
    assert "the clock stops and resumes when you answer" in page
    assert "Log in to apply" in page

    sign_in(client, make.applicant())
    assert f'href="/my/apply/{service.code}"' in text(client.get(f"/services/{service.code}"))


# --- submitting ------------------------------------------------------------------------


def test_applicant_sees_who_is_accountable(make, login):
    department = make.department("ENT")
    charter = make.document_type("charter")
    service = make.service(department, [charter], target_days=3)
    employee = make.employee(department, name="Aigerim Nurlanova")
    applicant = make.applicant()
    client = login(applicant)

    response = submit(client, service)
    assert response.status_code == 302, response.get_data(as_text=True)
    request = db.session.scalar(sa.select(ServiceRequest))
    assert response.headers["Location"].endswith(f"/my/requests/{request.reference}/confirmation")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert request.reference in page
    assert "Aigerim Nurlanova" in page
    assert request.assignee_id == employee.id
    kinds = [e.kind for e in db.session.scalars(sa.select(Event).order_by(Event.id))]
    assert kinds == ["submitted", "assigned", "clock_started"]


def test_applicant_submits_one_upload_per_required_document(make, client, app):
    department = make.department()
    charter = make.document_type("charter")
    plan = make.document_type("site_plan")
    service = make.service(department, [charter, plan], target_days=5)
    make.employee(department)
    applicant = make.applicant()
    sign_in(client, applicant)

    form = text(client.get(f"/my/apply/{service.code}"))
    assert f'name="doc_{charter.id}"' in form
    assert f'name="doc_{plan.id}"' in form
    assert 'enctype="multipart/form-data"' in form

    reference = submitted(client, service, description="A bakery at Abay 12")

    request = fresh(ServiceRequest, reference=reference)
    assert request.state == "submitted"
    assert request.description == "A bakery at Abay 12"
    assert request.applicant_id == applicant.id
    assert request.business_id == applicant.business_id
    assert request.department_id == department.id
    assert request.due_at is not None
    documents = sorted(request.documents, key=lambda d: d.document_type_id)
    assert [(d.document_type_id, d.original_name) for d in documents] == [
        (charter.id, "charter.pdf"),
        (plan.id, "site_plan.pdf"),
    ]
    assert all(d.content_type == "application/pdf" for d in documents)
    assert all(d.uploaded_by_id == applicant.id for d in documents)
    assert sorted(d.stored_name for d in documents) == stored_files()
    folder = app.config["UPLOAD_FOLDER"]
    for document, expected in zip(documents, (pdf("charter"), pdf("site_plan")), strict=True):
        with open(f"{folder}/{document.stored_name}", "rb") as stored:
            assert stored.read() == expected
        assert document.size == len(expected)


def test_confirmation_page_tells_reference_employee_department_target_and_next_steps(
    make, client, app
):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=4)
    make.employee(department, name="Aigerim Nurlanova")
    sign_in(client, make.applicant())

    response = submit(client, service)
    page = text(client.get(response.headers["Location"]))

    request = fresh(ServiceRequest)
    year = request.submitted_at.astimezone(ALMATY).year
    assert request.reference == f"SHY-{year}-{request.id:06d}"
    assert "Request received" in page
    assert f"Your reference number is <strong>{request.reference}</strong>" in page
    assert "Aigerim Nurlanova" in page
    assert department.name_en in page
    with app.test_request_context(), force_locale("en"):
        target = format_datetime(request.due_at, "long")
    assert f"<dt>Target date</dt><dd>{target}</dd>" in page
    assert "What happens next" in page
    assert "If something is missing, they ask you for it here" in page
    assert f"/my/requests/{request.reference}" in page


def test_reference_carries_the_year_of_the_administrations_calendar(make, client, travel):
    department = make.department()
    service = make.service(department)
    make.employee(department)
    applicant = make.applicant()
    # 03:00 on New Year's morning in Almaty is still 31 December in UTC.
    travel(datetime(2026, 1, 1, 3, 0, tzinfo=ALMATY))
    sign_in(client, applicant)

    reference = submitted(client, service)

    assert reference.startswith("SHY-2026-")


def test_my_requests_shows_status_employee_due_and_time_left(make, client, travel, app):
    travel(MONDAY_MORNING)
    department = make.department()
    service = make.service(department, target_days=2)
    make.employee(department, name="Aigerim Nurlanova")
    applicant = make.applicant()
    other = make.applicant()
    sign_in(client, other)
    theirs = submitted(client, service)
    sign_in(client, applicant)
    mine = submitted(client, service)

    page = text(client.get("/my/requests"))

    assert mine in page
    assert theirs not in page
    row = row_of(page, mine)
    assert '<span class="tag state-submitted">submitted</span>' in row
    assert "on track" in row
    assert "Aigerim Nurlanova" in row
    with app.test_request_context(), force_locale("en"):
        due = format_datetime(fresh(ServiceRequest, reference=mine).due_at, "short")
    assert due in row
    # Due at 18:00 on Wednesday: 8 office hours left today, 9 tomorrow, 9 on Wednesday.
    assert "2 working days 8 h" in row


def test_request_page_shows_every_step_on_a_timeline(make, client):
    department = make.department()
    service = make.service(department, [make.document_type()])
    make.employee(department, name="Aigerim Nurlanova")
    applicant = make.applicant(name="Daulet Seitkali")
    sign_in(client, applicant)
    reference = submitted(client, service)

    page = text(client.get(f"/my/requests/{reference}"))

    timeline = page.split("Timeline")[1]
    steps = ["Request submitted", "Assigned to Aigerim Nurlanova", "Deadline set"]
    positions = [timeline.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Daulet Seitkali" in timeline  # who submitted
    assert "Withdraw the request" in page


# --- the employee's side ---------------------------------------------------------------


def test_employee_queue_is_sorted_by_time_left_waiting_ones_last(make, client, travel):
    travel(MONDAY_MORNING)
    department = make.department()
    lease = make.document_type("lease")
    slow = make.service(department, target_days=10)
    fast = make.service(department, target_days=2)
    medium = make.service(department, target_days=5)
    fastest = make.service(department, target_days=1)
    employee = make.employee(department, name="Aigerim Nurlanova")
    applicant = make.applicant()
    sign_in(client, applicant)
    references = {s: submitted(client, s) for s in (slow, fast, medium, fastest)}
    sign_in(client, employee)
    assert ask_for(client, references[fastest], {lease.id: "Lease missing"}).status_code == 302

    page = text(client.get("/staff/queue"))

    order = [references[s] for s in (fast, medium, slow, fastest)]
    positions = [page.index(reference) for reference in order]
    assert positions == sorted(positions)
    assert "4 open requests, soonest deadline first." in page
    row = row_of(page, references[fastest])
    assert "paused" in row


def test_employee_opens_request_and_downloads_a_document_as_attachment(make, client):
    department = make.department()
    charter = make.document_type("charter")
    service = make.service(department, [charter])
    employee = make.employee(department)
    applicant = make.applicant(name="Daulet Seitkali")
    sign_in(client, applicant)
    reference = submitted(client, service, description="A bakery at Abay 12")
    document = fresh(Document)

    sign_in(client, employee)
    page = text(client.get(f"/staff/requests/{reference}"))
    assert "Daulet Seitkali" in page
    assert applicant.business.identifier in page
    assert "A bakery at Abay 12" in page
    link = f"/staff/requests/{reference}/documents/{document.id}"
    assert link in page

    with client.get(link) as response:
        body = response.data

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=charter.pdf"
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert body == pdf("charter")


def test_applicant_downloads_their_own_document(make, client):
    department = make.department()
    charter = make.document_type("charter")
    service = make.service(department, [charter])
    make.employee(department)
    sign_in(client, make.applicant())
    reference = submitted(client, service)
    document = fresh(Document)

    with client.get(f"/my/requests/{reference}/documents/{document.id}") as response:
        body = response.data

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert body == pdf("charter")


def test_employee_chases_missing_documents_and_the_request_goes_to_approval(make, client):
    department = make.department()
    charter = make.document_type("charter")
    lease = make.document_type("lease")
    permit = make.document_type("fire_permit")
    service = make.service(department, [charter], target_days=10)
    employee = make.employee(department, name="Aigerim Nurlanova")
    applicant = make.applicant(name="Daulet Seitkali")
    sign_in(client, applicant)
    reference = submitted(client, service)

    # The employee accepts what came and asks for what is missing, saying why.
    sign_in(client, employee)
    response = staff_act(client, reference, "accept_documents")
    assert response.status_code == 302
    assert "Done." in text(client.get(response.headers["Location"]))
    assert snapshot(reference)["state"] == "in_review"
    response = ask_for(
        client,
        reference,
        {lease.id: "The lease must cover Abay 12", permit.id: "Needed for a bakery"},
    )
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "The applicant has been asked for the missing documents." in page
    assert "Waiting for the applicant" in page
    assert snapshot(reference)["state"] == "awaiting_documents"
    assert reference in text(client.get("/staff/queue"))

    # The applicant sees what is asked, by whom and why, and answers by uploading.
    sign_in(client, applicant)
    page = text(client.get(f"/my/requests/{reference}"))
    assert "Documents requested from you" in page
    assert "Asked by Aigerim Nurlanova" in page
    assert "Why: The lease must cover Abay 12" in page
    assert "Why: Needed for a bakery" in page
    assert "awaiting documents" in page
    response = answer(
        client,
        reference,
        {lease.id: (pdf("lease"), "lease.pdf"), permit.id: (pdf("permit"), "permit.pdf")},
    )
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Thank you. The documents went to the accountable employee." in page
    assert "Documents requested from you" not in page
    assert "lease.pdf" in page
    state = snapshot(reference)
    assert state["state"] == "in_review"
    assert state["documents"] == 3
    assert state["asks"] == ["answered"]

    # Back in the employee's queue, in review; then the decision (no one signs this off).
    sign_in(client, employee)
    queue = text(client.get("/staff/queue"))
    assert '<span class="tag state-in_review">in review</span>' in row_of(queue, reference)
    assert staff_act(client, reference, "approve").status_code == 302
    state = snapshot(reference)
    assert state["state"] == "approved"
    assert state["decided_at"] is not None
    assert reference not in text(client.get("/staff/queue"))

    assert event_kinds(reference) == [
        "submitted",
        "assigned",
        "clock_started",
        "accept_documents",
        "request_documents",
        "clock_paused",
        "provide_documents",
        "clock_resumed",
        "approve",
        "clock_stopped",
    ]
    ask = db.session.scalars(
        sa.select(Event).where(Event.kind == "request_documents").order_by(Event.id)
    ).one()
    assert ask.from_state == "in_review"
    assert ask.to_state == "awaiting_documents"
    assert ask.actor_id == employee.id
    assert [item["reason"] for item in ask.payload["items"]] == [
        "The lease must cover Abay 12",
        "Needed for a bakery",
    ]

    sign_in(client, applicant)
    page = text(client.get(f"/my/requests/{reference}"))
    assert '<span class="tag state-approved">approved</span>' in page
    assert "Approved" in page.split("Timeline")[1]
    assert "Withdraw the request" not in page


def test_employee_rejects_with_a_reason_the_applicant_can_read(make, client):
    department = make.department()
    service = make.service(department)
    employee = make.employee(department)
    applicant = make.applicant()
    sign_in(client, applicant)
    reference = submitted(client, service)
    sign_in(client, employee)

    response = staff_act(client, reference, "reject", "The plot is in a protected zone")

    assert response.status_code == 302
    state = snapshot(reference)
    assert state["state"] == "rejected"
    assert state["decided_at"] is not None
    assert event_kinds(reference)[-2:] == ["reject", "clock_stopped"]
    sign_in(client, applicant)
    page = text(client.get(f"/my/requests/{reference}"))
    assert '<span class="tag state-rejected">rejected</span>' in page
    assert "The plot is in a protected zone" in page


def test_applicant_withdraws_an_open_request(make, client):
    department = make.department()
    service = make.service(department)
    employee = make.employee(department)
    applicant = make.applicant()
    sign_in(client, applicant)
    reference = submitted(client, service)

    response = withdraw(client, reference, "We found another plot")

    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "The request was withdrawn." in page
    assert "Withdrawn by the applicant" in page
    assert "We found another plot" in page
    assert "Withdraw the request" not in page
    assert snapshot(reference)["state"] == "withdrawn"
    sign_in(client, employee)
    assert reference not in text(client.get("/staff/queue"))


def test_applicant_withdraws_while_documents_are_asked_and_the_ask_is_cancelled(make, client):
    department = make.department()
    lease = make.document_type()
    service = make.service(department)
    employee = make.employee(department)
    applicant = make.applicant()
    sign_in(client, applicant)
    reference = submitted(client, service)
    sign_in(client, employee)
    ask_for(client, reference, {lease.id: "Lease missing"})
    sign_in(client, applicant)

    assert withdraw(client, reference).status_code == 302

    state = snapshot(reference)
    assert state["state"] == "withdrawn"
    assert state["asks"] == ["cancelled"]


# --- the head of department ------------------------------------------------------------


def test_head_sees_department_queue_and_reassigns_with_a_reason(make, client):
    department = make.department()
    service = make.service(department)
    head = make.employee(department, Role.HEAD, name="Marat Akhmetov")
    aigerim = make.employee(department, name="Aigerim Nurlanova")
    bolat = make.employee(department, name="Bolat Serikov")
    applicant = make.applicant()
    sign_in(client, applicant)
    reference = submitted(client, service)
    assert snapshot(reference)["assignee_id"] == aigerim.id

    sign_in(client, head)
    assert reference not in text(client.get("/staff/queue"))
    queue = text(client.get("/staff/department"))
    assert reference in queue
    assert "Aigerim Nurlanova" in row_of(queue, reference)
    page = text(client.get(f"/staff/requests/{reference}"))
    assert "Reassign" in page
    assert f'<option value="{bolat.id}">Bolat Serikov</option>' in page
    assert f'<option value="{aigerim.id}">' not in page  # not to whoever has it

    response = reassign(client, reference, bolat.id, "Aigerim is on leave this week")

    assert response.status_code == 302
    assert "The request was reassigned." in text(client.get(response.headers["Location"]))
    assert snapshot(reference)["assignee_id"] == bolat.id
    event = db.session.scalars(sa.select(Event).where(Event.kind == "reassigned")).one()
    assert event.actor_id == head.id
    assert event.payload["previous_id"] == aigerim.id
    assert event.payload["assignee_id"] == bolat.id
    assert event.payload["reason"] == "Aigerim is on leave this week"

    sign_in(client, bolat)
    assert reference in text(client.get("/staff/queue"))
    sign_in(client, aigerim)
    assert reference not in text(client.get("/staff/queue"))
    sign_in(client, applicant)
    page = text(client.get(f"/my/requests/{reference}"))
    assert "Reassigned from Aigerim Nurlanova to Bolat Serikov" in page
    # Who is accountable now is the applicant's business; why (a colleague's leave) is not.
    assert "Aigerim is on leave this week" not in page


def test_head_acts_on_a_request_of_the_department(make, client):
    department = make.department()
    service = make.service(department)
    head = make.employee(department, Role.HEAD)
    make.employee(department)
    sign_in(client, make.applicant())
    reference = submitted(client, service)
    sign_in(client, head)

    response = staff_act(client, reference, "accept_documents")

    assert response.status_code == 302
    assert snapshot(reference)["state"] == "in_review"
    assert event_kinds(reference)[-1] == "accept_documents"


def test_assignment_goes_to_fewest_open_requests_then_least_recently_assigned(make, client, travel):
    department = make.department()
    service = make.service(department)
    make.employee(department, Role.HEAD)  # heads take work only when nobody else can
    aigerim = make.employee(department, name="Aigerim Nurlanova")
    bolat = make.employee(department, name="Bolat Serikov")
    applicant = make.applicant()
    travel(MONDAY_MORNING)
    sign_in(client, applicant)

    def submit_at(hour):
        travel(MONDAY_MORNING.replace(hour=hour))
        reference = submitted(client, service)
        return reference, snapshot(reference)["assignee_id"]

    first, to = submit_at(10)
    assert to == aigerim.id  # nobody has work; neither was ever given any
    second, to = submit_at(11)
    assert to == bolat.id  # Aigerim has one open, Bolat none
    third, to = submit_at(12)
    assert to == aigerim.id  # one each: Aigerim was given work longer ago
    assert withdraw(client, first).status_code == 302  # a closed request is not load
    fourth, to = submit_at(13)
    assert to == bolat.id  # one open each again; Bolat waited longer since 11:00
    fifth, to = submit_at(14)
    assert to == aigerim.id  # Aigerim has one open, Bolat two


def test_department_without_staff_gives_work_to_the_head(make, client):
    department = make.department()
    service = make.service(department)
    head = make.employee(department, Role.HEAD, name="Marat Akhmetov")
    sign_in(client, make.applicant())

    reference = submitted(client, service)

    assert snapshot(reference)["assignee_id"] == head.id
    assert "Marat Akhmetov" in text(client.get(f"/my/requests/{reference}/confirmation"))
