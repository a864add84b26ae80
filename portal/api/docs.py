"""`/api/openapi.json` (built from the registry in `spec`) and `/api/docs` (Swagger UI)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from portal.api import (
    routes,  # noqa: F401  (registers the operations)
    spec,
)

bp = Blueprint("api_docs", __name__, url_prefix="/api", template_folder="templates")


@bp.get("/openapi.json")
def openapi():
    response = jsonify(spec.document(server_url=spec.API_PREFIX))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/docs")
def docs():
    return render_template("api/docs.html")
