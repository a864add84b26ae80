"""Every person's main pages pass axe-core, and an applicant applies with the keyboard alone.

axe-core is vendored in tests/browser/assets/axe-core (see its README). The portal sends a
strict Content-Security-Policy (script-src 'self', no inline script), so axe is not added
with `add_script_tag` (an inline script, which the policy blocks). Its source is run with
`page.evaluate`, through the DevTools protocol, which page CSP does not govern: the pages
are checked as served, policy included, and no context bypasses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portal.extensions import db
from portal.models import Role, ServiceApprover
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla import clock
from tests.boards.build import Requests, escalate
from tests.conftest import PASSWORD, PDF, pdf_file

pytestmark = pytest.mark.browser

AXE_SOURCE = (Path(__file__).parent / "assets" / "axe-core" / "axe.min.js").read_text("utf-8")
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")
LANGUAGES = ("ru", "kk", "en")


# --- axe ---------------------------------------------------------------------------------


def axe_violations(page: Page) -> list[str]:
    """What axe finds serious or critical on the page, one line per rule."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # A function body, so that Playwright sends it as a function (the source has "=>").
        page.evaluate("() => {\n" + AXE_SOURCE + "\n}")
    results = page.evaluate("options => window.axe.run(document, options)", AXE_OPTIONS)
    return [
        f"{v['impact']} {v['id']}: {v['help']} at "
        + "; ".join(f"{' '.join(node['target'])} {node['html'][:80]}" for node in v["nodes"])
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


def audit(page: Page, path: str, found: dict[str, list[str]], status: int = 200) -> None:
    """Open `path` and keep what axe finds there under the path and the page's language."""
    response = page.goto(path)
    assert response.status == status, f"{path}: {response.status}"
    lang = page.locator("html").get_attribute("lang")
    problems = axe_violations(page)
    if problems:
        found[f"{path} [{lang}, {page.viewport_size['width']} px wide]"] = problems


def assert_clean(found: dict[str, list[str]]) -> None:
    report = "\n".join(f"{where}\n  " + "\n  ".join(problems) for where, problems in found.items())
    assert not found, f"axe: serious or critical violations\n{report}"


def in_language(page: Page, code: str) -> None:
    page.goto(f"/lang/{code}?next=/")
    expect(page.locator("html")).to_have_attribute("lang", code)


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=re.compile(r"^Log out \("))).to_be_visible()


# --- a city with something on every page ------------------------------------------------


@dataclass
class City:
    service: str
    service_title: str
    charter: str
    plan: str
    applicant: str
    employee: str
    head: str
    supervisor: str
    admin: str
    submitted: str
    asked: str
    breached: str


@pytest.fixture
def city(make) -> City:
    """One department, its service, its people, and requests in every state a page shows."""
    land = make.department("LAND")
    archive = make.department("ARC")
    charter = make.document_type("charter")
    plan = make.document_type("plan")
    service = make.service(land, [charter, plan], target_days=5, code="plot")
    other = make.service(archive, [plan], target_days=10, code="copy")
    service.approvers = [ServiceApprover(position=0, role="head")]
    db.session.commit()
    employee = make.employee(land, name="Aigerim Nurlanova")
    head = make.employee(land, role=Role.HEAD, name="Dana Akhmetova")
    archivist = make.employee(archive, name="Bolat Serikov")
    supervisor = make.overseer()
    admin = make.overseer(Role.ADMIN)
    applicant = make.applicant(name="Yerlan Dosmukhamedov")

    def submit(description):
        return request_service.submit(
            applicant,
            service,
            description,
            [Upload(charter.id, pdf_file("charter.pdf")), Upload(plan.id, pdf_file("plan.pdf"))],
        ).reference

    submitted = submit("A plot for our new shop.")
    asked = submit("A plot for the warehouse.")
    request_service.act(employee, asked, "accept_documents")
    request_service.request_documents(employee, asked, [(charter.id, "The charter is unsigned.")])
    in_approval = submit("A plot for the office.")
    request_service.act(employee, in_approval, "accept_documents")
    request_service.act(employee, in_approval, "send_to_approval")

    # Hand-built history for the boards: decided on time and late, at risk, breached.
    now = clock.now()
    build = Requests(applicant)
    for days, sla in ((3, "met"), (9, "missed"), (20, "met")):
        build.add(
            other if days == 20 else service,
            archivist if days == 20 else employee,
            state="approved",
            sla=sla,
            submitted=now - timedelta(days=days + 7),
            decided=now - timedelta(days=days),
            due=now - timedelta(days=days + 1 if sla == "missed" else days - 1),
            worked_days=4,
        )
    build.add(service, employee, sla="at_risk", due=now + timedelta(hours=3))
    late = build.add(service, employee, sla="breached", due=now - timedelta(days=1))
    escalate(late, fired=now - timedelta(hours=20))
    escalate(late, level="supervisor", fired=now - timedelta(hours=2))
    db.session.commit()
    return City(
        service=service.code,
        service_title=service.title_en,
        charter=charter.name_en,
        plan=plan.name_en,
        applicant=applicant.email,
        employee=employee.email,
        head=head.email,
        supervisor=supervisor.email,
        admin=admin.email,
        submitted=submitted,
        asked=asked,
        breached=late.reference,
    )


# --- axe on each person's pages ------------------------------------------------------------


def test_anonymous_pages_pass_axe_in_every_language(city, new_page):
    page = new_page()
    found: dict[str, list[str]] = {}
    paths = ("/", "/services", f"/services/{city.service}", "/login", "/register", "/board")
    for code in LANGUAGES:
        in_language(page, code)
        for path in paths:
            audit(page, path, found)
            expect(page.locator("html")).to_have_attribute("lang", code)
        audit(page, "/no-such-page", found, status=404)
        expect(page.locator("html")).to_have_attribute("lang", code)
    # On a phone, where wide tables scroll and the menu wraps.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in paths:
        audit(page, path, found)
    assert_clean(found)


def test_applicant_pages_pass_axe(city, new_page):
    page = new_page()
    in_language(page, "en")
    log_in(page, city.applicant)
    found: dict[str, list[str]] = {}
    audit(page, f"/my/apply/{city.service}", found)
    required = page.get_by_role("group", name="Required documents")
    expect(required.get_by_label(city.plan)).to_be_attached()
    audit(page, f"/my/requests/{city.submitted}/confirmation", found)
    audit(page, "/my/requests", found)
    audit(page, f"/my/requests/{city.submitted}", found)
    audit(page, f"/my/requests/{city.asked}", found)  # with the upload form for what is asked
    expect(page.get_by_role("region", name="Documents requested from you")).to_be_visible()
    for path in ("/inbox", "/profile", "/profile/tokens"):
        audit(page, path, found)
    assert_clean(found)


def test_staff_and_head_pages_pass_axe(city, new_page):
    found: dict[str, list[str]] = {}
    staff = new_page()
    in_language(staff, "en")
    log_in(staff, city.employee)
    audit(staff, "/staff/queue", found)
    audit(staff, "/staff/queue?state=in_review&sla=at_risk&order=-time_left", found)
    audit(staff, f"/staff/requests/{city.submitted}", found)  # with the action forms
    expect(staff.get_by_role("region", name="Act on this request")).to_be_visible()
    audit(staff, f"/staff/requests/{city.breached}", found)
    audit(staff, "/staff/approvals", found)

    head = new_page()
    in_language(head, "en")
    log_in(head, city.head)
    for path in ("/staff/department", "/staff/team", "/staff/approvals"):
        audit(head, path, found)
    assert_clean(found)


def test_supervisor_and_admin_pages_pass_axe(city, new_page):
    found: dict[str, list[str]] = {}
    supervisor = new_page()
    in_language(supervisor, "en")
    log_in(supervisor, city.supervisor)
    audit(supervisor, "/supervisor/breaches", found)
    audit(supervisor, f"/supervisor/breaches/{city.breached}", found)
    audit(supervisor, "/supervisor/trends", found)
    # Each chart is an image with a name (axe checks the name), beside a table of its figures.
    charts = supervisor.locator("section:has(> figure svg[role=img])")
    expect(charts.first).to_be_visible()
    expect(charts.filter(has=supervisor.locator("table"))).to_have_count(charts.count())
    audit(supervisor, "/supervisor/cycles", found)
    audit(supervisor, "/supervisor/requests", found)
    audit(supervisor, f"/supervisor/requests/{city.submitted}", found)

    admin = new_page()
    in_language(admin, "en")
    log_in(admin, city.admin)
    for path in (
        "/admin/calendar",
        "/admin/services",
        f"/admin/services/{city.service}",
        "/admin/outbox",
    ):
        audit(admin, path, found)
    if admin.request.get("/admin/people").status == 200:  # when the people page is there
        audit(admin, "/admin/people", found)
    assert_clean(found)


# --- the keyboard alone --------------------------------------------------------------------

# What has focus, and whether it shows: an outline or a ring (box-shadow) of at least 3:1
# against the page (white).
FOCUS = r"""() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map(v => v / 255)
      .map(v => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const onWhite = colour => {  // "rgb(a, b, c)" or "rgba(a, b, c, alpha)", blended on white
    const [r, g, b, a = 1] = colour.match(/[\d.]+/g).map(Number);
    return [r, g, b].map(v => v * a + 255 * (1 - a));
  };
  const contrast = colour => 1.05 / (luminance(onWhite(colour)) + 0.05);
  const rings = [];
  // A file input shows focus on its "choose file" button.
  const styles = [style];
  if (e.type === "file") styles.push(getComputedStyle(e, "::file-selector-button"));
  for (const style of styles) {
    if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
      rings.push(style.outlineColor);
    if (style.boxShadow !== "none")
      for (const shadow of style.boxShadow.split(/,(?![^(]*\))/)) {
        const colour = shadow.match(/rgba?\([^)]*\)/)[0];
        const sizes = shadow.replace(colour, "").trim().split(/\s+/).map(parseFloat);
        if (sizes.slice(2).some(size => size > 0)) rings.push(colour);  // blur or spread
      }
  }
  const box = e.getBoundingClientRect();
  return {
    name: (e.labels && e.labels[0] ? e.labels[0].textContent
           : e.getAttribute("aria-label") || e.textContent).trim().replace(/\s+/g, " "),
    tag: e.tagName.toLowerCase(),
    visible: rings.some(ring => contrast(ring) >= 3),
    rings: rings,
    onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
              && box.left < innerWidth,
    inMain: e.closest("main") !== null,
  };
}"""


def tab(page: Page) -> dict:
    """Press Tab; what has focus then, which must show that it has."""
    page.keyboard.press("Tab")
    focused = page.evaluate(FOCUS)
    if focused and not focused["visible"]:
        try:  # Pico fades focus rings in (0.2 s): wait for the ring, not a fixed time
            page.wait_for_function(f"() => ({FOCUS})()?.visible", timeout=2_000)
        except PlaywrightTimeoutError:
            pass  # the assertions below say what shows instead
        focused = page.evaluate(FOCUS)
    assert focused is not None, f"Tab left nothing focused on {page.url}"
    assert focused["onScreen"], f"focused but off screen on {page.url}: {focused}"
    assert focused["visible"], f"focus does not show on {page.url}: {focused}"
    return focused


def tab_to(page: Page, name: str, limit: int = 40) -> dict:
    """Tab until the element named `name` has focus, checking every stop on the way."""
    passed = []
    for _ in range(limit):
        focused = tab(page)
        if focused["name"] == name:
            return focused
        passed.append(focused["name"])
    raise AssertionError(f"no {name!r} within {limit} Tabs on {page.url}; passed {passed}")


def test_applicant_submits_a_request_with_the_keyboard_only(city, new_page, tmp_path):
    charter_pdf = tmp_path / "charter.pdf"
    charter_pdf.write_bytes(PDF)
    plan_pdf = tmp_path / "plan.pdf"
    plan_pdf.write_bytes(PDF)
    page = new_page()
    # Someone who asked for less motion: Pico then draws focus rings at once, not in 0.2 s,
    # and the walk waits for none of ~70 fades. The rings are the same.
    page.emulate_media(reduced_motion="reduce")
    # Playwright catches file choosers only while someone listens, and turns that on without
    # waiting for the browser: one listener for the whole walk, so no key press outruns it.
    page.on("filechooser", lambda chooser: None)
    page.goto("/")

    # The skip link comes first, shows when focused, and moves on to the content.
    skip = tab(page)
    assert (skip["name"], skip["inMain"]) == ("Перейти к содержимому", False), skip
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))
    assert tab(page)["inMain"]

    # The language links, then logging in.
    page.goto("/")
    tab_to(page, "English")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    tab_to(page, "Log in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    tab_to(page, "Email")
    page.keyboard.type(city.applicant)
    tab_to(page, "Password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Log out (Yerlan Dosmukhamedov)")).to_be_visible()

    # The catalogue, the service, the form.
    tab_to(page, "Services")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Service catalogue")
    tab_to(page, city.service_title)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(city.service_title)
    tab_to(page, "Apply")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Submit the request")).to_be_visible()
    tab_to(page, "What do you need? (short description)")
    page.keyboard.type("A plot for our new shop, chosen with the keyboard.")
    for label, path, key in ((city.charter, charter_pdf, "Space"), (city.plan, plan_pdf, "Enter")):
        tab_to(page, label)
        with page.expect_file_chooser() as choosing:
            page.keyboard.press(key)  # a focused file input opens the chooser on either key
        choosing.value.set_files(path)
    tab_to(page, "Submit the request")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Request received")
    expect(page).to_have_url(re.compile(r"/my/requests/[A-Z]+-\d{4}-\d{6}/confirmation$"))
    assert new_page.errors == [], new_page.errors
