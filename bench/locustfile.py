"""Locust users for bench/load.py: the people of the portal, through its real pages and forms.

bench/load.py prepares everything and runs this file; it can also be pointed at a running
portal whose database holds the accounts named in the JSON file `MOLDIR_BENCH_ACCOUNTS`:

    MOLDIR_BENCH_ACCOUNTS=accounts.json .venv/bin/locust -f bench/locustfile.py \\
        --headless -u 50 -r 10 -t 5m --host http://127.0.0.1:8000 \\
        ApplicantUser StaffUser HeadUser SupervisorUser AnonymousUser

Each simulated person logs in once (POST /login with the form's CSRF token) and keeps its
session; every account is used by one simulated person at a time while there are enough of
them. A response fails on a status outside 2xx/3xx, on landing on the login page, on a form
shown again with errors, and on a redirect that does not go where the form leads.

`CeilingUser` is for the ceiling phase: no think time, one page (`MOLDIR_BENCH_CEILING`)
fetched in a loop. Only requests that end within `MOLDIR_BENCH_CEILING_SECONDS` from one
second after every user is logged in are counted; then the run stops itself and writes
the count to `MOLDIR_BENCH_CEILING_OUT`.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, between, constant, events, task

ACCOUNTS = json.loads(Path(os.environ["MOLDIR_BENCH_ACCOUNTS"]).read_text())
PASSWORD = ACCOUNTS["password"]
SERVICES = ACCOUNTS["services"]
_low, _high = (float(s) for s in os.environ.get("MOLDIR_BENCH_WAIT", "1,3").split(","))
THINK = between(_low, _high)

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
REFERENCE = r"([A-Z]+-\d{4}-\d+)"
ROW = re.compile(r'<a href="/[a-z/]*requests/' + REFERENCE + r'">.*?</tr>', re.S)
ACTION = re.compile(r'<input type="hidden" name="action" value="([a-z_]+)">')
WANT = re.compile(r'name="want_(\d+)"')
DOC_FIELD = re.compile(r'name="(doc_\d+)"')
FORM_ERROR = ('aria-invalid="true"', 'class="form-error"')
SUCCESS = 'class="flash success"'

_next_account = {role: itertools.count() for role in ("applicant", "staff", "head", "supervisor")}


def account(role: str) -> str:
    """The next account of this role, round robin: one person per account while they last."""
    accounts = ACCOUNTS[role]
    return accounts[next(_next_account[role]) % len(accounts)]


@functools.cache
def pdf(text: str) -> bytes:
    """A small valid one-page PDF, as portal/seed.py makes them."""
    from portal.seed import _pdf

    return _pdf(text)


def path_of(url: str) -> str:
    return urlsplit(url).path


def rows(html: str) -> list[tuple[str, str]]:
    """(reference, state) of each row of a request table."""
    found = []
    for match in ROW.finditer(html):
        state = re.search(r'class="tag state-([a-z_]+)"', match.group(0))
        found.append((match.group(1), state.group(1) if state else ""))
    return found


class Person(HttpUser):
    """Someone using the portal through a browser: pages, forms, one session."""

    abstract = True
    wait_time = THINK
    role: str | None = None

    def on_start(self) -> None:
        self.email, self.logged_in = None, False
        if self.role:
            self.email = account(self.role)
            self.log_in()

    # --- requests with their checks ------------------------------------------------------

    def page(self, path: str, name: str | None = None, **kwargs):
        """GET a page (redirects followed); fail it unless it is 2xx and not the login page."""
        with self.client.get(path, name=name or path, catch_response=True, **kwargs) as response:
            self._check(response)
            return response

    def _check(self, response, form: bool = False) -> bool:
        if not 200 <= response.status_code < 400:
            response.failure(f"status {response.status_code}")
            return False
        if self.role and path_of(response.url) == "/login" and self.logged_in:
            response.failure("landed on the login page: session lost")
            return False
        if form and any(marker in response.text for marker in FORM_ERROR):
            response.failure("form shown again with errors")
            return False
        return True

    def post_form(self, path: str, name: str, data: dict, files=None, goes_to: str = ""):
        """POST a form without following; it must redirect to a path starting with `goes_to`.

        Then the page it leads to is fetched as a browser would (its own entry in the stats),
        and a missing success message there fails that page.
        """
        with self.client.post(
            path, name=name, data=data, files=files, allow_redirects=False, catch_response=True
        ) as response:
            if not self._check(response, form=True):
                return None
            location = path_of(response.headers.get("Location", ""))
            if response.status_code not in (302, 303) or not location.startswith(goes_to):
                response.failure(f"status {response.status_code} to {location!r}, not {goes_to!r}")
                return None
        return location

    def csrf_token(self, html: str) -> str:
        match = CSRF.search(html)
        return match.group(1) if match else ""

    def log_in(self) -> None:
        form = self.page("/login", name="GET /login")
        with self.client.post(
            "/login",
            name="POST /login",
            data={
                "csrf_token": self.csrf_token(form.text),
                "email": self.email,
                "password": PASSWORD,
            },
            allow_redirects=False,
            catch_response=True,
        ) as response:
            location = path_of(response.headers.get("Location", ""))
            if response.status_code != 302 or location in ("", "/login"):
                response.failure(f"login failed: status {response.status_code} to {location!r}")
                self.logged_in = False
                return
        self.logged_in = True


class ApplicantUser(Person):
    """A business or citizen: the catalogue, a new request with its PDFs, status, answers."""

    weight = 25
    role = "applicant"

    @task(2)
    def catalogue(self) -> None:
        self.page("/services", name="GET /services")
        self.page(f"/services/{random.choice(SERVICES)}", name="GET /services/[code]")

    @task(1)
    def submit(self) -> None:
        code = random.choice(SERVICES)
        form = self.page(f"/my/apply/{code}", name="GET /my/apply/[code]")
        if not form.ok:
            return
        files = {
            field: (f"{field}.pdf", pdf(f"Load bench {field}"), "application/pdf")
            for field in DOC_FIELD.findall(form.text)
        }
        data = {
            "csrf_token": self.csrf_token(form.text),
            "description": f"Load bench request for {code} by {self.email}",
        }
        location = self.post_form(
            f"/my/apply/{code}", "POST /my/apply/[code]", data, files, goes_to="/my/requests/"
        )
        if location:
            self.page(location, name="GET /my/requests/[ref]/confirmation")

    @task(3)
    def follow(self) -> None:
        """My requests, then one of them: an awaiting one first, answered if it asks."""
        listing = self.page("/my/requests", name="GET /my/requests")
        found = rows(listing.text) if listing.ok else []
        if not found:
            return
        waiting = [r for r, state in found if state == "awaiting_documents"]
        reference = random.choice(waiting or [r for r, _ in found])
        detail = self.page(f"/my/requests/{reference}", name="GET /my/requests/[ref]")
        if detail.ok and f'action="/my/requests/{reference}/answer"' in detail.text:
            self.answer(reference, detail.text)

    def answer(self, reference: str, html: str) -> None:
        answer_form = html[html.index(f'action="/my/requests/{reference}/answer"') :]
        answer_form = answer_form[: answer_form.index("</form>")]
        files = {
            field: (f"{field}.pdf", pdf(f"Load bench answer {field}"), "application/pdf")
            for field in DOC_FIELD.findall(answer_form)
        }
        location = self.post_form(
            f"/my/requests/{reference}/answer",
            "POST /my/requests/[ref]/answer",
            {"csrf_token": self.csrf_token(answer_form)},
            files,
            goes_to=f"/my/requests/{reference}",
        )
        if location:
            self.after_form(location, "GET /my/requests/[ref]")

    def after_form(self, location: str, name: str) -> None:
        with self.client.get(location, name=name, catch_response=True) as response:
            if self._check(response) and SUCCESS not in response.text:
                response.failure("no success message after the form")


class StaffUser(Person):
    """An employee: the own queue, a request, and the next step on it through its form."""

    weight = 13
    role = "staff"

    @task(1)
    def queue(self) -> None:
        self.page("/staff/queue", name="GET /staff/queue")

    @task(3)
    def work(self) -> None:
        listing = self.page("/staff/queue", name="GET /staff/queue")
        found = rows(listing.text) if listing.ok else []
        actionable = [r for r, state in found if state != "awaiting_documents"]
        if not actionable:
            return
        reference = random.choice(actionable)
        detail = self.page(f"/staff/requests/{reference}", name="GET /staff/requests/[ref]")
        if detail.ok:
            self.act(reference, detail.text)

    def act(self, reference: str, html: str) -> None:
        """Accept, ask for documents (a third of reviews), send to approval, or approve."""
        actions = set(ACTION.findall(html))
        token = self.csrf_token(html)
        path = f"/staff/requests/{reference}"
        wanted = WANT.findall(html)
        # Asking is a form of its own; in review (nothing to accept) a third of the time.
        if f'action="{path}/ask"' in html and "accept_documents" not in actions and wanted:
            if random.random() < 1 / 3:
                kind = random.choice(wanted)
                data = {
                    "csrf_token": token,
                    f"want_{kind}": "y",
                    f"reason_{kind}": "The copy is not legible; please upload it again.",
                }
                name = "POST /staff/requests/[ref]/ask"
                if self.post_form(f"{path}/ask", name, data, goes_to=path):
                    self.after_form(path)
                return
        for action in ("accept_documents", "send_to_approval", "approve"):
            if action in actions:
                data = {"csrf_token": token, "action": action, "reason": ""}
                name = f"POST /staff/requests/[ref]/act ({action})"
                if self.post_form(f"{path}/act", name, data, goes_to=path):
                    self.after_form(path)
                return

    def after_form(self, path: str) -> None:
        with self.client.get(path, name="GET /staff/requests/[ref]", catch_response=True) as r:
            if self._check(r) and SUCCESS not in r.text:
                r.failure("no success message after the form")


class HeadUser(Person):
    """A head of department: the department queue and the team board, read-only here."""

    weight = 3
    role = "head"

    @task(2)
    def department(self) -> None:
        listing = self.page("/staff/department", name="GET /staff/department")
        found = rows(listing.text) if listing.ok else []
        if found:
            reference = random.choice(found)[0]
            self.page(f"/staff/requests/{reference}", name="GET /staff/requests/[ref] (head)")

    @task(1)
    def team(self) -> None:
        self.page("/staff/team", name="GET /staff/team")


class SupervisorUser(Person):
    """The deputy akim's office: breach board, trends, every request."""

    weight = 3
    role = "supervisor"

    @task(2)
    def breaches(self) -> None:
        self.page("/supervisor/breaches", name="GET /supervisor/breaches")

    @task(1)
    def trends(self) -> None:
        self.page("/supervisor/trends", name="GET /supervisor/trends")

    @task(2)
    def requests(self) -> None:
        listing = self.page("/supervisor/requests", name="GET /supervisor/requests")
        found = rows(listing.text) if listing.ok else []
        if found:
            reference = random.choice(found)[0]
            self.page(f"/supervisor/requests/{reference}", name="GET /supervisor/requests/[ref]")


class AnonymousUser(Person):
    """Anyone: the transparency board and the catalogue, no login."""

    weight = 6

    @task(2)
    def board(self) -> None:
        self.page("/board", name="GET /board")

    @task(1)
    def catalogue(self) -> None:
        self.page("/services", name="GET /services")
        self.page(f"/services/{random.choice(SERVICES)}", name="GET /services/[code]")

    @task(1)
    def home(self) -> None:
        self.page("/", name="GET /")


# --- the ceiling phase ----------------------------------------------------------------------

# page key: (role, the request's name in the stats). Request pages pick one of the user's
# own references at start (from the listing given), then fetch it in the loop.
CEILING_PAGES = {
    "bare": (None, "GET /row/[id]"),
    "catalogue": (None, "GET /services"),
    "board": (None, "GET /board"),
    "my_requests": ("applicant", "GET /my/requests"),
    "request_status": ("applicant", "GET /my/requests/[ref]"),
    "apply_form": ("applicant", "GET /my/apply/[code]"),
    "submit": ("applicant", "POST /my/apply/[code]"),
    "staff_queue": ("staff", "GET /staff/queue"),
    "staff_request": ("staff", "GET /staff/requests/[ref]"),
    "department_queue": ("head", "GET /staff/department"),
    "team_board": ("head", "GET /staff/team"),
    "breaches": ("supervisor", "GET /supervisor/breaches"),
    "trends": ("supervisor", "GET /supervisor/trends"),
    "supervisor_requests": ("supervisor", "GET /supervisor/requests"),
}
CEILING = os.environ.get("MOLDIR_BENCH_CEILING", "")
CEILING_SECONDS = float(os.environ.get("MOLDIR_BENCH_CEILING_SECONDS", "15"))
CEILING_WARMUP_SECONDS = 1.0
_ceiling = {
    "ready": 0,
    "start": None,
    "end": None,
    "quitting": False,
    "count": 0,
    "failures": 0,
    "times": [],
}


class CeilingUser(Person):
    """One page in a loop with no think time: how many per second the server can give."""

    abstract = not CEILING  # never part of the mix
    wait_time = constant(0)

    def on_start(self) -> None:
        self.role, self.target = CEILING_PAGES[CEILING]
        super().on_start()
        self.prepare()
        _ceiling["ready"] += 1
        if _ceiling["ready"] == self.environment.runner.target_user_count:
            _ceiling["start"] = time.monotonic() + CEILING_WARMUP_SECONDS
            _ceiling["end"] = _ceiling["start"] + CEILING_SECONDS

    def prepare(self) -> None:
        self.path = {
            "bare": "/row/{}",
            "catalogue": "/services",
            "board": "/board",
            "my_requests": "/my/requests",
            "staff_queue": "/staff/queue",
            "department_queue": "/staff/department",
            "team_board": "/staff/team",
            "breaches": "/supervisor/breaches",
            "trends": "/supervisor/trends",
            "supervisor_requests": "/supervisor/requests",
        }.get(CEILING)
        if CEILING in ("request_status", "staff_request"):
            listing = "/my/requests" if CEILING == "request_status" else "/staff/queue"
            found = rows(self.page(listing, name="prepare").text)
            prefix = "/my/requests/" if CEILING == "request_status" else "/staff/requests/"
            self.path = prefix + random.choice(found)[0]
        elif CEILING in ("apply_form", "submit"):
            code = random.choice(SERVICES)
            self.path = f"/my/apply/{code}"
            form = self.page(self.path, name="prepare").text
            self.fields = DOC_FIELD.findall(form)
            self.token = self.csrf_token(form)

    @task
    def fetch(self) -> None:
        if _ceiling["end"] is not None and time.monotonic() >= _ceiling["end"]:
            if not _ceiling["quitting"]:
                # From a greenlet of its own: quit() kills every user, the caller too.
                _ceiling["quitting"] = True
                gevent.spawn(self.environment.runner.quit)
            gevent.sleep(1)
            return
        if CEILING == "bare":
            self.page(self.path.format(random.choice(ACCOUNTS["bare_ids"])), name=self.target)
        elif CEILING == "submit":
            files = {f: (f"{f}.pdf", pdf(f"Ceiling {f}"), "application/pdf") for f in self.fields}
            data = {"csrf_token": self.token, "description": "Load bench ceiling request"}
            self.post_form(self.path, self.target, data, files, goes_to="/my/requests/")
        else:
            self.page(self.path, name=self.target)


@events.request.add_listener
def _count_ceiling(name, response_time, exception, **_kwargs) -> None:
    start, end = _ceiling["start"], _ceiling["end"]
    if not CEILING or start is None or name != CEILING_PAGES[CEILING][1]:
        return
    if not start <= time.monotonic() < end:
        return
    _ceiling["count"] += 1
    _ceiling["times"].append(response_time)
    if exception is not None:
        _ceiling["failures"] += 1


@events.test_stop.add_listener
def _write_ceiling(**_kwargs) -> None:
    out = os.environ.get("MOLDIR_BENCH_CEILING_OUT")
    if not CEILING or not out:
        return
    start, end = _ceiling["start"], _ceiling["end"]
    # Cut short (the -t cap), the window is what was measured.
    window = min(time.monotonic(), end) - start if start is not None else 0.0
    with open(out, "w") as handle:
        json.dump(
            {
                "page": CEILING,
                "name": CEILING_PAGES[CEILING][1],
                "window_seconds": window,
                "count": _ceiling["count"],
                "failures": _ceiling["failures"],
                "times_ms": _ceiling["times"],
            },
            handle,
        )
