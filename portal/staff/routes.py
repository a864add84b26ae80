"""Staff and heads of department: queues, the request page, and actions."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import exports
from portal.auth.decorators import roles_required
from portal.downloads import send_document
from portal.extensions import db
from portal.lifecycle import STAFF_ACTIONS, is_allowed
from portal.models import OPEN_STATE_VALUES, DocumentType
from portal.queryargs import db_int
from portal.services import ServiceError, access, approvals
from portal.services import requests as request_service
from portal.services.boards import reports
from portal.services.boards import staff as staff_boards
from portal.staff.forms import ActForm, ask_form_for, reassign_form

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")
caseworkers = roles_required("staff", "head")


@bp.get("/queue")
@caseworkers
def queue():
    return _queue_page("mine")


@bp.get("/department")
@caseworkers
def department():
    return _queue_page("department")


def _queue_page(scope: str):
    """A queue with its filters (state, service, SLA state), by time left, a page at a time."""
    filters = staff_boards.QueueFilters.from_args(request.args, db_int)
    fmt = exports.requested_format(request.args)
    if fmt:
        found = staff_boards.staff_queue(current_user, scope, filters, everything_=True)
        return exports.export(reports.queue_report(scope, found.rows), fmt)
    return render_template(
        "staff/queue.html",
        found=staff_boards.staff_queue(current_user, scope, filters),
        requests=None,
        filters=filters,
        scope=scope,
        states=OPEN_STATE_VALUES,
        sla_states=staff_boards.SLA_FILTERS,
        services=staff_boards.department_services(current_user.department_id),
    )


def _document_types():
    return db.session.scalars(sa.select(DocumentType).order_by(DocumentType.id)).all()


def _status(error: ServiceError) -> int:
    return {"conflict": 409, "forbidden": 403}.get(error.code, 422)


def render_detail(found, status=200, **forms):
    may_act = access.can_act_as_caseworker(current_user, found)
    actions = [
        a for a in STAFF_ACTIONS if may_act and is_allowed(found, a) and approvals.offered(found, a)
    ]
    context = {
        "req": found,
        "actions": actions,
        "may_act": may_act,
        "may_reassign": access.can_reassign(current_user, found) and found.is_open,
        "act_form": forms.get("act_form") or ActForm(formdata=None),
        "ask_form": forms.get("ask_form") or ask_form_for(_document_types())(formdata=None),
        "document_types": _document_types(),
    }
    if context["may_reassign"] or "reassign_form" in forms:
        context["reassign_form"] = forms.get("reassign_form") or reassign_form(found)
    return render_template("staff/detail.html", **context), status


@bp.get("/requests/<reference>")
@caseworkers
def detail(reference: str):
    return render_detail(access.get_request(current_user, reference))


def _submit(found, form, form_name: str, act, done: str):
    """Form -> service -> redirect; a refusal re-renders the page with the form's error."""
    if not form.validate_on_submit():
        return render_detail(found, 422, **{form_name: form})
    try:
        act()
    except ServiceError as error:
        form.form_errors.append(str(error.message))
        return render_detail(found, _status(error), **{form_name: form})
    flash(done, "success")
    return redirect(url_for("staff.detail", reference=found.reference))


@bp.post("/requests/<reference>/act")
@caseworkers
def act(reference: str):
    found = access.get_request(current_user, reference)
    form = ActForm()
    return _submit(
        found,
        form,
        "act_form",
        lambda: request_service.act(current_user, reference, form.action.data, form.reason.data),
        _("Done."),
    )


@bp.post("/requests/<reference>/ask")
@caseworkers
def ask(reference: str):
    found = access.get_request(current_user, reference)
    types = _document_types()
    form = ask_form_for(types)()

    def ask_for_documents():
        items = [
            (t.id, getattr(form, f"reason_{t.id}").data)
            for t in types
            if getattr(form, f"want_{t.id}").data
        ]
        request_service.request_documents(current_user, reference, items)

    return _submit(
        found,
        form,
        "ask_form",
        ask_for_documents,
        _("The applicant has been asked for the missing documents."),
    )


@bp.post("/requests/<reference>/reassign")
@roles_required("head")
def reassign(reference: str):
    found = access.get_request(current_user, reference)
    form = reassign_form(found, formdata=True)
    return _submit(
        found,
        form,
        "reassign_form",
        lambda: request_service.reassign(
            current_user, reference, form.assignee.data, form.reason.data
        ),
        _("The request was reassigned."),
    )


@bp.get("/requests/<reference>/documents/<int:document_id>")
@caseworkers
def document(reference: str, document_id: int):
    return send_document(request_service.document_for(current_user, reference, document_id))


# Approvers' pages, the digest and the head's team board live beside these, on the same
# blueprint.
from portal.staff import approval_routes, team  # noqa: E402, F401
