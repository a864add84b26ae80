"""The supervisor (and admin): every request, read-only."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask_login import current_user

from portal.auth.decorators import roles_required
from portal.downloads import send_document
from portal.extensions import db
from portal.models import Department, ServiceRequest
from portal.pagination import paginate
from portal.queryargs import db_int
from portal.services import access
from portal.services import requests as request_service

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor", template_folder="templates")
overseers = roles_required("supervisor", "admin")


@bp.get("/requests")
@overseers
def requests():
    departments = db.session.scalars(sa.select(Department).order_by(Department.id)).all()
    department_id = request.args.get("department", type=db_int)
    query = access.visible_requests(current_user)
    if department_id:
        query = query.where(ServiceRequest.department_id == department_id)
    found = paginate(
        query.order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc()),
        request.args.get("page", 1, type=db_int),
    )
    return render_template(
        "supervisor/requests.html",
        found=found,
        departments=departments,
        department_id=department_id,
    )


@bp.get("/requests/<reference>")
@overseers
def detail(reference: str):
    return render_template(
        "supervisor/detail.html", req=access.get_request(current_user, reference)
    )


@bp.get("/requests/<reference>/documents/<int:document_id>")
@overseers
def document(reference: str, document_id: int):
    return send_document(request_service.document_for(current_user, reference, document_id))


@bp.get("/digest")
@roles_required("supervisor")
def digest():
    """Today's stand-up digest across departments (also sent each working morning)."""
    from portal.services import digest as digests

    return render_template("supervisor/digest.html", summary=digests.summary())


# The boards (breaches, trends, cycle results) live beside these, on the same blueprint.
from portal.supervisor import boards  # noqa: E402, F401
