"""Bad input gets a clear message and changes nothing: no rows, no files, never a 500."""

import io
import re
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import Document, Role, ServiceRequest
from portal.services import accounts
from tests.conftest import PASSWORD, PDF, PNG, csrf_token
from tests.helpers import (
    VALID_BIN,
    VALID_IIN,
    answer,
    ask_for,
    counts,
    fresh,
    pdf,
    post_form,
    reassign,
    register,
    sign_in,
    sign_out,
    snapshot,
    staff_act,
    stored_files,
    submit,
    submitted,
    text,
)


def field_error(page: str, field: str) -> str | None:
    """The message shown under a form field, if any."""
    found = re.search(
        rf'<small id="{field}-error" class="field-error" role="alert">(.*?)</small>', page
    )
    return found.group(1) if found else None


def form_errors(page: str) -> list[str]:
    return re.findall(r'<p class="form-error" role="alert">(.*?)</p>', page)


def nothing_changed(before, files=()):
    assert counts() == before
    assert stored_files() == list(files)


# --- registering -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"identifier": "190540001231"}, "identifier", "This is not a valid BIN."),
        (
            {"identifier": "1905400012"},
            "identifier",
            "Field must be between 12 and 20 characters long.",
        ),
        ({"identifier": "19054000123X"}, "identifier", "This is not a valid BIN."),
        (
            {"kind": "citizen", "identifier": "900101300127", "company_name": ""},
            "identifier",
            "This is not a valid IIN.",
        ),
        (
            {"kind": "citizen", "identifier": VALID_BIN, "company_name": ""},
            "identifier",
            "This is not a valid IIN.",
        ),
        ({"identifier": VALID_IIN}, "identifier", "This is not a valid BIN."),
        ({"company_name": ""}, "company_name", "Enter the company name."),
        ({"kind": "ministry"}, "kind", "Not a valid choice."),
        ({"email": "not-an-email"}, "email", "Invalid email address."),
        (
            {"password": "short", "confirm": "short"},
            "password",
            "Use at least 8 characters. A few words together are easy to remember.",
        ),
        (
            {"password": "iloveyou123", "confirm": "iloveyou123"},
            "password",
            "This password is on a list of common passwords and is easy to guess. "
            "Choose another one.",
        ),
        ({"confirm": PASSWORD + "!"}, "confirm", "The passwords differ."),
        ({"full_name": "   "}, "full_name", "This field is required."),
    ],
    ids=[
        "bin-check-digit",
        "bin-too-short",
        "bin-letter",
        "iin-check-digit",
        "bin-as-iin",
        "iin-as-bin",
        "no-company-name",
        "unknown-kind",
        "bad-email",
        "short-password",
        "common-password",
        "passwords-differ",
        "blank-name",
    ],
)
def test_registration_with_bad_details_says_what_is_wrong_and_creates_nobody(
    client, fields, field, message
):
    client.get("/lang/en")
    before = counts()

    response = register(client, **fields)

    assert response.status_code == 422
    page = text(response)
    assert field_error(page, field) == message
    assert counts() == before
    assert client.get("/my/requests").status_code == 302  # not logged in


def test_registration_with_a_taken_email_is_refused(client):
    accounts.register_applicant(
        email="daulet@saryarqa.kz",
        password=PASSWORD,
        full_name="Daulet Seitkali",
        kind="company",
        identifier=VALID_BIN,
        company_name="Saryarqa Trade LLP",
    )
    client.get("/lang/en")
    before = counts()

    response = register(client, email="Daulet@Saryarqa.KZ", full_name="Someone Else")

    assert response.status_code == 422
    assert field_error(text(response), "email") == "An account with this email already exists."
    assert counts() == before


def test_registration_keeps_what_was_typed_but_never_the_password(client):
    client.get("/lang/en")

    page = text(register(client, identifier="190540001231"))

    assert 'value="Saryarqa Trade LLP"' in page
    assert 'value="daulet@saryarqa.kz"' in page
    assert PASSWORD not in page


def test_login_with_an_unknown_email_says_the_same_as_a_wrong_password(make, client):
    client.get("/lang/en")
    applicant = make.applicant()

    unknown = post_form(client, "/login", {"email": "nobody@firm.test", "password": PASSWORD})
    wrong = post_form(client, "/login", {"email": applicant.email, "password": "wrong one!!"})
    empty = post_form(client, "/login", {"email": "", "password": ""})

    assert unknown.status_code == wrong.status_code == empty.status_code == 422
    assert field_error(text(unknown), "password") == "Wrong email or password."
    assert field_error(text(wrong), "password") == "Wrong email or password."
    assert field_error(text(empty), "email") == "This field is required."


# --- submitting ------------------------------------------------------------------------


@pytest.fixture
def counter(make, client):
    """A service with two required documents, an employee, and an applicant logged in."""
    department = make.department()
    charter = make.document_type("charter")
    plan = make.document_type("site_plan")
    service = make.service(department, [charter, plan])
    make.employee(department)
    sign_in(client, make.applicant())
    return service, charter, plan


def test_a_text_file_named_pdf_is_refused(client, counter):
    service, charter, plan = counter
    before = counts()

    response = submit(
        client, service, files={f"doc_{plan.id}": (io.BytesIO(b"just some text\n"), "plan.pdf")}
    )

    assert response.status_code == 422
    page = text(response)
    assert field_error(page, f"doc_{plan.id}") == "Only PDF, JPEG and PNG files are accepted."
    assert field_error(page, f"doc_{charter.id}") is None
    nothing_changed(before)


def test_an_html_page_disguised_as_a_png_is_refused(client, counter):
    service, charter, _ = counter
    before = counts()
    disguised = PNG + b"<script>alert(1)</script>"
    disguised = disguised[:8] + b"<html>" + disguised[8:]

    response = submit(
        client, service, files={f"doc_{charter.id}": (io.BytesIO(disguised), "charter.png")}
    )

    assert response.status_code == 422
    assert "Only PDF, JPEG and PNG files are accepted." in text(response)
    nothing_changed(before)


def test_a_pdf_with_a_script_is_refused(client, counter):
    service, charter, _ = counter
    before = counts()
    scripted = PDF.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/JavaScript/JS(x)>>")

    response = submit(
        client, service, files={f"doc_{charter.id}": (io.BytesIO(scripted), "charter.pdf")}
    )

    assert response.status_code == 422
    assert "PDF files with scripts or embedded actions are not accepted." in text(response)
    nothing_changed(before)


def test_an_oversize_file_is_refused_with_the_limit(client, counter, app):
    service, charter, _ = counter
    assert app.config["MAX_UPLOAD_BYTES"] == 200 * 1024
    before = counts()
    big = PDF + b"%" + b"0" * (200 * 1024)

    response = submit(client, service, files={f"doc_{charter.id}": (io.BytesIO(big), "big.pdf")})

    assert response.status_code == 422
    message = field_error(text(response), f"doc_{charter.id}")
    assert message == "The file is larger than 0.195312 MB."
    nothing_changed(before)


def test_a_file_exactly_at_the_limit_is_accepted(client, counter):
    service, charter, _ = counter
    exact = PDF + b"%" + b"0" * (200 * 1024 - len(PDF) - 1)
    assert len(exact) == 200 * 1024

    response = submit(
        client, service, files={f"doc_{charter.id}": (io.BytesIO(exact), "exact.pdf")}
    )

    assert response.status_code == 302


def test_an_empty_file_is_refused(client, counter):
    service, charter, _ = counter
    before = counts()

    response = submit(client, service, files={f"doc_{charter.id}": (io.BytesIO(b""), "c.pdf")})

    assert response.status_code == 422
    assert field_error(text(response), f"doc_{charter.id}") == "The file is empty."
    nothing_changed(before)


def test_a_body_too_large_for_the_server_is_refused_before_anything_is_read(client, counter, app):
    service, charter, _ = counter
    app.config["MAX_CONTENT_LENGTH"] = 300 * 1024
    before = counts()
    huge = PDF + b"%" + b"0" * (400 * 1024)

    response = submit(client, service, files={f"doc_{charter.id}": (io.BytesIO(huge), "h.pdf")})

    assert response.status_code == 413
    assert "The files sent together are too large." in text(response)
    nothing_changed(before)


def test_a_missing_required_document_is_named(client, counter):
    service, charter, plan = counter
    before = counts()

    response = submit(client, service, skip={plan.id})

    assert response.status_code == 422
    page = text(response)
    assert field_error(page, f"doc_{plan.id}") == "Attach this document."
    assert f'aria-invalid="true" id="doc_{plan.id}"' in page
    assert f'aria-invalid="true" id="doc_{charter.id}"' not in page
    nothing_changed(before)


def test_one_bad_file_among_good_ones_stores_none_of_them(client, counter):
    service, charter, plan = counter
    before = counts()

    response = submit(
        client,
        service,
        files={
            f"doc_{charter.id}": (io.BytesIO(pdf("good")), "charter.pdf"),
            f"doc_{plan.id}": (io.BytesIO(b"MZ\x90\x00 an exe"), "plan.pdf"),
        },
    )

    assert response.status_code == 422
    nothing_changed(before)


@pytest.mark.parametrize("description", ["", "   \n  "])
def test_an_empty_description_is_refused(client, counter, description):
    service, _, _ = counter
    before = counts()

    response = submit(client, service, description=description)

    assert response.status_code == 422
    assert field_error(text(response), "description") == "This field is required."
    nothing_changed(before)


def test_an_overlong_description_is_refused(client, counter):
    service, _, _ = counter
    before = counts()

    response = submit(client, service, description="x" * 4001)

    assert response.status_code == 422
    assert field_error(text(response), "description") == (
        "Field cannot be longer than 4000 characters."
    )
    nothing_changed(before)


# --- forged or stale forms -------------------------------------------------------------


def test_a_submission_without_csrf_token_is_refused(client, counter):
    service, charter, plan = counter
    before = counts()
    data = {
        "description": "No token",
        f"doc_{charter.id}": (io.BytesIO(PDF), "c.pdf"),
        f"doc_{plan.id}": (io.BytesIO(PDF), "p.pdf"),
    }

    response = client.post(f"/my/apply/{service.code}", data=data)

    assert response.status_code == 400
    assert "The form was stale or incomplete. Please try again." in text(response)
    nothing_changed(before)


def test_registration_with_a_forged_csrf_token_is_refused(client):
    client.get("/lang/en")
    before = counts()

    response = client.post(
        "/register",
        data={
            "csrf_token": "forged",
            "kind": "company",
            "full_name": "Daulet",
            "identifier": VALID_BIN,
            "company_name": "Firm",
            "email": "d@firm.kz",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )

    assert response.status_code == 400
    assert "Form expired" in text(response)
    assert counts() == before


def test_a_staff_action_without_csrf_token_is_refused(make, client):
    department = make.department()
    service = make.service(department)
    employee = make.employee(department)
    sign_in(client, make.applicant())
    reference = submitted(client, service)
    sign_in(client, employee)
    before = snapshot(reference)

    response = client.post(f"/staff/requests/{reference}/act", data={"action": "accept_documents"})

    assert response.status_code == 400
    assert snapshot(reference) == before


def test_a_token_from_another_session_is_refused(make, client, app):
    department = make.department()
    service = make.service(department)
    employee = make.employee(department)
    sign_in(client, make.applicant())
    reference = submitted(client, service)
    sign_in(client, employee)
    before = snapshot(reference)
    other = app.test_client()
    foreign_token = csrf_token(other, "/login")

    response = client.post(
        f"/staff/requests/{reference}/act",
        data={"action": "accept_documents", "csrf_token": foreign_token},
    )

    assert response.status_code == 400
    assert snapshot(reference) == before


# --- addresses that lead nowhere -------------------------------------------------------


def test_an_unknown_service_is_not_found(make, client):
    applicant = make.applicant()
    client.get("/lang/en")

    assert client.get("/services/no-such-service").status_code == 404
    sign_in(client, applicant)
    before = counts()
    page = client.get("/my/apply/no-such-service")
    assert page.status_code == 404
    assert "Not found" in text(page)
    posted = post_form(
        client, "/my/apply/no-such-service", {"description": "x"}, token_from="/my/requests"
    )
    assert posted.status_code == 404
    nothing_changed(before)


def test_an_inactive_service_takes_no_requests(make, client):
    department = make.department()
    service = make.service(department)
    make.employee(department)
    sign_in(client, make.applicant())
    token = csrf_token(client, f"/my/apply/{service.code}")
    service.active = False  # closed while the form was open
    db.session.commit()
    before = counts()

    response = client.post(
        f"/my/apply/{service.code}", data={"csrf_token": token, "description": "Late"}
    )

    assert response.status_code == 404
    assert client.get(f"/services/{service.code}").status_code == 404
    nothing_changed(before)


def test_a_request_with_a_nonsense_reference_is_not_found(make, client):
    sign_in(client, make.applicant())

    for path in ("/my/requests/../../etc/passwd", "/my/requests/SHY-x", "/my/requests/%FF"):
        response = client.get(path)
        assert response.status_code == 404, path


def test_nul_characters_are_refused_before_they_reach_the_database(make, client):
    """PostgreSQL text cannot hold them: unchecked, each of these ended in a 500 there."""
    department = make.department()
    service = make.service(department)
    employee = make.employee(department)
    applicant = make.applicant()
    sign_in(client, applicant)
    reference = submitted(client, service)
    before, files = counts(), stored_files()

    for path in ("/my/requests/%00", f"/my/requests/{reference}%00", "/services/x%00"):
        assert client.get(path).status_code == 400, path
    assert submit(client, service, description="A shop\x00").status_code == 400
    sign_in(client, employee)
    assert staff_act(client, reference, "reject", "No\x00").status_code == 400
    client.get("/lang/en")
    sign_out(client)
    login = post_form(client, "/login", {"email": "a\x00@firm.kz", "password": PASSWORD})
    assert login.status_code == 400
    assert "The request could not be understood." in text(login)
    nothing_changed(before, files)
    assert snapshot(reference)["state"] == "submitted"


def test_a_document_gone_from_disk_is_not_found_rather_than_a_crash(make, client, app):
    department = make.department()
    charter = make.document_type("charter")
    service = make.service(department, [charter])
    make.employee(department)
    sign_in(client, make.applicant())
    reference = submitted(client, service)
    (name,) = stored_files()
    (Path(app.config["UPLOAD_FOLDER"]) / name).unlink()
    document = fresh(Document, request_id=fresh(ServiceRequest, reference=reference).id)

    response = client.get(f"/my/requests/{reference}/documents/{document.id}")

    assert response.status_code == 404


# --- the employee's forms --------------------------------------------------------------


@pytest.fixture
def case(make, client):
    """A submitted request, with its employee logged in."""
    department = make.department()
    lease = make.document_type("lease")
    service = make.service(department)
    employee = make.employee(department, name="Aigerim Nurlanova")
    head = make.employee(department, Role.HEAD)
    colleague = make.employee(department, name="Bolat Serikov")
    outsider = make.employee(make.department(), name="Saule Omarova")
    applicant = make.applicant()
    sign_in(client, applicant)
    reference = submitted(client, service)
    sign_in(client, employee)
    return {
        "reference": reference,
        "lease": lease,
        "employee": employee,
        "head": head,
        "colleague": colleague,
        "outsider": outsider,
        "applicant": applicant,
    }


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_rejecting_needs_a_reason(client, case, reason):
    reference = case["reference"]
    before = snapshot(reference)

    response = staff_act(client, reference, "reject", reason)

    assert response.status_code == 422
    assert "Give a reason." in form_errors(text(response))
    assert snapshot(reference) == before


def test_an_action_form_without_an_action_is_refused(client, case):
    reference = case["reference"]
    before = snapshot(reference)

    response = staff_act(client, reference, "")

    assert response.status_code == 422
    assert snapshot(reference) == before


def test_asking_for_nothing_or_without_a_reason_is_refused(client, case):
    reference, lease = case["reference"], case["lease"]
    before = snapshot(reference)

    nothing = post_form(
        client, f"/staff/requests/{reference}/ask", {}, token_from=f"/staff/requests/{reference}"
    )
    no_reason = ask_for(client, reference, {lease.id: "  "})

    assert nothing.status_code == 422
    assert "Choose at least one document." in form_errors(text(nothing))
    assert no_reason.status_code == 422
    assert "Say why each document is needed." in form_errors(text(no_reason))
    assert snapshot(reference) == before


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("outsider", "Not a valid choice."),
        ("applicant", "Not a valid choice."),
        ("employee", "Not a valid choice."),  # already has it
    ],
)
def test_reassigning_outside_the_department_is_refused(make, client, case, who, message):
    reference = case["reference"]
    sign_in(client, case["head"])
    before = snapshot(reference)

    response = reassign(client, reference, case[who].id, "Because")

    assert response.status_code == 422
    assert field_error(text(response), "assignee") == message
    assert snapshot(reference) == before


def test_reassigning_needs_a_reason_and_a_person(client, case):
    reference = case["reference"]
    sign_in(client, case["head"])
    before = snapshot(reference)

    no_reason = reassign(client, reference, case["colleague"].id, "")
    no_person = reassign(client, reference, "not-a-number", "Because")

    assert no_reason.status_code == 422
    assert field_error(text(no_reason), "reason") == "This field is required."
    assert no_person.status_code == 422
    assert field_error(text(no_person), "assignee") is not None
    assert snapshot(reference) == before


def test_a_decided_request_cannot_be_reassigned(client, case):
    reference = case["reference"]
    assert staff_act(client, reference, "reject", "Out of scope").status_code == 302
    sign_in(client, case["head"])
    before = snapshot(reference)

    response = reassign(client, reference, case["colleague"].id, "Because")

    assert response.status_code == 409
    assert "A decided request cannot be reassigned." in form_errors(text(response))
    assert snapshot(reference) == before


# --- the applicant's answer ------------------------------------------------------------


def test_an_answer_missing_a_document_or_with_a_bad_file_changes_nothing(make, client, case):
    reference, lease = case["reference"], case["lease"]
    permit = make.document_type("permit")
    assert ask_for(client, reference, {lease.id: "Lease", permit.id: "Permit"}).status_code == 302
    sign_in(client, case["applicant"])
    before, files = snapshot(reference), stored_files()

    missing = answer(client, reference, {lease.id: (pdf("lease"), "lease.pdf")})
    bad = answer(
        client,
        reference,
        {lease.id: (pdf("lease"), "lease.pdf"), permit.id: (b"plain text", "permit.pdf")},
    )

    assert missing.status_code == 422
    assert field_error(text(missing), f"doc_{permit.id}") == "Attach this document."
    assert bad.status_code == 422
    assert field_error(text(bad), f"doc_{permit.id}") == (
        "Only PDF, JPEG and PNG files are accepted."
    )
    assert snapshot(reference) == before
    assert before["state"] == "awaiting_documents"
    assert stored_files() == files


def test_a_bin_registered_by_someone_else_cannot_be_claimed(client):
    """A taken BIN only lets the newcomer ask the owner to be let in: no business of
    their own, no access to the business's requests (tests/test_business_members.py)."""
    accounts.register_applicant(
        email="daulet@saryarqa.kz",
        password=PASSWORD,
        full_name="Daulet Seitkali",
        kind="company",
        identifier=VALID_BIN,
        company_name="Saryarqa Trade LLP",
    )
    client.get("/lang/en")
    before = counts()

    response = register(client, email="impostor@example.kz", full_name="Someone Else")

    assert response.status_code == 302
    assert counts() == {**before, "User": before["User"] + 1}
    assert "Saryarqa Trade LLP" in text(client.get("/my/business"))
    assert "You asked to join this business" in text(client.get("/my/business"))
