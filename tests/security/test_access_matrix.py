"""Every route, for every kind of visitor, on objects that are someone else's.

The routes come from the app's URL map at collection time; `matrix.py` says, per route
and method, what each of eight visitors gets. A route without an entry fails
`test_every_route_has_a_matrix_entry`, and so does an entry whose route is gone.

Each route gets a fresh world (built once, then put back before each test) and every
visitor tries it in turn; all the mismatches of a route are reported together. A refused
call, and an allowed POST that is not meant to change anything, must leave every table
(and the upload folder) as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import current_app
from rq import Worker

from notifications.outbox import DEAD, OutboxMessage
from portal import create_app
from portal.extensions import db
from portal.models import ApprovalStep, CalendarOverride, Escalation, Role, ServiceApprover
from portal.observability import HEARTBEAT_KEY
from portal.queueing import QUEUES
from portal.services import accounts, businesses, onetime, tokens
from portal.services import people as people_service
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla import chase, clock
from tests.conftest import PASSWORD, csrf_token, pdf_file
from tests.helpers import sign_in, stored_files
from tests.security import matrix
from tests.security.matrix import (
    ADMIN,
    ANONYMOUS,
    APPLICANT_A,
    APPLICANT_B,
    FORBIDDEN,
    HEAD_D1,
    LOGIN,
    MEMBER_A,
    NOT_FOUND,
    OK,
    ROLES,
    STAFF_D1,
    STAFF_D2,
    SUPERVISOR,
    Case,
    Fixed,
)


def _routes() -> list[tuple[str, str]]:
    throwaway = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return matrix.routes_of(throwaway)


ROUTES = _routes()


# --- the world --------------------------------------------------------------------------------


@dataclass
class World:
    """Ids and references only: the views' session may expire any ORM object we hold."""

    emails: dict[str, str]
    secrets: dict[str, str]
    email_a: str
    ref: str  # A's request in D1: awaiting documents, S1 accountable, escalated to the head
    document: int  # A's document on it
    ref_refused: str  # A's request refused as incomplete
    description_a: str  # what A wrote on their requests
    ref_b: str  # B's request in D2, S2 accountable, escalated too
    step: int  # the head of D1's sign-off on another request of A's
    escalation: int
    escalation_b: int
    service: str
    service_b: str
    charter: int
    lease: int
    colleague: int  # a second employee of D1, to reassign to
    user_s1: int
    user_a: int
    token_a: int
    override: int
    outbox: int  # a dead notification
    # One-time links (raw tokens): A's password reset, A's new address, an invitation.
    reset_token: str
    email_token: str
    invite_token: str
    membership_m: int  # M's membership of A's business (with a power of attorney)
    pending_a: int  # someone asking to join A's business
    email_member: str  # M's email, which only A's business's people see
    invitation: str  # the secret of A's unused invitation link


DESCRIPTION_A = "A land plot for Aigerim's bakery"


def _escalate(request, accountable) -> int:
    escalation = Escalation(
        request=request,
        level="head",
        accountable_id=accountable.id,
        due_at=request.due_at or clock.now(),
        fired_at=clock.now(),
    )
    db.session.add(escalation)
    db.session.commit()
    return escalation.id


def build_world(make) -> World:
    d1, d2 = make.department("D1"), make.department("D2")
    charter, lease = make.document_type("charter"), make.document_type("lease")
    plot = make.service(d1, [charter], code="plot")
    plot.approvers = [ServiceApprover(position=0, role=Role.HEAD.value)]
    db.session.commit()
    kiosk = make.service(d2, [], code="kiosk")
    people = {
        STAFF_D1: make.employee(d1, name="S1 Staff of D1"),
        STAFF_D2: make.employee(d2, name="S2 Staff of D2"),
        HEAD_D1: make.employee(d1, Role.HEAD, name="H1 Head of D1"),
        SUPERVISOR: make.overseer(),
        ADMIN: make.overseer(Role.ADMIN),
        APPLICANT_A: make.applicant(name="A Applicant"),
        APPLICANT_B: make.applicant(name="B Applicant"),
    }
    a, s1 = people[APPLICANT_A], people[STAFF_D1]
    # M asks to join A's business with A's BIN, and A lets them in as its accountant.
    people[MEMBER_A] = accounts.register_applicant(
        email="m.accountant@firm.test",
        password=PASSWORD,
        full_name="M Accountant of A",
        kind="company",
        identifier=a.business.identifier,
        member_role="accountant",
    )
    businesses.decide(a, businesses.membership(people[MEMBER_A]).id, True, "accountant")
    businesses.attach_power_of_attorney(
        people[MEMBER_A], pdf_file("poa.pdf"), (clock.now() + timedelta(days=90)).date()
    )
    pending = accounts.register_applicant(
        email="asks@firm.test",
        password=PASSWORD,
        full_name="Asks To Join A",
        kind="company",
        identifier=a.business.identifier,
    )
    businesses.invite(a, "invited@firm.test", "employee")
    invitation = next(
        row.context["path"].rsplit("/", 1)[1]
        for row in db.session.scalars(sa.select(OutboxMessage))
        if row.template == "business_invitation"
    )

    def submit():
        return request_service.submit(a, plot, DESCRIPTION_A, [Upload(charter.id, pdf_file())])

    asked = submit()
    request_service.request_documents(s1, asked.reference, [(lease.id, "The lease is missing")])
    in_approval = submit()
    request_service.act(s1, in_approval.reference, "accept_documents")
    request_service.act(s1, in_approval.reference, "send_to_approval")
    refused = submit()
    request_service.request_documents(s1, refused.reference, [(lease.id, "The lease is missing")])
    chase.refuse_incomplete(refused, refused.open_document_request, clock.now())
    db.session.commit()
    theirs = request_service.submit(people[APPLICANT_B], kiosk, "A kiosk", [])
    assert asked.assignee_id == s1.id
    assert theirs.assignee_id == people[STAFF_D2].id

    override = CalendarOverride(day=date(2027, 3, 3), kind="holiday", name="Decree")
    db.session.add(override)
    dead = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).first()
    dead.status = DEAD
    db.session.commit()
    invited = people_service.invite(
        people[ADMIN],
        email="invited@akimat.kz",
        full_name="I Invited",
        role="supervisor",
        department_id=None,
    )
    reset_token = onetime.issue(a, onetime.Purpose.PASSWORD_RESET)
    email_token = onetime.issue(a, onetime.Purpose.EMAIL_CHANGE, new_email="a.new@firm.kz")
    invite_token = onetime.issue(invited, onetime.Purpose.INVITATION)
    db.session.commit()
    secrets, token_a = {}, None
    for role, person in people.items():
        token, secrets[role] = tokens.create(person, "matrix")
        if role == APPLICANT_A:
            token_a = token.id

    return World(
        emails={role: person.email for role, person in people.items()},
        secrets=secrets,
        email_a=a.email,
        description_a=DESCRIPTION_A,
        ref=asked.reference,
        document=asked.documents[0].id,
        ref_refused=refused.reference,
        ref_b=theirs.reference,
        step=db.session.scalar(
            sa.select(ApprovalStep.id).where(ApprovalStep.request_id == in_approval.id)
        ),
        escalation=_escalate(asked, s1),
        escalation_b=_escalate(theirs, people[STAFF_D2]),
        service=plot.code,
        service_b=kiosk.code,
        charter=charter.id,
        lease=lease.id,
        colleague=make.employee(d1, name="C1 Colleague in D1").id,  # after the assignments
        user_s1=s1.id,
        user_a=people[APPLICANT_A].id,
        token_a=token_a,
        override=override.id,
        outbox=dead.id,
        reset_token=reset_token,
        email_token=email_token,
        invite_token=invite_token,
        membership_m=businesses.membership(people[MEMBER_A]).id,
        pending_a=businesses.membership(pending).id,
        email_member=people[MEMBER_A].email,
        invitation=invitation,
    )


# --- a fresh world for each test, built once -------------------------------------------------


@dataclass
class Stage:
    """The world as first built, signed-in browsers included, to put back before each test.

    Building it through the services and signing eight people in costs more than all of a
    route's calls; putting its rows, files and cookies back is cheap and gives each test
    the same world, as if just built.
    """

    world: World
    rows: dict[str, list[dict]]
    files: dict[str, bytes]
    browsers: dict[str, tuple[str, str]]  # visitor -> (session cookie, CSRF token)


_STAGES: list[Stage] = []  # the first test to need the world builds it


def save_stage(app, world: World) -> Stage:
    browsers = {}
    for role in ROLES:
        client = app.test_client()
        if role != ANONYMOUS:
            sign_in(client, SimpleNamespace(email=world.emails[role]))
        token = csrf_token(client, "/login" if role == ANONYMOUS else "/services")
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        browsers[role] = (cookie.value, token)
    db.session.remove()
    with db.engine.connect() as connection:
        rows = {
            table.name: [dict(row) for row in connection.execute(sa.select(table)).mappings()]
            for table in db.metadata.sorted_tables
        }
    folder = Path(app.config["UPLOAD_FOLDER"])
    files = {path.name: path.read_bytes() for path in folder.iterdir()} if folder.exists() else {}
    return Stage(world, rows, files, browsers)


def restore_stage(app, stage: Stage) -> None:
    now = clock.now()
    db.session.remove()
    with db.engine.begin() as connection:
        for table in db.metadata.sorted_tables:
            rows = stage.rows[table.name]
            if table.name == "login_session":
                rows = [{**row, "last_seen_at": now} for row in rows]  # not idle
            if rows:
                connection.execute(table.insert(), rows)
    folder = Path(app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in stage.files.items():
        (folder / name).write_bytes(content)


@pytest.fixture
def visitors(app, make):
    if _STAGES:
        restore_stage(app, _STAGES[0])
    else:
        _STAGES.append(save_stage(app, build_world(make)))
    # A sweep just ran and a worker serves every queue, as far as /healthz can tell.
    app.extensions["redis"].set(HEARTBEAT_KEY, clock.now().isoformat())
    Worker(list(QUEUES), connection=app.extensions["redis"]).register_birth()
    return Visitors(app, _STAGES[0])


# --- what the database holds ------------------------------------------------------------------

# Written by any call, refused or not: when a token or a signed-in session was last used.
VOLATILE = {
    ("api_token", "last_used_at"),
    ("api_token", "last_used_ip"),
    ("login_session", "last_seen_at"),
}


def database_state() -> dict:
    """Every committed row of every table (read on a connection of its own), and the files."""
    state = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            query = sa.select(*columns).order_by(*table.primary_key.columns)
            state[table.name] = [repr(tuple(row)) for row in connection.execute(query)]
    state["files"] = stored_files()
    return state


def changes_between(before: dict, after: dict) -> list[str]:
    """What differs, table by table: rows gone and rows new (or changed)."""
    found = []
    for name in before:
        gone = set(before[name]) - set(after[name])
        new = set(after[name]) - set(before[name])
        if gone or new:
            found.append(f"{name}: -{sorted(gone)} +{sorted(new)}"[:400])
    return found


# --- the visitors -----------------------------------------------------------------------------


def kind_of(rule: str) -> str:
    if rule.startswith("/api/v1/"):
        return "api"
    if rule.startswith("/open311/"):
        return "open311"
    return "page"


class Visitors:
    """A browser per visitor (signed in, with its CSRF token); a token each for the APIs."""

    def __init__(self, app, stage: Stage):
        self.app = app
        self.stage = stage
        self.world = stage.world
        self.browsers: dict[str, tuple] = {}
        # The APIs take no cookies: one cookieless client, a token per visitor.
        self.machine = app.test_client()

    def browser(self, role: str):
        if role not in self.browsers:
            client = self.app.test_client()
            cookie, token = self.stage.browsers[role]
            client.set_cookie(self.app.config["SESSION_COOKIE_NAME"], cookie)
            self.browsers[role] = (client, token)
        return self.browsers[role]

    def call(self, kind: str, method: str, path: str, body: str, data: dict | None, role: str):
        secret = None if role == ANONYMOUS else self.world.secrets[role]
        kwargs = {}
        if kind == "page":
            client, token = self.browser(role)
            if method == "POST":
                data = {"csrf_token": token, **(data or {})}
        else:
            client = self.machine
            if kind == "api" and secret:
                kwargs["headers"] = {"Authorization": f"Bearer {secret}"}
            if kind == "open311" and secret:
                kwargs["query_string"] = {"api_key": secret}
        if method == "GET":
            return client.get(path, **kwargs)
        if body == "json":
            return client.post(path, json=data, **kwargs)
        if body == "multipart":
            return client.post(path, data=data, content_type="multipart/form-data", **kwargs)
        return client.post(path, data=data, **kwargs)


def url_of(app, rule: str, method: str, case: Case, world: World) -> str:
    (found,) = [
        r for r in app.url_map.iter_rules() if r.rule == rule and method in (r.methods or ())
    ]
    assert set(case.params) == set(found.arguments), f"{rule}: fill {sorted(found.arguments)}"

    def value(source):
        return source.value if isinstance(source, Fixed) else getattr(world, source)

    path = app.url_map.bind("localhost").build(
        found.endpoint, {name: value(source) for name, source in case.params.items()}, method=method
    )
    if case.query:
        path += "?" + urlencode({name: value(source) for name, source in case.query.items()})
    return path


def mismatch(kind: str, expected: str, response, case: Case, role: str) -> str | None:
    """None when `response` is what `expected` means for this kind of route; else why not."""
    status = response.status_code
    location = response.headers.get("Location", "")
    error = (response.get_json(silent=True) or {}).get("error") if kind == "api" else None
    code = error.get("code") if isinstance(error, dict) else None
    if expected == OK:
        good = status == case.status_ok(role) and not location.startswith("/login")
        wanted = f"{case.status_ok(role)} (allowed)"
    elif expected == LOGIN:
        if kind == "api":
            good = status == 401 and code == "unauthorized"
            wanted = "401 unauthorized"
        else:
            good = status == 302 and location.startswith("/login?next=")
            wanted = "302 to /login"
    elif expected == FORBIDDEN:
        good = status == 403 and (kind != "api" or code == "forbidden")
        wanted = "403"
    else:
        assert expected == NOT_FOUND, expected
        good = status == 404 and (kind != "api" or code == "not_found")
        wanted = "404"
    if good:
        return None
    got = f"{status} {location}".strip() + (f" ({code})" if code else "")
    return f"{role} on {case.about}: expected {wanted}, got {got}"


# Documents that never look at who asks (no cookie is read on the API's paths).
SAME_FOR_EVERYONE = {"/api/openapi.json"}


# --- the tests --------------------------------------------------------------------------------


def test_every_route_has_a_matrix_entry():
    routes = set(ROUTES)
    missing = [f"{method} {rule}" for rule, method in ROUTES if not matrix.entry_for(rule, method)]
    stale = [f"{method} {rule}" for rule, method in matrix.MATRIX if (rule, method) not in routes]
    assert not missing, "routes with no entry in tests/security/matrix.py:\n" + "\n".join(missing)
    assert not stale, "entries for routes that are gone:\n" + "\n".join(stale)


def test_every_entry_names_every_visitor():
    for key, cases in {**matrix.MATRIX, **matrix.UPCOMING}.items():
        for case in cases:
            assert tuple(case.expect) == ROLES, key


@pytest.mark.parametrize(("rule", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_route_admits_exactly_whom_the_matrix_says(visitors, rule, method):
    cases = matrix.entry_for(rule, method)
    if not cases:
        pytest.fail(f"{method} {rule} has no entry in tests/security/matrix.py")
    world = visitors.world
    kind = kind_of(rule)
    problems = []
    state = None  # the data as it was before the call (None: unknown, read it again)
    for case in cases:
        path = url_of(current_app, rule, method, case, world)
        for role in ROLES:
            expected = case.expect[role]
            allowed = expected == OK
            checked = not allowed or (method == "POST" and role not in case.changes)
            data = None
            if method == "POST":
                make_body = case.send if not allowed or case.probe is None else case.probe
                data = make_body(world)
            if checked and state is None:
                state = database_state()
            response = visitors.call(kind, method, path, case.body, data, role)
            answer = response.get_data(as_text=True)
            response.close()
            db.session.remove()  # as at the end of a real request
            problem = mismatch(kind, expected, response, case, role)
            if problem:
                problems.append(f"{path}: {problem}")
            if (
                role != ANONYMOUS
                and rule not in SAME_FOR_EVERYONE
                and "no-store" not in response.headers.get("Cache-Control", "")
            ):
                # Whatever a signed-in person or a token is answered may hold personal data.
                problems.append(f"{path}: {role} on {case.about} was sent without no-store")
            for name in case.hides.get(role, ()) if allowed else ():
                if str(getattr(world, name)) in answer:
                    problems.append(f"{path}: {role} on {case.about} was shown {name}")
            if checked:
                before, state = state, database_state()
                changed = changes_between(before, state)
                if changed:
                    problems.append(f"{path}: {role} on {case.about} changed {changed}")
            else:
                state = None
    assert not problems, "\n".join(problems)
