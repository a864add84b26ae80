"""The foundation walkthrough, steps 2-8, in a real Chromium against the live app.

One applicant registers, browses the catalogue and submits two requests; the accountable
employee reviews the first one, asks for a missing document, gets it and has it approved;
the head of the department reassigns the second one, which the applicant then withdraws.
Selectors go by role and label, so every step also checks that the page names its parts.
"""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_date, format_datetime
from playwright.sync_api import Page, expect

from portal import identifiers
from portal.extensions import db
from portal.models import Business, DocumentRequest, Role, ServiceRequest, User
from tests.conftest import PASSWORD, PDF

pytestmark = pytest.mark.browser

REFERENCE = re.compile(r"[A-Z]+-\d{4}-\d{6}")
TIME_LEFT = re.compile(r"^(\d+ working days?( \d+ h)?|\d+ h)$")


# --- helpers: what a person does and reads ------------------------------------------------


def to_english(page: Page) -> None:
    """Switch the interface to English through the language links, as a visitor would."""
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    # Each language names itself, so the link reads "English" whatever the page's language.
    english = page.get_by_role("link", name="English", exact=True)
    english.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(english).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("navigation", name="Language")).to_contain_text("English")


def log_in(page: Page, email: str, who: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=f"Log out ({who})")).to_be_visible()


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def flash(page: Page, text: str) -> None:
    """The message after a form; a form error instead shows up in the failure."""
    said = page.get_by_role("status").or_(page.get_by_role("alert")).first
    expect(said).to_contain_text(text)


def fact(page: Page, term: str):
    """The value (dd) beside a term (dt) of the page's facts list."""
    return page.locator("dl.facts > dt", has_text=re.compile(rf"^{re.escape(term)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def row_of(page: Page, reference: str):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))


def timeline(page: Page):
    return page.get_by_role("region", name="Timeline").get_by_role("listitem")


def apply_for(page: Page, department: str, service: str, description: str, files: dict) -> str:
    """From the catalogue: open the service, apply, attach, submit; returns the reference."""
    nav(page, "Services")
    section = page.get_by_role("region", name=department)
    section.get_by_role("link", name=service, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(service)
    page.get_by_role("button", name="Apply").click()
    page.get_by_label("What do you need? (short description)").fill(description)
    required = page.get_by_role("group", name="Required documents")
    for label, path in files.items():
        required.get_by_label(label, exact=True).set_input_files(path)
    page.get_by_role("button", name="Submit the request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request received")
    expect(page).to_have_url(re.compile(r"/my/requests/[A-Z]+-\d{4}-\d{6}/confirmation$"))
    return REFERENCE.search(page.url).group(0)


def fresh(model, **where):
    """Read again what the browser changed: drop what this thread holds first."""
    db.session.expire_all()
    db.session.rollback()
    return db.session.scalar(sa.select(model).filter_by(**where))


# --- the walkthrough -----------------------------------------------------------------------


def test_foundation_walkthrough(make, new_page, tmp_path, app):
    # The administration as an admin would have set it up.
    department = make.department("ENT")
    archive = make.department("ARC")
    charter = make.document_type("charter")
    lease = make.document_type("lease")
    plan = make.document_type("plan")
    service = make.service(department, [charter], target_days=5, code="shop")
    other_service = make.service(archive, [plan], target_days=10, code="sign")
    aigerim = make.employee(department, name="Aigerim Nurlanova")
    bolat = make.employee(department, name="Bolat Serikov")
    head = make.employee(department, role=Role.HEAD, name="Dana Akhmetova")
    make.employee(archive, name="Someone Elsewhere")
    names = {
        "department": department.name_en,
        "department_ru": department.name_ru,
        "archive": archive.name_en,
        "charter": charter.name_en,
        "lease": lease.name_en,
        "plan": plan.name_en,
        "service": service.title_en,
        "other_service": other_service.title_en,
    }
    people = {u.full_name: (u.id, u.email) for u in (aigerim, bolat, head)}
    charter_id, lease_id = charter.id, lease.id
    db.session.commit()
    timezone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])

    charter_pdf = tmp_path / "charter.pdf"
    charter_pdf.write_bytes(PDF)
    lease_pdf = tmp_path / "lease.pdf"
    lease_pdf.write_bytes(PDF)
    bin_ = identifiers.with_check_digit("24014000123")
    assert identifiers.is_valid_bin(bin_)

    # 2. An applicant registers for a business and is logged in.
    applicant = new_page()
    applicant.goto("/services")
    expect(applicant.get_by_role("region", name=names["department_ru"])).to_be_visible()
    to_english(applicant)
    expect(applicant).to_have_url(re.compile(r"/services$"))  # the switch came back here
    nav(applicant, "Register")
    applicant.get_by_label("a business (BIN)").check()
    applicant.get_by_label("Your full name").fill("Yerlan Dosmukhamedov")
    applicant.get_by_label("BIN or IIN (12 digits)").fill(bin_)
    applicant.get_by_label("Company name").fill("Dala Trade LLP")
    applicant.get_by_label("Email").fill("yerlan@dala.kz")
    applicant.get_by_label("Password", exact=True).fill(PASSWORD)
    applicant.get_by_label("Repeat the password").fill(PASSWORD)
    applicant.get_by_role("button", name="Create the account").click()
    flash(applicant, "Welcome! Your account is ready.")
    expect(applicant.get_by_role("button", name="Log out (Yerlan Dosmukhamedov)")).to_be_visible()
    expect(applicant.locator("html")).to_have_attribute("lang", "en")  # kept across login

    # 3. The catalogue: services by department, with description, documents and target.
    expect(applicant.get_by_role("heading", level=1)).to_have_text("Service catalogue")
    section = applicant.get_by_role("region", name=names["department"])
    entry = section.get_by_role("article").filter(
        has=applicant.get_by_role("heading", name=names["service"], exact=True)
    )
    expect(entry).to_contain_text("Description")
    expect(entry).to_contain_text("Target: 5 working days")
    expect(entry).to_contain_text(f"Required documents: {names['charter']}")
    elsewhere = applicant.get_by_role("region", name=names["archive"])
    expect(elsewhere).to_contain_text(names["other_service"])
    expect(elsewhere).to_contain_text("10 working days")
    expect(elsewhere.get_by_role("link", name=names["service"], exact=True)).to_have_count(0)

    # ... and submits a request with one upload per required document.
    first = apply_for(
        applicant,
        names["department"],
        names["service"],
        "Please register our new shop on Abay avenue.",
        {names["charter"]: charter_pdf},
    )

    # 4. Confirmation: reference, accountable employee and department, target date.
    main = applicant.get_by_role("main")
    expect(main).to_contain_text(f"Your reference number is {first}.")
    expect(fact(applicant, "Accountable employee")).to_have_text("Aigerim Nurlanova")
    expect(fact(applicant, "Department")).to_have_text(names["department"])
    due_at = fresh(ServiceRequest, reference=first).due_at
    assert due_at is not None
    expect(fact(applicant, "Target date")).to_contain_text(
        format_date(due_at.astimezone(timezone), "long", locale="en")
    )

    # 5. My requests: status, accountable employee, due date, time left; then the timeline.
    nav(applicant, "My requests")
    expect(applicant.get_by_role("columnheader")).to_have_text(
        ["Reference", "Service", "Status", "Accountable employee", "Due", "Time left"]
    )
    due_short = format_datetime(due_at, "short", tzinfo=timezone, locale="en")
    expect(row_of(applicant, first).get_by_role("cell")).to_have_text(
        [
            first,
            names["service"],
            re.compile(r"^submitted\b.*on track"),
            "Aigerim Nurlanova",
            due_short,
            TIME_LEFT,
        ]
    )
    row_of(applicant, first).get_by_role("link", name=first).click()
    expect(applicant.get_by_role("heading", level=1)).to_have_text(f"Request {first}")
    expect(timeline(applicant)).to_have_text(
        [
            re.compile(r"Request submitted\s+— Yerlan Dosmukhamedov"),
            re.compile("Assigned to Aigerim Nurlanova"),
            re.compile("Deadline set"),
        ]
    )

    # A second request, for step 6; the least busy employee gets it.
    second = apply_for(
        applicant,
        names["department"],
        names["service"],
        "A second shop, in the old market.",
        {names["charter"]: charter_pdf},
    )
    expect(fact(applicant, "Accountable employee")).to_have_text("Bolat Serikov")

    # 7. The accountable employee: queue, the request, its document, a missing one asked.
    staff = new_page()
    staff.goto("/")
    to_english(staff)
    log_in(staff, people["Aigerim Nurlanova"][1], "Aigerim Nurlanova")
    expect(staff.get_by_role("heading", level=1)).to_have_text("My queue")
    expect(staff.get_by_role("main")).to_contain_text("1 open request, soonest deadline first.")
    expect(row_of(staff, first)).to_contain_text("Dala Trade LLP")
    expect(row_of(staff, second)).to_have_count(0)  # Bolat's, not hers
    row_of(staff, first).get_by_role("link", name=first).click()
    expect(staff.get_by_role("main")).to_contain_text(f"Dala Trade LLP ({bin_})")

    documents = staff.get_by_role("region", name="Documents")
    with staff.expect_download() as downloading:
        documents.get_by_role("link", name=f"{names['charter']}: charter.pdf").click()
    download = downloading.value
    assert download.suggested_filename == "charter.pdf"
    assert Path(download.path()).read_bytes() == PDF

    staff.get_by_role("button", name="Accept documents").click()
    flash(staff, "Done.")
    expect(fact(staff, "Status")).to_contain_text("in review")

    reason = "The lease contract for the shop premises is missing."
    asking = staff.get_by_role("group", name="Ask for missing documents")
    wanted = asking.get_by_role("group", name=names["lease"])
    wanted.get_by_role("checkbox", name=names["lease"]).check()
    wanted.get_by_role("textbox", name="Why it is needed").fill(reason)
    staff.get_by_role("button", name="Ask for missing documents").click()
    flash(staff, "The applicant has been asked for the missing documents.")
    expect(staff.get_by_role("region", name="Waiting for the applicant")).to_contain_text(
        f"{names['lease']}: {reason}"
    )
    expect(fact(staff, "Status")).to_contain_text("awaiting documents")

    # 8. The applicant sees what is asked, and why, and answers by uploading it.
    nav(applicant, "My requests")
    expect(row_of(applicant, first).get_by_role("cell").nth(2)).to_contain_text(
        "awaiting documents"
    )
    expect(row_of(applicant, first).get_by_role("cell").nth(5)).to_have_text("paused")
    row_of(applicant, first).get_by_role("link", name=first).click()
    asked = applicant.get_by_role("region", name="Documents requested from you")
    expect(asked).to_contain_text("Asked by Aigerim Nurlanova")
    expect(asked).to_contain_text(f"Why: {reason}")
    expect(timeline(applicant).filter(has_text="Missing documents requested")).to_contain_text(
        reason
    )
    asked.get_by_label(names["lease"], exact=True).set_input_files(lease_pdf)
    asked.get_by_role("button", name="Send the documents").click()
    flash(applicant, "Thank you. The documents went to the accountable employee.")
    expect(applicant.get_by_role("region", name="Documents requested from you")).to_have_count(0)
    expect(fact(applicant, "Status")).to_contain_text("in review")

    # ... the employee has it back in review and approves it (no one signs this service off).
    staff.reload()
    expect(fact(staff, "Status")).to_contain_text("in review")
    expect(staff.get_by_role("region", name="Waiting for the applicant")).to_have_count(0)
    expect(staff.get_by_role("region", name="Documents")).to_contain_text(
        f"{names['lease']}: lease.pdf"
    )
    expect(timeline(staff).filter(has_text="Missing documents provided")).to_have_count(1)
    expect(staff.get_by_role("button", name="Send to approval")).to_have_count(0)
    staff.get_by_role("button", name="Approve", exact=True).click()
    flash(staff, "Done.")
    expect(fact(staff, "Status")).to_contain_text("approved")
    expect(staff.get_by_role("region", name="Act on this request")).to_have_count(0)

    # The head of the department: the department queue, and a reassignment with a reason.
    chief = new_page()
    chief.goto("/")
    to_english(chief)
    log_in(chief, people["Dana Akhmetova"][1], "Dana Akhmetova")
    nav(chief, "Department queue")
    expect(chief.get_by_role("heading", level=1)).to_have_text(
        f"Department queue: {names['department']}"
    )
    expect(row_of(chief, second)).to_contain_text("Bolat Serikov")
    expect(row_of(chief, first)).to_have_count(0)  # decided, out of the queue
    row_of(chief, second).get_by_role("link", name=second).click()
    reassigning = chief.get_by_role("region", name="Reassign")
    reassigning.get_by_label("New accountable employee").select_option(label="Aigerim Nurlanova")
    reassigning.get_by_label("Reason", exact=True).fill("Bolat is on leave this week.")
    reassigning.get_by_role("button", name="Reassign").click()
    flash(chief, "The request was reassigned.")
    expect(fact(chief, "Accountable employee")).to_have_text(
        f"Aigerim Nurlanova, {names['department']}"
    )
    expect(timeline(chief).filter(has_text="Reassigned")).to_have_text(
        re.compile(
            r"Reassigned from Bolat Serikov to Aigerim Nurlanova\s+— Dana Akhmetova\s*"
            r"Reason: Bolat is on leave this week\."
        )
    )

    # 6. The applicant withdraws the second, undecided request.
    nav(applicant, "My requests")
    expect(row_of(applicant, first).get_by_role("cell").nth(2)).to_contain_text("approved")
    expect(row_of(applicant, second)).to_contain_text("Aigerim Nurlanova")
    row_of(applicant, second).get_by_role("link", name=second).click()
    withdrawing = applicant.get_by_role("region", name="Withdraw the request")
    withdrawing.get_by_label("Why (optional)").fill("We found another location.")
    withdrawing.get_by_role("button", name="Withdraw").click()
    flash(applicant, "The request was withdrawn.")
    expect(fact(applicant, "Status")).to_contain_text("withdrawn")
    expect(applicant.get_by_role("region", name="Withdraw the request")).to_have_count(0)
    expect(timeline(applicant).nth(-2)).to_contain_text("Withdrawn by the applicant")
    expect(timeline(applicant).last).to_contain_text("Clock stopped")

    assert new_page.errors == []  # no error page on the way, form errors included

    # What the browser did is what the database holds.
    user = fresh(User, email="yerlan@dala.kz")
    assert (user.role, user.full_name, user.locale) == ("applicant", "Yerlan Dosmukhamedov", "en")
    business = db.session.scalar(sa.select(Business).where(Business.id == user.business_id))
    assert (business.kind, business.identifier, business.name) == (
        "company",
        bin_,
        "Dala Trade LLP",
    )

    approved = fresh(ServiceRequest, reference=first)
    aigerim_id = people["Aigerim Nurlanova"][0]
    assert approved.state == "approved"
    assert approved.applicant_id == user.id
    assert approved.assignee_id == aigerim_id
    assert approved.decided_at is not None
    assert approved.sla_state == "met"
    assert [(e.kind, e.actor_id) for e in approved.events] == [
        ("submitted", user.id),
        ("assigned", None),
        ("clock_started", None),
        ("accept_documents", aigerim_id),
        ("request_documents", aigerim_id),
        ("clock_paused", None),
        ("provide_documents", user.id),
        ("clock_resumed", None),
        ("approve", aigerim_id),
        ("clock_stopped", None),
    ]
    assert [(d.document_type_id, d.original_name) for d in approved.documents] == [
        (charter_id, "charter.pdf"),
        (lease_id, "lease.pdf"),
    ]
    (asked_for,) = db.session.scalars(
        sa.select(DocumentRequest).where(DocumentRequest.request_id == approved.id)
    ).all()
    assert asked_for.state == "answered"
    assert [(i.document_type_id, i.reason) for i in asked_for.items] == [(lease_id, reason)]

    withdrawn = fresh(ServiceRequest, reference=second)
    assert withdrawn.state == "withdrawn"
    assert withdrawn.assignee_id == aigerim_id
    kinds = {e.kind: e for e in withdrawn.events}
    assert kinds["assigned"].payload["assignee_id"] == people["Bolat Serikov"][0]
    reassigned = kinds["reassigned"]
    assert reassigned.actor_id == people["Dana Akhmetova"][0]
    assert reassigned.payload["previous_id"] == people["Bolat Serikov"][0]
    assert reassigned.payload["assignee_id"] == aigerim_id
    assert reassigned.payload["reason"] == "Bolat is on leave this week."
    assert kinds["withdraw"].actor_id == user.id
    assert kinds["withdraw"].payload == {"reason": "We found another location."}
