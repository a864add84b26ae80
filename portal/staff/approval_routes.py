"""Approvers' pages (their queue and the answer to a step) and the head's daily digest.

Registered on the staff blueprint: supervisors sign off too, so these pages admit them.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.decorators import roles_required
from portal.services import NotVisible, ServiceError, approvals, digest
from portal.staff.forms import StepForm
from portal.staff.routes import bp, render_detail

approvers = roles_required("staff", "head", "supervisor")


@bp.app_template_global()
def approval_panel(req):
    """The latest round of sign-offs of a request, for its page."""
    user = current_user if current_user.is_authenticated else None
    return approvals.panel(req, user)


@bp.app_template_global()
def approval_stage_label(step) -> str:
    return approvals.stage_label(approvals.stage_key(step))


@bp.app_template_global()
def step_form():
    return StepForm(formdata=None)


@bp.get("/approvals")
@approvers
def approval_queue():
    return render_template("staff/approvals.html", steps=approvals.queue(current_user))


def _request_page(step) -> str:
    endpoint = "supervisor.detail" if current_user.role == "supervisor" else "staff.detail"
    return url_for(endpoint, reference=step.request.reference)


def _refused(step, message, status: int):
    """The request page again, with the reason the answer was not taken."""
    flash(str(message), "warning")
    if current_user.role == "supervisor":
        return render_template("supervisor/detail.html", req=step.request), status
    return render_detail(step.request, status)


@bp.post("/approvals/<int:step_id>")
@approvers
def answer_step(step_id: int):
    try:
        step = approvals.step_for(current_user, step_id)
    except NotVisible:
        abort(404)
    form = StepForm()
    if not form.validate_on_submit():
        return _refused(step, _("The form was stale or incomplete. Please try again."), 422)
    try:
        approvals.answer(current_user, step_id, form.decision.data, form.comment.data)
    except ServiceError as error:
        return _refused(step, error.message, 409 if error.code == "conflict" else 422)
    if form.decision.data == "approve":
        flash(_("Approval given."), "success")
    else:
        flash(_("The request was returned to review with your comment."), "success")
    return redirect(_request_page(step))


@bp.get("/digest")
@roles_required("head")
def digest_page():
    if current_user.department is None:
        abort(403)
    return render_template(
        "staff/digest.html", digest=digest.department_digest(current_user.department)
    )
