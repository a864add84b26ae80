"""The head of department's team board: load per person, bulk reassignment, escalations."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import exports
from portal.auth.decorators import roles_required
from portal.queryargs import db_int
from portal.services import ServiceError, access, escalations
from portal.services.boards import cycles, reports
from portal.services.boards import team as team_boards
from portal.staff.forms import AcknowledgeForm, BulkReassignForm
from portal.staff.routes import bp


def _head():
    if not access.sees_team_board(current_user):
        abort(403)


def _bulk_form(formdata=None):
    form = BulkReassignForm() if formdata else BulkReassignForm(formdata=None)
    form.assignee.choices = [
        (p.id, p.full_name) for p in team_boards.people(current_user.department_id) if p.active
    ]
    return form


def render_team(status=200, bulk_form=None, ack_form=None, failed_escalation=None):
    department_id = current_user.department_id
    person = request.args.get("person", type=db_int)
    pending, pending_total = team_boards.pending_escalations(department_id)
    return render_template(
        "staff/team.html",
        report=reports.team_report(team_boards.team(department_id)),
        cycle=cycles.current_cycle(),
        open_requests=team_boards.department_open_requests(
            department_id, person, request.args.get("page", 1, type=db_int)
        ),
        person=person,
        bulk_form=bulk_form or _bulk_form(),
        ack_form=ack_form or AcknowledgeForm(formdata=None),
        failed_escalation=failed_escalation,
        pending=pending,
        pending_total=pending_total,
        pending_counted=team_boards.PENDING_COUNTED,
        reason_label=escalations.reason_label,
    ), status


@bp.get("/team")
@roles_required("head")
def team():
    _head()
    fmt = exports.requested_format(request.args)
    if fmt:
        return exports.export(
            reports.team_report(team_boards.team(current_user.department_id)), fmt
        )
    return render_team()


@bp.post("/team/reassign")
@roles_required("head")
def bulk_reassign():
    _head()
    form = _bulk_form(formdata=True)
    references = request.form.getlist("references")
    if form.validate_on_submit():
        try:
            moved = escalations.reassign_many(
                current_user, references, form.assignee.data, form.reason.data
            )
        except ServiceError as error:
            form.form_errors.append(str(error.message))
            return render_team({"forbidden": 403, "conflict": 409}.get(error.code, 422), form)
        flash(_("%(num)d requests were reassigned.", num=moved), "success")
        return redirect(url_for("staff.team"))
    return render_team(422, form)


@bp.post("/team/escalations/<int:escalation_id>/acknowledge")
@roles_required("head")
def acknowledge(escalation_id: int):
    _head()
    escalations.get_escalation(current_user, escalation_id)  # 404 outside the department
    form = AcknowledgeForm()
    if form.validate_on_submit():
        try:
            escalations.acknowledge(
                current_user, escalation_id, form.reason_code.data, form.note.data
            )
        except ServiceError as error:
            form.form_errors.append(str(error.message))
            status = {"forbidden": 403, "conflict": 409}.get(error.code, 422)
            return render_team(status, ack_form=form, failed_escalation=escalation_id)
        flash(_("The escalation was acknowledged."), "success")
        return redirect(url_for("staff.team"))
    return render_team(422, ack_form=form, failed_escalation=escalation_id)
