"""`/open311/v2`: services, service definitions, requests (read and create), tokens.

Mapping: `service_request_id` is our reference; `status` is open or closed;
`agency_responsible` the department; `expected_datetime` the SLA deadline (`due_at`);
times are ISO 8601 in the administration's time zone. Our services have no location, so
the location fields are empty.

Reading needs no key, as the specification has it, but then shows only what is public
(no description, no decision reason); with an `api_key` (a personal API token) a caller
sees, of the requests that person may see, everything. Creating needs an applicant's
token. GeoReport v2 has no way to send files: a service that needs documents is refused
with a 400 that points to `/api/v1/requests` (multipart, with the files).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from portal import lifecycle
from portal.api.auth import share_machine_limits
from portal.extensions import db
from portal.models import OPEN_STATE_VALUES, OPEN_STATES, Role, Service, ServiceRequest, User
from portal.open311.formats import error, respond
from portal.services import NotVisible, ServiceError, access, catalogue, tokens
from portal.services import requests as request_service
from sla import clock

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FORMATS = "<any(json, xml):fmt>"
DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
_ATTRIBUTE = re.compile(r"^attribute\[(.+)\]$")


class Open311Error(Exception):
    def __init__(self, status: int, description):
        super().__init__(str(description))
        self.status = status
        self.description = description


share_machine_limits(bp)


def request_format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in ("json", "xml"):
        return fmt
    return "xml" if request.path.endswith(".xml") else "json"


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    return error(request_format(), exc.status, exc.description)


@bp.errorhandler(NotVisible)
def _not_visible(_exc):
    return error(request_format(), 404, _("There is no such request."))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return http_error(exc)


def http_error(exc: HTTPException):
    status = exc.code or 500
    descriptions = {
        400: _("The request could not be understood."),
        404: _("There is nothing here."),
        405: _("This address does not accept that method."),
        413: _("The request is too large."),
        429: _("Too many requests. Please slow down."),
    }
    if status >= 500:
        db.session.rollback()
        return error(request_format(), 500, _("Something went wrong."))
    description = descriptions.get(status, exc.description or "")
    if getattr(exc, "api_code", None):
        description = exc.description  # a refusal that knows its reason: say it
    return error(request_format(), status, description)


# --- mapping ------------------------------------------------------------------------------


def _local(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).isoformat()


def service_entry(service: Service) -> dict:
    return {
        "service_code": service.code,
        "service_name": service.title,
        "description": service.description,
        "metadata": bool(service.required_documents),
        "type": "batch",
        "keywords": None,
        "group": service.department.name,
    }


def service_definition(service: Service) -> dict:
    """Required documents as attributes: shown, not filled in (they are files)."""
    note = _("A file, sent through the JSON API (/api/v1/requests), not through Open311.")
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": False,
                "code": document_type.code,
                "datatype": "string",
                "required": True,
                "datatype_description": note,
                "order": order,
                "description": document_type.name,
            }
            for order, document_type in enumerate(service.required_documents, start=1)
        ],
    }


def request_entry(req: ServiceRequest, viewer: User | None) -> dict:
    """One request as GeoReport v2 shows it; a `viewer` (who may see it) reads more."""
    full = viewer is not None
    notes = lifecycle.state_label(req.state)
    if full and req.decision_reason and access.sees_decision_reason(viewer, req):
        notes = f"{notes}: {req.decision_reason}"
    return {
        "service_request_id": req.reference,
        "status": "open" if req.state in OPEN_STATES else "closed",
        "status_notes": notes,
        "service_name": req.service.title,
        "service_code": req.service.code,
        "description": req.description if full else None,
        "agency_responsible": req.department.name,
        "service_notice": _("Target: %(num)d working days.", num=req.service.target_days),
        "requested_datetime": _local(req.submitted_at),
        "updated_datetime": _local(req.updated_at),
        "expected_datetime": _local(req.due_at),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


# --- who is asking ------------------------------------------------------------------------


def _key_user(required: bool) -> User | None:
    key = request.values.get("api_key")
    if not key:
        if required:
            raise Open311Error(403, _("An api_key (a personal API token) is required."))
        return None
    user = tokens.authenticate(key)
    if user is None:
        raise Open311Error(403, _("The api_key is unknown or revoked."))
    return user


def _visible(user: User | None) -> sa.Select:
    if user is None:
        return sa.select(ServiceRequest)
    return access.visible_requests(user)


def _parse_datetime(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))
        return value.astimezone(UTC)  # year 1 at +05:00 is year 0 in UTC: out of range
    except (ValueError, OverflowError):
        raise Open311Error(
            400, _("%(name)s is not an ISO 8601 date and time.", name=name)
        ) from None


# --- endpoints ----------------------------------------------------------------------------


@bp.get(f"/discovery.{FORMATS}")
def discovery(fmt: str):
    base = current_app.config["BASE_URL"].rstrip("/") + bp.url_prefix
    payload = {
        "changeset": "2026-11-27T00:00:00+05:00",
        "contact": _("The city administration's service desk, through the portal."),
        "key_service": _(
            "Make a personal API token on your profile page: %(url)s",
            url=current_app.config["BASE_URL"].rstrip("/") + "/profile/tokens",
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": "2026-11-27T00:00:00+05:00",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return respond(fmt, "discovery", payload)


@bp.get(f"/services.{FORMATS}")
def services(fmt: str):
    found = db.session.scalars(
        sa.select(Service).where(Service.active.is_(True)).order_by(Service.code)
    )
    return respond(fmt, "services", [service_entry(s) for s in found])


@bp.get(f"/services/<code>.{FORMATS}")
def service(code: str, fmt: str):
    found = catalogue.active_service(code)
    if found is None:
        raise Open311Error(404, _("There is no such service."))
    return respond(fmt, "service_definition", service_definition(found))


@bp.get(f"/requests.{FORMATS}")
def requests(fmt: str):
    user = _key_user(required=False)
    query = _visible(user)
    ids = request.args.get("service_request_id")
    if ids:
        # As the specification says: with ids, the other filters are ignored.
        wanted = [i.strip() for i in ids.split(",") if i.strip()][:MAX_RESULTS]
        query = query.where(ServiceRequest.reference.in_(wanted))
    else:
        codes = [c for c in request.args.get("service_code", "").split(",") if c]
        if codes:
            query = query.join(Service, ServiceRequest.service_id == Service.id).where(
                Service.code.in_(codes)
            )
        statuses = {s for s in request.args.get("status", "").split(",") if s}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, _("status is open or closed."))
        open_states = OPEN_STATE_VALUES
        if statuses == {"open"}:
            query = query.where(ServiceRequest.state.in_(open_states))
        elif statuses == {"closed"}:
            query = query.where(ServiceRequest.state.not_in(open_states))
        start, end = _parse_datetime("start_date"), _parse_datetime("end_date")
        if start and end and start > end:
            raise Open311Error(400, _("start_date is after end_date."))
        if start is None and end is None:
            start = clock.now() - DEFAULT_WINDOW
        if start is not None:
            query = query.where(ServiceRequest.submitted_at >= start)
        if end is not None:
            query = query.where(ServiceRequest.submitted_at <= end)
    query = query.order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc())
    found = db.session.scalars(query.limit(MAX_RESULTS))
    return respond(fmt, "requests", [request_entry(r, user) for r in found])


@bp.get(f"/requests/<reference>.{FORMATS}")
def request_by_id(reference: str, fmt: str):
    user = _key_user(required=False)
    if user is not None:
        found = access.get_request(user, reference)
    else:
        found = db.session.scalar(
            sa.select(ServiceRequest).where(ServiceRequest.reference == reference)
        )
        if found is None:
            raise NotVisible(reference)
    return respond(fmt, "requests", [request_entry(found, user)])


@bp.post(f"/requests.{FORMATS}")
def create_request(fmt: str):
    user = _key_user(required=True)
    if user.role != Role.APPLICANT:
        raise Open311Error(403, _("Only an applicant's api_key may create requests."))
    code = request.form.get("service_code", "")
    found = catalogue.active_service(code) if code else None
    if found is None:
        raise Open311Error(400, _("service_code is missing or unknown."))
    attributes = {
        match.group(1): value
        for key, value in request.form.items()
        if (match := _ATTRIBUTE.match(key))
    }
    documents = {d.code for d in found.required_documents}
    unknown = set(attributes) - documents
    if unknown:
        raise Open311Error(400, _("Unknown attribute: %(code)s.", code=", ".join(sorted(unknown))))
    if documents:
        raise Open311Error(
            400,
            _(
                "This service needs documents (%(codes)s), which Open311 cannot carry. "
                "Submit it through the JSON API, POST /api/v1/requests, with the files.",
                codes=", ".join(sorted(documents)),
            ),
        )
    try:
        created = request_service.submit(user, found, request.form.get("description", ""), [])
    except ServiceError as refused:
        raise Open311Error(400, refused.message) from None
    notice = _(
        "Accountable employee: %(name)s. Expected by %(due)s.",
        name=created.assignee.full_name if created.assignee else "—",
        due=_local(created.due_at),
    )
    payload = [
        {
            "service_request_id": created.reference,
            "service_notice": notice,
            "account_id": None,
        }
    ]
    response = respond(fmt, "requests", payload, status=201)
    response.headers["Location"] = url_for(
        "open311.request_by_id", reference=created.reference, fmt=fmt
    )
    return response


@bp.get(f"/tokens/<token>.{FORMATS}")
def token(token: str, fmt: str):
    """Requests are created at once, so a token is simply the request's id."""
    found = db.session.scalar(
        sa.select(ServiceRequest.reference).where(ServiceRequest.reference == token)
    )
    if found is None:
        raise Open311Error(404, _("There is no such token."))
    return respond(fmt, "requests", [{"service_request_id": found, "token": token}])
