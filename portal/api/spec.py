"""The API declared once: each operation's route, roles and JSON Schemas.

Views register through `operation(...)`; the OpenAPI document is built from the same
registry, so the two cannot drift apart (a test also checks it against the URL map).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from portal.api import schemas

API_PREFIX = "/api/v1"
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass
class Operation:
    method: str
    path: str  # OpenAPI style: /requests/{reference}
    operation_id: str
    summary: str
    roles: tuple[str, ...]
    parameters: list[dict] = field(default_factory=list)
    body: dict | None = None  # {"content-type": schema}
    responses: dict[int, tuple[str, dict | None]] = field(default_factory=dict)
    paginated: bool = False

    @property
    def flask_rule(self) -> str:
        return _PARAM.sub(r"<\1>", self.path)


OPERATIONS: list[Operation] = []


def operation(
    bp,
    method: str,
    path: str,
    summary: str,
    *,
    roles: tuple[str, ...] = (),
    ok: tuple[int, dict],
    parameters: list[dict] | None = None,
    body: dict | None = None,
    paginated: bool = False,
    errors: tuple[int, ...] = (),
):
    """Register the view on `bp` and declare it in the OpenAPI document."""

    def decorator(view):
        status, schema = ok
        params = [_path_parameter(name) for name in _PARAM.findall(path)]
        if paginated:
            params += schemas.PAGE_PARAMETERS
        params += parameters or []
        error_codes = {400, 401, 404, 405, 429, *errors}
        if roles:
            error_codes.add(403)
        if body is not None:
            error_codes |= {413, 415, 422}
        op = Operation(
            method=method.upper(),
            path=path,
            operation_id=view.__name__,
            summary=summary,
            roles=roles,
            parameters=params,
            body=body,
            responses={status: (summary, schema), **{c: ("", None) for c in error_codes}},
            paginated=paginated,
        )
        OPERATIONS.append(op)
        view.api_query_parameters = frozenset(p["name"] for p in params if p["in"] == "query")
        view.api_json_schema = (body or {}).get("application/json")
        view.api_multipart_schema = (body or {}).get("multipart/form-data")
        bp.add_url_rule(op.flask_rule, view.__name__, view, methods=[op.method])
        return view

    return decorator


def _path_parameter(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


ERROR_DESCRIPTIONS = {
    400: "Bad request: malformed JSON or query parameters",
    401: "No token, or an unknown or revoked one",
    403: "The token's role may not do this",
    404: "Not found, or not yours to see",
    405: "Method not allowed",
    409: "The request is not in a state that allows this",
    413: "Too large",
    415: "Unsupported content type",
    422: "Invalid fields",
    429: "Rate limit exceeded",
}


def document(server_url: str = "/api/v1") -> dict:
    """The OpenAPI 3.1 document for every registered operation."""
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        responses = {}
        for status, (description, schema) in sorted(op.responses.items()):
            if schema is None:
                responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
            else:
                responses[str(status)] = {
                    "description": description,
                    "content": {"application/json": {"schema": schema}},
                }
        entry: dict = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "parameters": op.parameters,
            "responses": responses,
            "security": [{"bearerAuth": []}],
        }
        if op.roles:
            entry["description"] = "Roles: " + ", ".join(op.roles) + "."
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {media: {"schema": schema} for media, schema in op.body.items()},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Moldir API",
            "version": "1.0.0",
            "description": (
                "The service-request portal of the city administration, for applicants' "
                "and staff's own systems. Authenticate with a personal API token made on "
                "your profile page: `Authorization: Bearer <token>`. A token acts with the "
                "role its owner had when it was made. Errors are "
                '`{"error": {"code", "message", "fields"}}`; lists are paginated with '
                "`page` and `per_page`."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas.COMPONENTS,
            "responses": {
                f"E{status}": {
                    "description": description,
                    "content": {"application/json": {"schema": schemas.ref("Error")}},
                }
                for status, description in ERROR_DESCRIPTIONS.items()
            },
        },
    }
