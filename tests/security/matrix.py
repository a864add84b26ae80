"""The access matrix: for every route and method, who may use it on objects of the world.

The world (built in test_access_matrix.py) is two departments, D1 and D2, and nine
visitors: nobody signed in, applicant A (the owner of A's business), M (an accountant A
let into A's business), applicant B (the owner of another business), S1 (staff of D1,
accountable for A's requests), S2 (staff of D2, accountable for B's), H1 (head of D1),
the supervisor and the admin. Every object a URL names belongs to someone else than most
of them: A's requests, A's document, A's token, the escalation on A's request...

An entry is one or more `Case`s: which world objects fill the URL, what each visitor gets,
and what a POST sends. Those who must be refused send a body that *would* do something
(so a refusal that came too late would show as a change); those let in send `probe`, a
body the form rejects, so the allowed call changes nothing and its status (422, 400...)
shows that it got past the access check. A refused call, and an allowed POST not listed
in `changes`, must leave every table as it was.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.conftest import PDF

ANONYMOUS = "anonymous"
APPLICANT_A = "applicant_a"
APPLICANT_B = "applicant_b"
MEMBER_A = "member_a"  # an accountant of A's business: sees its requests, owns nothing
STAFF_D1 = "staff_d1"
STAFF_D2 = "staff_d2"
HEAD_D1 = "head_d1"
SUPERVISOR = "supervisor"
ADMIN = "admin"
ROLES = (
    ANONYMOUS,
    APPLICANT_A,
    MEMBER_A,
    APPLICANT_B,
    STAFF_D1,
    STAFF_D2,
    HEAD_D1,
    SUPERVISOR,
    ADMIN,
)
EMPLOYEES = (STAFF_D1, STAFF_D2, HEAD_D1)
OFFICIALS = (STAFF_D1, STAFF_D2, HEAD_D1, SUPERVISOR, ADMIN)

# What a visitor gets. Pages send the anonymous to /login?next=...; the JSON API answers
# 401. Refusals are exact: 404 where an object is not theirs to see (its existence stays
# hidden), 403 where their kind of account may not use the route at all.
OK = "ok"
LOGIN = "login"
FORBIDDEN = "403"
NOT_FOUND = "404"


def roles(default: str, **given: str) -> dict[str, str]:
    """`default` for every visitor not named."""
    unknown = set(given) - set(ROLES)
    assert not unknown, unknown
    return {role: given.get(role, default) for role in ROLES}


def only(*allowed: str, anonymous: str = LOGIN, refused: str = FORBIDDEN, **given: str):
    """Those `allowed` get in; the rest are refused (403 unless `given` says otherwise)."""
    return roles(refused, anonymous=anonymous, **{r: OK for r in allowed}, **given)


@dataclass(frozen=True)
class Fixed:
    """A URL value that is the same in every world (a format, a language)."""

    value: str


@dataclass(frozen=True)
class Case:
    expect: dict[str, str]
    # URL parameter -> the world's attribute holding the object (or a Fixed value).
    params: dict[str, str | Fixed] = field(default_factory=dict)
    # Query parameters naming objects too (same form as `params`).
    query: dict[str, str | Fixed] = field(default_factory=dict)
    # The status of an allowed call, and per visitor where it differs (e.g. a redirect).
    ok: int = 200
    ok_for: dict[str, int] = field(default_factory=dict)
    # POST bodies, from the world: `send` would act; `probe` is invalid (None: send `send`).
    send: Callable | None = None
    probe: Callable | None = None
    body: str = "form"  # form | multipart | json
    # Visitors let in whose POST is meant to change data (their own session, notices...).
    changes: tuple[str, ...] = ()
    # On an allowed call: visitor -> the world's attributes whose values the answer must
    # not contain (A's reference in B's list, A's description for the public...).
    hides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    about: str = "A's objects"

    def status_ok(self, role: str) -> int:
        return self.ok_for.get(role, self.ok)


def pdf(name: str = "scan.pdf"):
    return (io.BytesIO(PDF), name)


def signed_in_redirect(status: int) -> dict[str, int]:
    """Pages that send a signed-in visitor on (home, login, register): 302 for all of them."""
    return {role: 302 for role in ROLES if role != ANONYMOUS} | {ANONYMOUS: status}


# --- expectations shared by several routes -----------------------------------------------------

EVERYONE = roles(OK)
SIGNED_IN = roles(OK, anonymous=LOGIN)
APPLICANTS = only(APPLICANT_A, MEMBER_A, APPLICANT_B)
# A's business's requests: its members; B, of another business, does not know they exist.
APPLICANT_A_ONLY = only(APPLICANT_A, MEMBER_A, applicant_b=NOT_FOUND)
# What only the owner of A's business may do: M is in it (403), B is not (404).
OWNER_A = only(APPLICANT_A, applicant_b=NOT_FOUND)
CASEWORKERS = only(*EMPLOYEES)
CASEWORKERS_OF_D1 = only(STAFF_D1, HEAD_D1, staff_d2=NOT_FOUND)
# B's request in D2: S2 is accountable; S1 and H1 are of another department.
CASEWORKERS_OF_D2 = only(STAFF_D2, staff_d1=NOT_FOUND, head_d1=NOT_FOUND)
HEAD = only(HEAD_D1)
OVERSEERS = only(SUPERVISOR, ADMIN)
ADMIN_ONLY = only(ADMIN)
# The API: the same people with tokens; no token is a 401.
API_TOKEN_HOLDERS = roles(OK, anonymous=LOGIN)
API_A_REQUEST = roles(OK, anonymous=LOGIN, applicant_b=NOT_FOUND, staff_d2=NOT_FOUND)

A_PRIVATE = ("ref", "ref_refused", "description_a")  # A's requests and what A wrote

REF = {"reference": "ref"}  # A's request in D1, awaiting documents, S1 accountable
REF_DOC = {"reference": "ref", "document_id": "document"}
JSON = {"fmt": Fixed("json")}


def _staff_act(w):
    return {"action": "reject", "reason": "Not yours to decide"}


def _ask(w):
    return {f"want_{w.lease}": "y", f"reason_{w.lease}": "The lease is missing"}


def _reassign(w):
    return {"assignee": str(w.colleague), "reason": "Mine now"}


def _acknowledge(w):
    return {"reason_code": "workload", "note": "Seen", "excused": "yes"}


def _bulk_reassign(reference_attr):
    def send(w):
        return {
            "references": getattr(w, reference_attr),
            "assignee": str(w.colleague),
            "reason": "Leave",
        }

    return send


def _policy(w):
    return {
        "target_days": "9",
        "waiting_policy": "pause",
        "at_risk_percent": "75",
        "reply_days": "10",
        "confirmed": "yes",
    }


def _submit(w):
    return {"description": "Inside job", f"doc_{w.charter}": pdf()}


def _names(prefix: str) -> dict:
    return {f"{prefix}_{lang}": f"Inside job {lang}" for lang in ("ru", "kk", "en")}


def _department(w):
    return {"code": "D9", **_names("name"), "active": "y"}


def _document_type(w):
    return {"code": "inside", **_names("name"), "formats": ["pdf"], "active": "y"}


def _service_details(w):
    return {
        "department": "D2",
        **_names("title"),
        **_names("description"),
        "applicants": "both",
        "result_form": "letter",
        "required_documents": ["charter"],
    }


def _new_service(w):
    return {"code": "inside", **_service_details(w), **_policy(w)}


def _api_submit(w):
    return {"service_code": w.service, "description": "Inside job", f"doc_{w.charter}": pdf()}


TOO_LONG = "x" * 3000


# --- the matrix -----------------------------------------------------------------------------

MATRIX: dict[tuple[str, str], list[Case]] = {
    # public pages
    ("/", "GET"): [
        Case(EVERYONE, ok_for={r: 302 for r in OFFICIALS}),  # officials go to their queue
    ],
    ("/services", "GET"): [Case(EVERYONE)],
    ("/services/<code>", "GET"): [Case(EVERYONE, {"code": "service"})],
    ("/lang/<code>", "GET"): [Case(EVERYONE, {"code": Fixed("en")}, ok=302)],
    ("/board", "GET"): [Case(EVERYONE, hides={ANONYMOUS: (*A_PRIVATE, "email_a")})],
    ("/api/docs", "GET"): [Case(EVERYONE)],
    # Operations: health for anyone (the world has a fresh sweep heartbeat); metrics for
    # loopback callers when no METRICS_TOKEN is set, and the test client is 127.0.0.1.
    ("/healthz", "GET"): [Case(EVERYONE)],
    ("/metrics", "GET"): [Case(EVERYONE)],
    ("/api/openapi.json", "GET"): [Case(EVERYONE)],
    # accounts
    ("/login", "GET"): [Case(EVERYONE, ok_for=signed_in_redirect(200))],
    ("/login", "POST"): [
        Case(
            EVERYONE,
            ok_for=signed_in_redirect(422),
            send=lambda w: {"email": w.email_a, "password": "not the password"},
        )
    ],
    ("/register", "GET"): [Case(EVERYONE, ok_for=signed_in_redirect(200))],
    ("/register", "POST"): [
        Case(EVERYONE, ok_for=signed_in_redirect(422), send=lambda w: {"email": "not-an-email"})
    ],
    ("/logout", "POST"): [
        Case(SIGNED_IN, ok=302, send=lambda w: {}, changes=ROLES[1:])  # their session ends
    ],
    # One-time links: whoever holds the link may use it, signed in or not; an invalid
    # password (probe) shows the form got past every check but the rules.
    ("/password/forgot", "GET"): [Case(EVERYONE)],
    ("/password/forgot", "POST"): [Case(EVERYONE, ok=422, probe=lambda w: {"email": ""})],
    ("/password/reset/<token>", "GET"): [
        Case(EVERYONE, {"token": "reset_token"}),
        Case(roles(NOT_FOUND), {"token": Fixed("forged-token")}, about="a forged link"),
    ],
    ("/password/reset/<token>", "POST"): [
        Case(
            EVERYONE,
            {"token": "reset_token"},
            ok=422,
            probe=lambda w: {"password": "short", "confirm": "short"},
        ),
        Case(
            roles(NOT_FOUND),
            {"token": Fixed("forged-token")},
            send=lambda w: {
                "password": "a long new passphrase",
                "confirm": "a long new passphrase",
            },
            about="a forged link",
        ),
    ],
    ("/invitation/<token>", "GET"): [Case(EVERYONE, {"token": "invite_token"})],
    ("/invitation/<token>", "POST"): [
        Case(
            EVERYONE,
            {"token": "invite_token"},
            ok=422,
            probe=lambda w: {"password": "short", "confirm": "short"},
        )
    ],
    ("/profile/email/confirm/<token>", "GET"): [Case(EVERYONE, {"token": "email_token"})],
    ("/profile/email/confirm/<token>", "POST"): [
        # A stale form (its CSRF token) is refused: confirming changes A's address for good.
        Case(
            EVERYONE,
            {"token": "email_token"},
            ok=400,
            probe=lambda w: {"csrf_token": "stale"},
        )
    ],
    ("/profile/password", "GET"): [Case(SIGNED_IN)],
    ("/profile/password", "POST"): [
        Case(
            SIGNED_IN,
            ok=422,
            send=lambda w: {"current": "x", "password": "a" * 20, "confirm": "a" * 20},
            probe=lambda w: {"current": "not the password", "password": "a b c d e f g h"},
        )
    ],
    ("/profile/email", "GET"): [Case(SIGNED_IN)],
    ("/profile/email", "POST"): [
        Case(
            SIGNED_IN,
            ok=422,
            send=lambda w: {"email": "moved@firm.kz", "password": "x"},
            probe=lambda w: {"email": "moved@firm.kz", "password": "not the password"},
        )
    ],
    ("/inbox", "GET"): [Case(SIGNED_IN, hides={APPLICANT_B: A_PRIVATE, STAFF_D2: A_PRIVATE})],
    ("/inbox/read", "POST"): [
        Case(SIGNED_IN, ok=302, send=lambda w: {}, changes=ROLES[1:])  # their own notices
    ],
    ("/profile", "GET"): [Case(SIGNED_IN)],
    ("/profile", "POST"): [
        Case(
            SIGNED_IN,
            ok=422,
            send=lambda w: {"notify_sms": "y", "phone": "+77011234567", "locale": "kk"},
            probe=lambda w: {"phone": "9" * 30, "locale": "en"},
        )
    ],
    ("/profile/tokens", "GET"): [Case(SIGNED_IN)],
    ("/profile/tokens", "POST"): [
        Case(SIGNED_IN, ok=422, send=lambda w: {"name": "stolen"}, probe=lambda w: {"name": ""})
    ],
    # Revoking names the token in the form: A's token, which only A can revoke; anyone
    # else is sent back to their own page with A's token untouched.
    ("/profile/tokens/revoke", "POST"): [
        Case(
            SIGNED_IN,
            ok=302,
            send=lambda w: {"token_id": str(w.token_a)},
            changes=(APPLICANT_A,),
        )
    ],
    # applicants
    ("/my/requests", "GET"): [Case(APPLICANTS, hides={APPLICANT_B: A_PRIVATE})],
    ("/my/apply/<code>", "GET"): [
        Case(APPLICANTS, {"code": "service"}),
        # Starting again from a refused request carries its documents: A's, for A only.
        Case(
            APPLICANT_A_ONLY,
            {"code": "service"},
            query={"from": "ref_refused"},
            about="a new request from A's refused one",
        ),
    ],
    ("/my/apply/<code>", "POST"): [
        Case(
            APPLICANTS,
            {"code": "service"},
            ok=422,
            send=_submit,
            probe=lambda w: {"description": ""},
            body="multipart",
        ),
        Case(
            APPLICANT_A_ONLY,
            {"code": "service"},
            query={"from": "ref_refused"},
            ok=422,
            send=lambda w: {"description": "With A's documents"},
            probe=lambda w: {"description": ""},
            body="multipart",
            about="a new request from A's refused one",
        ),
    ],
    ("/my/requests/<reference>", "GET"): [Case(APPLICANT_A_ONLY, REF)],
    ("/my/requests/<reference>/confirmation", "GET"): [Case(APPLICANT_A_ONLY, REF)],
    ("/my/requests/<reference>/documents/<int:document_id>", "GET"): [
        Case(APPLICANT_A_ONLY, REF_DOC),
        # A's document through B's own request: still not B's.
        Case(
            only(applicant_a=NOT_FOUND, member_a=NOT_FOUND, applicant_b=NOT_FOUND),
            {"reference": "ref_b", "document_id": "document"},
            about="A's document through B's request",
        ),
    ],
    ("/my/requests/<reference>/refusal", "GET"): [
        Case(APPLICANT_A_ONLY, {"reference": "ref_refused"}, about="A's refused request")
    ],
    ("/my/requests/<reference>/answer", "POST"): [
        Case(
            APPLICANT_A_ONLY,
            REF,
            ok=422,
            send=lambda w: {f"doc_{w.lease}": pdf("lease.pdf")},
            probe=lambda w: {},
            body="multipart",
        )
    ],
    # Withdrawing is the owner's or the submitter's (A), not every member's.
    ("/my/requests/<reference>/withdraw", "POST"): [
        Case(
            OWNER_A,
            REF,
            ok=422,
            send=lambda w: {"reason": "Not mine, but why not"},
            probe=lambda w: {"reason": TOO_LONG},
        )
    ],
    # a business's people (A's business: A owns it, M is its accountant, one asks to join)
    ("/my/business", "GET"): [Case(APPLICANTS, hides={APPLICANT_B: ("email_member",)})],
    ("/my/business/members/<int:member_id>/decide", "POST"): [
        Case(
            OWNER_A,
            {"member_id": "pending_a"},
            ok=422,
            send=lambda w: {"decision": "accept", "role": "accountant"},
            probe=lambda w: {"decision": "maybe"},
            about="a request to join A's business",
        )
    ],
    ("/my/business/members/<int:member_id>/remove", "POST"): [
        Case(
            OWNER_A,
            {"member_id": "membership_m"},
            ok=422,
            send=lambda w: {"confirmed": "y"},
            probe=lambda w: {},
            about="M's membership of A's business",
        )
    ],
    ("/my/business/members/<int:member_id>/make-owner", "POST"): [
        Case(
            OWNER_A,
            {"member_id": "membership_m"},
            ok=422,
            send=lambda w: {"confirmed": "y"},
            probe=lambda w: {},
            about="M's membership of A's business",
        )
    ],
    # Each owner invites to their own business; M owns nothing.
    ("/my/business/invitations", "POST"): [
        Case(
            only(APPLICANT_A, APPLICANT_B),
            ok=422,
            send=lambda w: {"email": "new@firm.test", "role": "employee"},
            probe=lambda w: {"email": "not-an-email", "role": "employee"},
        )
    ],
    ("/my/business/power-of-attorney", "POST"): [
        Case(
            APPLICANTS,
            ok=422,
            send=lambda w: {"file": pdf("poa.pdf"), "valid_until": "2099-01-01"},
            probe=lambda w: {"valid_until": "not a date"},
            body="multipart",
        )
    ],
    # M's power of attorney: M and the owner; B is not in the business.
    ("/my/business/members/<int:member_id>/power-of-attorney", "GET"): [
        Case(
            only(APPLICANT_A, MEMBER_A, applicant_b=NOT_FOUND),
            {"member_id": "membership_m"},
            about="M's power of attorney",
        )
    ],
    # The invited person's one-time link: for someone not signed in (the signed-in are told
    # to log out first, and may not use it).
    ("/business/invitations/<token>", "GET"): [
        Case(EVERYONE, {"token": "invitation"}, about="an invitation to A's business")
    ],
    ("/business/invitations/<token>", "POST"): [
        Case(
            only(anonymous=OK),
            {"token": "invitation"},
            ok=422,
            send=lambda w: {
                "full_name": "Taken Over",
                "password": "correct horse battery",
                "confirm": "correct horse battery",
            },
            probe=lambda w: {"full_name": "", "password": "short"},
            about="an invitation to A's business",
        )
    ],
    # staff and heads
    ("/staff/queue", "GET"): [Case(CASEWORKERS, hides={STAFF_D2: A_PRIVATE})],
    ("/staff/department", "GET"): [Case(CASEWORKERS, hides={STAFF_D2: A_PRIVATE})],
    ("/staff/requests/<reference>", "GET"): [
        Case(CASEWORKERS_OF_D1, REF),
        Case(CASEWORKERS_OF_D2, {"reference": "ref_b"}, about="B's request in D2"),
    ],
    ("/staff/requests/<reference>/documents/<int:document_id>", "GET"): [
        Case(CASEWORKERS_OF_D1, REF_DOC),
        Case(
            only(staff_d1=NOT_FOUND, staff_d2=NOT_FOUND, head_d1=NOT_FOUND),
            {"reference": "ref_b", "document_id": "document"},
            about="A's document through B's request in D2",
        ),
    ],
    ("/staff/requests/<reference>/act", "POST"): [
        Case(CASEWORKERS_OF_D1, REF, ok=422, send=_staff_act, probe=lambda w: {}),
        Case(
            CASEWORKERS_OF_D2,
            {"reference": "ref_b"},
            ok=422,
            send=_staff_act,
            probe=lambda w: {},
            about="B's request in D2",
        ),
    ],
    ("/staff/requests/<reference>/ask", "POST"): [
        Case(
            CASEWORKERS_OF_D1,
            REF,
            ok=422,
            send=_ask,
            probe=lambda w: {f"reason_{w.lease}": TOO_LONG},
        ),
        Case(
            CASEWORKERS_OF_D2,
            {"reference": "ref_b"},
            ok=422,
            send=_ask,
            probe=lambda w: {f"reason_{w.lease}": TOO_LONG},
            about="B's request in D2",
        ),
    ],
    ("/staff/requests/<reference>/reassign", "POST"): [
        Case(HEAD, REF, ok=422, send=_reassign, probe=lambda w: {"reason": ""}),
        Case(
            only(head_d1=NOT_FOUND),
            {"reference": "ref_b"},
            send=_reassign,
            about="B's request in D2",
        ),
    ],
    ("/staff/approvals", "GET"): [Case(only(*EMPLOYEES, SUPERVISOR))],
    # The step asks for the head of D1's sign-off on A's request.
    ("/staff/approvals/<int:step_id>", "POST"): [
        Case(
            only(
                HEAD_D1,
                staff_d1=NOT_FOUND,
                staff_d2=NOT_FOUND,
                supervisor=NOT_FOUND,
            ),
            {"step_id": "step"},
            ok=422,
            send=lambda w: {"decision": "approve"},
            probe=lambda w: {},
            about="the head's sign-off on A's request",
        )
    ],
    ("/staff/digest", "GET"): [Case(HEAD)],
    ("/staff/team", "GET"): [Case(HEAD)],
    ("/staff/team/reassign", "POST"): [
        Case(HEAD, ok=422, send=_bulk_reassign("ref"), probe=lambda w: {"reason": ""}),
        Case(
            only(head_d1=NOT_FOUND),
            send=_bulk_reassign("ref_b"),
            about="B's request in D2, ticked by H1",
        ),
    ],
    ("/staff/team/escalations/<int:escalation_id>/acknowledge", "POST"): [
        Case(
            HEAD,
            {"escalation_id": "escalation"},
            ok=422,
            send=_acknowledge,
            probe=lambda w: {},
        ),
        Case(
            only(head_d1=NOT_FOUND),
            {"escalation_id": "escalation_b"},
            send=_acknowledge,
            about="the escalation on B's request in D2",
        ),
    ],
    # the supervisor (and the admin, read-only)
    ("/supervisor/requests", "GET"): [Case(OVERSEERS)],
    ("/supervisor/requests/<reference>", "GET"): [Case(OVERSEERS, REF)],
    ("/supervisor/requests/<reference>/documents/<int:document_id>", "GET"): [
        Case(OVERSEERS, REF_DOC),
        Case(
            only(refused=FORBIDDEN, supervisor=NOT_FOUND, admin=NOT_FOUND),
            {"reference": "ref_b", "document_id": "document"},
            about="A's document through B's request",
        ),
    ],
    ("/supervisor/digest", "GET"): [Case(only(SUPERVISOR))],
    ("/supervisor/breaches", "GET"): [Case(OVERSEERS)],
    ("/supervisor/breaches/<reference>", "GET"): [Case(OVERSEERS, REF)],
    ("/supervisor/breaches/<reference>/reassign", "POST"): [
        Case(only(SUPERVISOR), REF, ok=422, send=_reassign, probe=lambda w: {"reason": ""})
    ],
    # Acknowledging is the supervisor's (and the owning head's, on the team board): the
    # admin is not asked, and the escalation does not exist for them.
    ("/supervisor/escalations/<int:escalation_id>/acknowledge", "POST"): [
        Case(
            only(SUPERVISOR, admin=NOT_FOUND),
            {"escalation_id": "escalation"},
            ok=422,
            send=_acknowledge,
            probe=lambda w: {},
        )
    ],
    ("/supervisor/trends", "GET"): [Case(OVERSEERS)],
    ("/supervisor/cycles", "GET"): [Case(OVERSEERS)],
    # the admin
    ("/admin/calendar", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/calendar", "POST"): [
        Case(
            ADMIN_ONLY,
            ok=422,
            send=lambda w: {
                "day": "2027-03-02",
                "kind": "holiday",
                "name": "Decree",
                "confirmed": "yes",
            },
            probe=lambda w: {},
        )
    ],
    ("/admin/calendar/<int:override_id>/remove", "POST"): [
        Case(
            ADMIN_ONLY,
            {"override_id": "override"},
            ok=200,  # unconfirmed: the preview of what would move
            send=lambda w: {"confirmed": "yes"},
            probe=lambda w: {},
        )
    ],
    ("/admin/outbox", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/outbox/<int:outbox_id>/retry", "POST"): [
        Case(
            ADMIN_ONLY,
            {"outbox_id": "outbox"},
            ok=302,
            send=lambda w: {},
            changes=(ADMIN,),  # the dead message is due again
        )
    ],
    ("/admin/people", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/people/<int:user_id>", "GET"): [Case(ADMIN_ONLY, {"user_id": "user_s1"})],
    ("/admin/people/<int:user_id>/tokens/<int:token_id>/revoke", "POST"): [
        # A's token named under A's own id: only the admin may revoke it.
        Case(
            ADMIN_ONLY,
            {"user_id": "user_a", "token_id": "token_a"},
            ok=303,
            send=lambda w: {},
            changes=(ADMIN,),  # the token is revoked
        ),
        # A's token named under someone else's id: nothing there, even for the admin.
        Case(
            only(refused=FORBIDDEN, admin=NOT_FOUND),
            {"user_id": "user_s1", "token_id": "token_a"},
            send=lambda w: {},
            about="A's token under S1",
        ),
    ],
    ("/admin/people/invite", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/people/invite", "POST"): [
        Case(
            ADMIN_ONLY,
            ok=422,
            send=lambda w: {"full_name": "Mole", "email": "mole@akimat.kz", "role": "admin"},
            probe=lambda w: {"full_name": "", "email": "mole@akimat.kz", "role": "admin"},
        )
    ],
    ("/admin/people/<int:user_id>/role", "POST"): [
        Case(
            ADMIN_ONLY,
            {"user_id": "user_s1"},
            ok=422,
            send=lambda w: {"role": "supervisor", "department_id": "", "reason": "Promoted"},
            probe=lambda w: {"role": "supervisor", "department_id": "", "reason": ""},
        )
    ],
    # S1 was never invited: the admin is told so, and nothing is sent.
    ("/admin/people/<int:user_id>/invitation", "POST"): [
        Case(ADMIN_ONLY, {"user_id": "user_s1"}, ok=303, send=lambda w: {})
    ],
    ("/admin/people/<int:user_id>/disable", "POST"): [
        Case(
            ADMIN_ONLY,
            {"user_id": "user_s1"},
            ok=422,
            send=lambda w: {"reason": "Left the akimat"},
            probe=lambda w: {"reason": ""},
        )
    ],
    ("/admin/people/<int:user_id>/enable", "POST"): [
        # S1 is enabled already: enabling again only records it.
        Case(ADMIN_ONLY, {"user_id": "user_s1"}, ok=303, send=lambda w: {}, changes=(ADMIN,))
    ],
    ("/admin/services", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/services/<code>", "GET"): [Case(ADMIN_ONLY, {"code": "service"})],
    ("/admin/services/<code>", "POST"): [
        Case(ADMIN_ONLY, {"code": "service"}, ok=422, send=_policy, probe=lambda w: {})
    ],
    # the catalogue: departments, document types, services (created, described, retired)
    ("/admin/departments", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/departments/new", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/departments/new", "POST"): [
        Case(ADMIN_ONLY, ok=422, send=_department, probe=lambda w: {"code": "D9"})
    ],
    ("/admin/departments/<code>", "GET"): [Case(ADMIN_ONLY, {"code": Fixed("D1")})],
    ("/admin/departments/<code>", "POST"): [
        Case(ADMIN_ONLY, {"code": Fixed("D1")}, ok=422, send=_department, probe=lambda w: {})
    ],
    ("/admin/document-types", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/document-types/new", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/document-types/new", "POST"): [
        Case(ADMIN_ONLY, ok=422, send=_document_type, probe=lambda w: {"code": "inside"})
    ],
    ("/admin/document-types/<code>", "GET"): [Case(ADMIN_ONLY, {"code": Fixed("charter")})],
    ("/admin/document-types/<code>", "POST"): [
        Case(
            ADMIN_ONLY, {"code": Fixed("charter")}, ok=422, send=_document_type, probe=lambda w: {}
        )
    ],
    ("/admin/services/new", "GET"): [Case(ADMIN_ONLY)],
    ("/admin/services/new", "POST"): [
        Case(ADMIN_ONLY, ok=422, send=_new_service, probe=lambda w: {"code": "inside"})
    ],
    ("/admin/services/<code>/details", "GET"): [Case(ADMIN_ONLY, {"code": "service"})],
    ("/admin/services/<code>/details", "POST"): [
        Case(ADMIN_ONLY, {"code": "service"}, ok=422, send=_service_details, probe=lambda w: {})
    ],
    ("/admin/services/<code>/status", "POST"): [
        # A's service has open requests: retiring it would act; an unknown action is a 400.
        Case(
            ADMIN_ONLY,
            {"code": "service"},
            ok=400,
            send=lambda w: {"action": "retire"},
            probe=lambda w: {"action": "explode"},
        )
    ],
    ("/admin/catalogue/changes", "GET"): [Case(ADMIN_ONLY)],
    # --- /api/v1: bearer tokens ---
    ("/api/v1/me", "GET"): [Case(API_TOKEN_HOLDERS)],
    ("/api/v1/services", "GET"): [Case(API_TOKEN_HOLDERS)],
    ("/api/v1/services/<code>", "GET"): [Case(API_TOKEN_HOLDERS, {"code": "service"})],
    ("/api/v1/document-types", "GET"): [Case(API_TOKEN_HOLDERS)],
    ("/api/v1/requests", "GET"): [
        Case(API_TOKEN_HOLDERS, hides={APPLICANT_B: A_PRIVATE, STAFF_D2: A_PRIVATE})
    ],
    ("/api/v1/requests", "POST"): [
        Case(
            APPLICANTS,
            ok=422,
            send=_api_submit,
            probe=lambda w: {"description": "No service named"},
            body="multipart",
        ),
        Case(
            APPLICANT_A_ONLY,
            ok=422,
            send=lambda w: {
                "service_code": w.service,
                "description": "With A's documents",
                "carry_from": w.ref_refused,
            },
            probe=lambda w: {
                "service_code": w.service,
                "description": "",
                "carry_from": w.ref_refused,
            },
            body="multipart",
            about="a new request from A's refused one",
        ),
    ],
    ("/api/v1/requests/<reference>", "GET"): [Case(API_A_REQUEST, REF)],
    ("/api/v1/requests/<reference>/documents", "POST"): [
        Case(
            APPLICANT_A_ONLY,
            REF,
            ok=422,
            send=lambda w: {f"doc_{w.lease}": pdf("lease.pdf")},
            probe=lambda w: {},
            body="multipart",
        )
    ],
    ("/api/v1/requests/<reference>/withdraw", "POST"): [
        Case(
            OWNER_A,
            REF,
            ok=422,
            send=lambda w: {"reason": "Not mine"},
            probe=lambda w: {"reason": 5},
            body="json",
        )
    ],
    ("/api/v1/queue", "GET"): [Case(CASEWORKERS, hides={STAFF_D2: A_PRIVATE})],
    ("/api/v1/queue/department", "GET"): [Case(CASEWORKERS, hides={STAFF_D2: A_PRIVATE})],
    ("/api/v1/requests/<reference>/actions", "POST"): [
        Case(
            CASEWORKERS_OF_D1,
            REF,
            ok=422,
            send=_staff_act,
            probe=lambda w: {"action": "dance"},
            body="json",
        ),
        Case(
            CASEWORKERS_OF_D2,
            {"reference": "ref_b"},
            ok=422,
            send=_staff_act,
            probe=lambda w: {"action": "dance"},
            body="json",
            about="B's request in D2",
        ),
    ],
    # --- /open311/v2: public reading; an api_key (a personal token) shows, of the requests
    # that person may see, everything, and is needed to create. Those with a token send it.
    ("/open311/v2/discovery.<any(json, xml):fmt>", "GET"): [Case(EVERYONE, JSON)],
    ("/open311/v2/services.<any(json, xml):fmt>", "GET"): [Case(EVERYONE, JSON)],
    ("/open311/v2/services/<code>.<any(json, xml):fmt>", "GET"): [
        Case(EVERYONE, {"code": "service", **JSON})
    ],
    ("/open311/v2/requests.<any(json, xml):fmt>", "GET"): [
        Case(
            EVERYONE,
            JSON,
            hides={
                ANONYMOUS: ("description_a",),
                APPLICANT_B: A_PRIVATE,
                STAFF_D2: A_PRIVATE,
            },
        )
    ],
    ("/open311/v2/requests.<any(json, xml):fmt>", "POST"): [
        Case(
            only(APPLICANT_A, MEMBER_A, APPLICANT_B, anonymous=FORBIDDEN),
            JSON,
            ok=400,
            send=lambda w: {"service_code": w.service_b, "description": "Inside job"},
            probe=lambda w: {"description": "No service named"},
        )
    ],
    # Without a key the public fields of any request; with one, only a request the key's
    # owner may see (404 otherwise).
    ("/open311/v2/requests/<reference>.<any(json, xml):fmt>", "GET"): [
        Case(
            roles(OK, applicant_b=NOT_FOUND, staff_d2=NOT_FOUND),
            {"reference": "ref", **JSON},
            hides={ANONYMOUS: ("description_a",)},
        )
    ],
    ("/open311/v2/tokens/<token>.<any(json, xml):fmt>", "GET"): [
        Case(EVERYONE, {"token": "ref", **JSON})
    ],
}

# Routes being added as this matrix was written: each is checked as soon as its rule exists
# (and an entry here whose rule does not exist yet is not "stale"). Move it into MATRIX then.
UPCOMING: dict[tuple[str, str], list[Case]] = {}

IGNORED_ENDPOINTS = frozenset({"static"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def routes_of(app) -> list[tuple[str, str]]:
    """(rule, method) for every route of `app`, but static files (HEAD, OPTIONS aside)."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in IGNORED_ENDPOINTS:
            continue
        found.update((rule.rule, method) for method in rule.methods if method in METHODS)
    return sorted(found)


def entry_for(rule: str, method: str) -> list[Case] | None:
    return MATRIX.get((rule, method)) or UPCOMING.get((rule, method))
