"""API errors: one JSON shape, `{"error": {"code", "message", "fields"}}`, and the right 4xx."""

from __future__ import annotations

from flask import jsonify
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from portal.extensions import db
from portal.services import NotVisible, ServiceError

# How a service's refusal reads over HTTP: the code it gave decides the status.
SERVICE_STATUS = {
    "conflict": 409,
    "forbidden": 403,
    "too_large": 413,
    "quota_exceeded": 429,
}


class ApiError(Exception):
    """Raised by API views; answered as the JSON error document with `status`."""

    def __init__(self, status: int, code: str, message, fields: dict | None = None):
        super().__init__(str(message))
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


def error_response(status: int, code: str, message, fields: dict | None = None):
    body = {
        "error": {
            "code": code,
            "message": str(message),
            "fields": {k: str(v) for k, v in (fields or {}).items()},
        }
    }
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="moldir"'
    return response


def from_service_error(error: ServiceError):
    status = SERVICE_STATUS.get(error.code, 422)
    fields = {error.field: error.message} if error.field else {}
    return error_response(status, error.code, error.message, fields)


def _http_messages() -> dict[int, tuple[str, str]]:
    return {
        400: ("bad_request", _("The request could not be understood.")),
        401: ("unauthorized", _("A valid API token is needed.")),
        403: ("forbidden", _("Your token may not do this.")),
        404: ("not_found", _("There is nothing here, or it is not yours to see.")),
        405: ("method_not_allowed", _("This address does not accept that method.")),
        409: ("conflict", _("The request is not in a state that allows this.")),
        413: ("too_large", _("The files sent together are too large.")),
        415: ("unsupported_media_type", _("This content type is not accepted here.")),
        422: ("invalid", _("Some fields are not valid.")),
        429: ("rate_limited", _("Too many requests. Please slow down.")),
    }


def from_http_exception(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
        return error_response(500, "server_error", _("Something went wrong."))
    code, message = _http_messages().get(status, ("error", error.description or ""))
    if getattr(error, "api_code", None):
        # A refusal that knows its reason (portal/safejson.py): say it.
        code, message = error.api_code, error.description
    response = error_response(status, code, message)
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429:
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
    return response


def register(bp) -> None:
    """JSON errors for everything raised inside the blueprint's requests."""

    @bp.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.fields)

    @bp.errorhandler(ServiceError)
    def _service_error(error: ServiceError):
        return from_service_error(error)

    @bp.errorhandler(NotVisible)
    def _not_visible(_error):
        return from_http_exception(_NotFound())

    @bp.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return from_http_exception(error)


class _NotFound(HTTPException):
    code = 404
