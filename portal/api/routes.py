"""`/api/v1`: the same services and access rules as the pages, over JSON and a token."""

from __future__ import annotations

import math

import jsonschema
import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from portal import limits
from portal.api import errors, schemas, serialize
from portal.api.auth import current_api_user, roles, share_machine_limits
from portal.api.errors import ApiError
from portal.api.spec import operation
from portal.extensions import db
from portal.models import OPEN_STATE_VALUES, DocumentType, Service, ServiceRequest, State
from portal.services import access, catalogue
from portal.services import requests as request_service
from portal.services.boards import staff as staff_boards
from portal.services.requests import Upload

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp)

APPLICANT = ("applicant",)
CASEWORKER = ("staff", "head")


share_machine_limits(bp)


@bp.before_request
def _fresh_identity():
    g.pop("api_user", None)


@bp.before_request
def _known_query_parameters():
    # A misspelt parameter (`perpage`) would silently be ignored: say so instead.
    view = current_app.view_functions.get(request.endpoint)
    allowed = getattr(view, "api_query_parameters", None)
    if allowed is None:
        return
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        message = _("Unknown query parameter.")
        raise ApiError(400, "bad_request", message, {name: message for name in unknown})


# --- request helpers --------------------------------------------------------------------


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        message = _("A whole number from %(low)d to %(high)d.", low=low, high=high)
        raise ApiError(400, "bad_request", message, {name: message})
    return value


def _page_args() -> tuple[int, int]:
    return _int_arg("page", 1, 1, 1_000_000), _int_arg("per_page", 20, 1, 100)


def _page(items: list, total: int, page: int, per_page: int, render) -> dict:
    return {
        "items": [render(item) for item in items],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": math.ceil(total / per_page),
    }


def _paginate_select(query: sa.Select, render) -> dict:
    page, per_page = _page_args()
    found = db.paginate(query, page=page, per_page=per_page, error_out=False, max_per_page=100)
    return _page(found.items, found.total or 0, page, per_page, render)


def _json_body() -> dict:
    """The JSON object sent; an empty body counts as `{}`."""
    if not request.is_json:
        # (A form body may have been read already, by the check for NUL characters.)
        if request.content_length or request.form or request.files or request.get_data():
            raise ApiError(415, "unsupported_media_type", _("Send JSON (application/json)."))
        return {}
    body = request.get_json(silent=True)
    if body is None:
        if not request.get_data(cache=True):
            return {}
        raise ApiError(400, "malformed_json", _("The body is not valid JSON."))
    if not isinstance(body, dict):
        raise ApiError(422, "invalid", _("Send a JSON object."))
    if _has_nul(body):
        # As for forms (see create_app): PostgreSQL text cannot hold NUL.
        raise ApiError(400, "bad_request", _("The request could not be understood."))
    _check_against_declaration(body)
    return body


def _check_against_declaration(body: dict) -> None:
    """The body must follow the schema the OpenAPI document gives for this operation."""
    schema = getattr(current_app.view_functions.get(request.endpoint), "api_json_schema", None)
    if schema is None:
        return
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(body))
    if error is not None:
        field = ".".join(str(part) for part in error.absolute_path) or "body"
        raise ApiError(422, "invalid", _("Some fields are not valid."), {field: error.message})


# The declared schemas are module constants: one compiled validator each.
_VALIDATORS: dict[int, jsonschema.Draft202012Validator] = {}


def _validator(schema: dict) -> jsonschema.Draft202012Validator:
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = jsonschema.Draft202012Validator(schema)
    return validator


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _text_field(body: dict, name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        message = _("Must be text.")
        raise ApiError(422, "invalid", message, {name: message})
    if len(value) > limit:
        message = _("At most %(num)d characters.", num=limit)
        raise ApiError(422, "invalid", message, {name: message})
    return value


def _multipart():
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", _("Send the files as multipart/form-data."))
    _check_text_lengths(request.form)
    return request.form, request.files


def _check_text_lengths(form) -> None:
    """Text fields of a multipart body within the maxLength their declared schema gives.

    (The schema takes its limits from portal/limits.py, as the forms do.)
    """
    view = current_app.view_functions.get(request.endpoint)
    declared = getattr(view, "api_multipart_schema", None) or {}
    for name, schema in declared.get("properties", {}).items():
        limit = schema.get("maxLength")
        if limit is not None and any(len(value) > limit for value in form.getlist(name)):
            message = _("At most %(num)d characters.", num=limit)
            raise ApiError(422, "invalid", message, {name: message})


def _uploads(files, type_ids) -> list[Upload]:
    return [Upload(t, files[f"doc_{t}"]) for t in type_ids if f"doc_{t}" in files]


# --- everyone with a token --------------------------------------------------------------


@operation(bp, "GET", "/me", "Who this token acts for", ok=(200, schemas.ref("Me")))
@roles()
def get_me():
    return jsonify(serialize.me(current_api_user()))


@operation(
    bp,
    "GET",
    "/services",
    "The catalogue: services with their required documents and targets",
    ok=(200, schemas.page_of(schemas.ref("Service"))),
    paginated=True,
)
@roles()
def list_services():
    query = sa.select(Service).where(Service.active.is_(True)).order_by(Service.code)
    return jsonify(_paginate_select(query, serialize.service))


@operation(bp, "GET", "/services/{code}", "One service", ok=(200, schemas.ref("Service")))
@roles()
def get_service(code: str):
    found = catalogue.active_service(code)
    if found is None:
        raise ApiError(404, "not_found", _("There is no such service."))
    return jsonify(serialize.service(found))


@operation(
    bp,
    "GET",
    "/document-types",
    "Document types (for asking for documents)",
    ok=(200, schemas.page_of(schemas.ref("DocumentType"))),
    paginated=True,
)
@roles()
def list_document_types():
    query = sa.select(DocumentType).order_by(DocumentType.id)
    return jsonify(_paginate_select(query, serialize.document_type))


@operation(
    bp,
    "GET",
    "/requests",
    "Requests you may see: an applicant's own, a department's, or all for a supervisor",
    ok=(200, schemas.page_of(schemas.ref("RequestSummary"))),
    paginated=True,
    parameters=[
        {
            "name": "state",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": [str(s) for s in State]},
        }
    ],
)
@roles()
def list_requests():
    user = current_api_user()
    query = access.visible_requests(user)
    state = request.args.get("state")
    if state is not None:
        if state not in set(State):
            message = _("Unknown state.")
            raise ApiError(400, "bad_request", message, {"state": message})
        query = query.where(ServiceRequest.state == state)
    query = query.order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc())
    return jsonify(_paginate_select(query, serialize.summary))


@operation(
    bp,
    "GET",
    "/requests/{reference}",
    "One request: status, who is accountable, deadline, time left, timeline",
    ok=(200, schemas.ref("RequestDetail")),
)
@roles()
def get_request(reference: str):
    user = current_api_user()
    return jsonify(serialize.detail(user, access.get_request(user, reference)))


# --- applicants ---------------------------------------------------------------------------


@operation(
    bp,
    "POST",
    "/requests",
    "Submit a request with its documents",
    roles=APPLICANT,
    ok=(201, schemas.ref("RequestDetail")),
    body={"multipart/form-data": schemas.SUBMIT_BODY},
)
@roles(*APPLICANT)
def create_request():
    user = current_api_user()
    form, files = _multipart()
    code = form.get("service_code", "")
    found = catalogue.active_service(code) if code else None
    if found is None:
        message = _("There is no such service.")
        raise ApiError(422, "invalid", message, {"service_code": message})
    created = request_service.submit(
        user,
        found,
        form.get("description", ""),
        _uploads(files, [d.id for d in found.required_documents]),
        carry_from=form.get("carry_from") or None,
    )
    response = jsonify(serialize.detail(user, created))
    response.status_code = 201
    response.headers["Location"] = f"{bp.url_prefix}/requests/{created.reference}"
    return response


@operation(
    bp,
    "POST",
    "/requests/{reference}/documents",
    "Answer the open document request by uploading what was asked for",
    roles=APPLICANT,
    ok=(200, schemas.ref("RequestDetail")),
    body={"multipart/form-data": schemas.ANSWER_BODY},
    errors=(409,),
)
@roles(*APPLICANT)
def provide_documents(reference: str):
    user = current_api_user()
    found = access.get_request(user, reference)
    _form, files = _multipart()
    ask = found.open_document_request
    type_ids = [item.document_type_id for item in ask.items] if ask is not None else []
    updated = request_service.provide_documents(user, reference, _uploads(files, type_ids))
    return jsonify(serialize.detail(user, updated))


@operation(
    bp,
    "POST",
    "/requests/{reference}/withdraw",
    "Withdraw a request",
    roles=APPLICANT,
    ok=(200, schemas.ref("RequestDetail")),
    body={"application/json": schemas.WITHDRAW_BODY},
    errors=(409,),
)
@roles(*APPLICANT)
def withdraw_request(reference: str):
    user = current_api_user()
    found = access.get_request(user, reference)  # 404 before looking at the body
    if not access.can_withdraw(user, found):
        raise ApiError(
            403,
            "forbidden",
            _("Only the owner of the business or whoever submitted it may withdraw it."),
        )
    reason = _text_field(_json_body(), "reason", limits.WITHDRAW_REASON)
    updated = request_service.withdraw(user, reference, (reason or "").strip() or None)
    return jsonify(serialize.detail(user, updated))


# --- staff and heads ----------------------------------------------------------------------


def _queue(scope: str) -> dict:
    """The caseworker's queue as the page shows it: the same query, filters and order."""
    user = current_api_user()
    page, per_page = _page_args()
    args = request.args
    fields = {}
    for name, allowed in (
        ("state", OPEN_STATE_VALUES),
        ("sla", staff_boards.SLA_FILTERS),
        ("order", staff_boards.ORDERS),
    ):
        if name in args and args[name] not in allowed:
            fields[name] = _("One of: %(values)s.", values=", ".join(allowed))
    service = None
    if "service" in args:
        service = catalogue.service_by_code(args["service"])
        if service is None:
            fields["service"] = _("No service has this code.")
    if fields:
        raise ApiError(400, "bad_request", next(iter(fields.values())), fields)
    filters = staff_boards.QueueFilters(
        state=args.get("state"),
        service_id=service.id if service else None,
        sla=args.get("sla"),
        order=args.get("order", "time_left"),
        page=page,
        per_page=per_page,
    )
    found = staff_boards.staff_queue(user, scope, filters, counts=False)
    return _page(found.rows, found.total, page, per_page, serialize.summary)


@operation(
    bp,
    "GET",
    "/queue",
    "My queue: requests assigned to me, soonest deadline first",
    roles=CASEWORKER,
    ok=(200, schemas.page_of(schemas.ref("RequestSummary"))),
    parameters=schemas.QUEUE_PARAMETERS,
    paginated=True,
)
@roles(*CASEWORKER)
def my_queue():
    return jsonify(_queue("mine"))


@operation(
    bp,
    "GET",
    "/queue/department",
    "The department's queue, soonest deadline first",
    roles=CASEWORKER,
    ok=(200, schemas.page_of(schemas.ref("RequestSummary"))),
    parameters=schemas.QUEUE_PARAMETERS,
    paginated=True,
)
@roles(*CASEWORKER)
def department_queue():
    return jsonify(_queue("department"))


@operation(
    bp,
    "POST",
    "/requests/{reference}/actions",
    "Act on a request: accept documents, request documents, send to approval, "
    "return to review, approve, reject",
    roles=CASEWORKER,
    ok=(200, schemas.ref("RequestDetail")),
    body={"application/json": schemas.ACTION_BODY},
    errors=(409,),
)
@roles(*CASEWORKER)
def act_on_request(reference: str):
    user = current_api_user()
    access.get_request(user, reference)  # 404 before looking at the body
    body = _json_body()
    action = body.get("action")
    if action not in schemas.STAFF_API_ACTIONS:
        message = _("Unknown action.")
        raise ApiError(422, "invalid", message, {"action": message})
    reason = _text_field(body, "reason", limits.DECISION_REASON)
    if action == "request_documents":
        items = _document_items(body.get("items"))
        request_service.request_documents(
            user, reference, items, _text_field(body, "note", limits.NOTE)
        )
        updated = access.get_request(user, reference)
    else:
        updated = request_service.act(user, reference, action, reason)
    return jsonify(serialize.detail(user, updated))


def _document_items(raw) -> list[tuple[int, str]]:
    message = _("Give a list of {document_type, reason}.")
    if not isinstance(raw, list) or not raw:
        raise ApiError(422, "invalid", message, {"items": message})
    codes = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("document_type"), str)
            or not isinstance(item.get("reason"), str)
        ):
            raise ApiError(422, "invalid", message, {"items": message})
        codes.append(item["document_type"])
    by_code = {
        t.code: t.id
        for t in db.session.scalars(sa.select(DocumentType).where(DocumentType.code.in_(codes)))
    }
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        message = _("Unknown document type.")
        raise ApiError(422, "invalid", message, {"items": message})
    return [(by_code[item["document_type"]], item["reason"]) for item in raw]
