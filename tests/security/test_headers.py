"""Response headers and cookies: a strict CSP the pages keep, TLS-only HSTS, trusted proxies."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.models import User
from portal.seed import PASSWORD as SEED_PASSWORD
from tests.helpers import sign_in

SAME_FOR_EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CSP_PARTS = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)


def assert_hardened(response):
    for name, value in SAME_FOR_EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, name
    policy = response.headers["Content-Security-Policy"]
    for part in CSP_PARTS:
        assert part in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_every_kind_of_response_is_hardened(client, make):
    pages = [
        client.get("/"),
        client.get("/services"),
        client.get("/login"),
        client.get("/no/such/page"),
        client.get("/static/moldir.css"),
        client.get("/api/v1/me"),
        client.get("/api/openapi.json"),
        client.get("/api/docs"),
        client.post("/login", data={}),  # CSRF refused: a 400 page
    ]
    for response in pages:
        assert_hardened(response)
        response.close()


def test_hsts_only_over_tls(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_forwarded_scheme_counts_only_behind_a_trusted_proxy(app, client):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert "Strict-Transport-Security" not in client.get("/", headers=forwarded).headers

    behind = create_app({**app.config, "TRUSTED_PROXIES": 1})
    response = behind.test_client().get("/", headers=forwarded)
    assert "Strict-Transport-Security" in response.headers


def test_session_cookie_is_httponly_and_lax(client, make, login):
    login(make.applicant())
    cookie = client.get_cookie("session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure  # tests run over http


@pytest.mark.parametrize(
    ("settings", "secure"),
    [
        ({"BASE_URL": "https://moldir.example.kz"}, True),
        ({"BASE_URL": "http://127.0.0.1:5000"}, False),  # `make run`
        ({"BASE_URL": "https://moldir.example.kz", "DEBUG": True}, False),
        ({"BASE_URL": "https://moldir.example.kz", "TESTING": True}, False),
        ({"BASE_URL": "http://127.0.0.1:5000", "SESSION_COOKIE_SECURE": True}, True),
    ],
)
def test_secure_cookie_unless_debugging_testing_or_plain_http(app, settings, secure):
    config = {**app.config, "TESTING": False, "DEBUG": False, "SESSION_COOKIE_SECURE": None}
    config["REDIS_STANDIN"] = True  # a production app, but no Redis server in this test
    config.pop("SESSION_COOKIE_NAME")
    built = create_app({**config, **settings})
    assert built.config["SESSION_COOKIE_SECURE"] is secure
    assert built.config["SESSION_COOKIE_HTTPONLY"] is True
    expected_name = "__Host-moldir" if secure else "session"
    assert built.config["SESSION_COOKIE_NAME"] == expected_name
    with built.app_context():
        db.engine.dispose()  # its pool's connections closed here, not by the garbage collector


def test_secure_cookie_is_set_over_tls_in_production(app, make):
    config = {**app.config, "TESTING": False, "SESSION_COOKIE_SECURE": None}
    config["REDIS_STANDIN"] = True
    config.pop("SESSION_COOKIE_NAME")
    production = create_app({**config, "BASE_URL": "https://localhost"})
    browser = production.test_client()
    browser.get("/lang/en", base_url="https://localhost")
    cookie = browser.get_cookie("__Host-moldir", domain="localhost")
    assert cookie is not None and cookie.secure and cookie.http_only
    assert cookie.domain in ("localhost", None, "") and cookie.path == "/"


# --- no inline script or style on any page ------------------------------------------------


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _value in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> block")
        if "style" in names:
            self.problems.append(f"style= on <{tag}>")
        handlers = sorted(name for name in names if name.startswith("on"))
        if handlers:
            self.problems.append(f"{handlers} on <{tag}>")
        for name, value in attrs:
            if (
                name in ("href", "src", "action")
                and value
                and value.strip().startswith("javascript:")
            ):
                self.problems.append(f"javascript: URL on <{tag}>")
        if tag == "a" and dict(attrs).get("href"):
            self.links.append(dict(attrs)["href"])


# Links not to follow: they change things, switch the language, or are files.
SKIP = re.compile(r"^/(lang/|static/|logout)|format=csv|/download|/documents/|\.csv|\.json|\.xml")


def _crawl(client, start: str, budget: int, seen: set[str] | None = None) -> dict[str, list[str]]:
    seen = set() if seen is None else seen
    queue = [start]
    problems: dict[str, list[str]] = {}
    while queue and len(seen) < budget:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if not response.mimetype == "text/html":
            continue
        parser = _Markup()
        parser.feed(response.get_data(as_text=True))
        if parser.problems:
            problems[path] = sorted(set(parser.problems))
        for href in parser.links:
            parts = urlsplit(urljoin("http://localhost" + path, href))
            if parts.netloc not in ("localhost", "") or not parts.path.startswith("/"):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if not SKIP.search(target) and target not in seen:
                queue.append(target)
    return problems


def test_csp_forbids_inline_script_on_every_page(app, runner):
    """Every page each kind of person reaches from home: no inline script, style or handler."""
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    people = {}
    for user in db.session.scalars(sa.select(User).order_by(User.id)):
        people.setdefault(user.role, user)

    problems = _crawl(app.test_client(), "/", budget=40)
    for role, user in people.items():
        client = app.test_client()
        sign_in(client, user, password=SEED_PASSWORD)
        seen: set[str] = set()
        problems.update(_crawl(client, "/", budget=60, seen=seen))
        assert len(seen) >= 10, (role, seen)  # the crawl really went through the pages
    assert problems == {}


def test_the_page_check_sees_inline_code():
    parser = _Markup()
    parser.feed(
        '<script>alert(1)</script><style>p{}</style><p style="color:red" onclick="x()">'
        '<svg><rect style="fill:red"/></svg><a href="javascript:void(0)">x</a>'
    )
    assert len(parser.problems) == 6
