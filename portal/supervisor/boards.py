"""The supervisor's boards: breaches across departments, trends, 12-week cycle results."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import exports
from portal.extensions import db
from portal.models import Department
from portal.queryargs import db_int
from portal.services import ServiceError, access, escalations
from portal.services import requests as request_service
from portal.services.boards import cycles as cycle_boards
from portal.services.boards import figures, reports, staff, team
from portal.services.boards import supervisor as supervisor_boards
from portal.staff import forms as staff_forms
from portal.supervisor.forms import VerdictForm
from portal.supervisor.routes import bp, overseers
from portal.timefmt import sla_label


def _date(name: str) -> date | None:
    """A date filter; anything unreadable or outside 1970-9000 is no filter at all."""
    try:
        value = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return value if date(1970, 1, 1) <= value <= date(9000, 1, 1) else None


def _departments():
    return db.session.scalars(sa.select(Department).order_by(Department.id)).all()


@bp.get("/breaches")
@overseers
def breaches():
    args = request.args
    filters = supervisor_boards.BreachFilters(
        department_id=args.get("department", type=db_int),
        service_id=args.get("service", type=db_int),
        person_id=args.get("person", type=db_int),
        date_from=_date("from"),
        date_to=_date("to"),
        level=args.get("level") if args.get("level") in escalations.LEVELS else None,
        pending=args.get("pending") == "1",
        page=args.get("page", 1, type=db_int),
    )
    fmt = exports.requested_format(args)
    if fmt:
        found = supervisor_boards.breaches(current_user, filters, everything_=True)
        return exports.export(reports.breach_report(found.rows), fmt)
    return render_template(
        "supervisor/breaches.html",
        found=supervisor_boards.breaches(current_user, filters),
        filters=filters,
        departments=_departments(),
        services=staff.department_services(filters.department_id),
        people=team.people(filters.department_id),
        levels=escalations.LEVELS,
    )


def render_case(found, status=200, verdict_form=None, failed=None, reassign_form=None):
    return render_template(
        "supervisor/case.html",
        req=found,
        history=supervisor_boards.escalation_history(found),
        verdict_form=verdict_form or VerdictForm(formdata=None),
        failed=failed,
        reassign_form=reassign_form
        or (staff_forms.reassign_form(found) if access.can_reassign(current_user, found) else None),
        may_reassign=found.is_open and access.can_reassign(current_user, found),
        verdict=reports.verdict_label,
    ), status


@bp.get("/breaches/<reference>")
@overseers
def case(reference: str):
    return render_case(access.get_request(current_user, reference))


@bp.post("/escalations/<int:escalation_id>/acknowledge")
@overseers
def acknowledge(escalation_id: int):
    escalation = escalations.get_escalation(current_user, escalation_id)
    form = VerdictForm()
    if form.validate_on_submit():
        excused = {"yes": True, "no": False}.get(form.excused.data)
        try:
            escalations.acknowledge(
                current_user, escalation_id, form.reason_code.data, form.note.data, excused
            )
        except ServiceError as error:
            form.form_errors.append(str(error.message))
            return render_case(escalation.request, 422, form, escalation_id)
        flash(_("The escalation was acknowledged."), "success")
        return redirect(url_for("supervisor.case", reference=escalation.request.reference))
    return render_case(escalation.request, 422, form, escalation_id)


@bp.post("/breaches/<reference>/reassign")
@overseers
def reassign(reference: str):
    found = access.get_request(current_user, reference)
    if not access.can_reassign(current_user, found):
        abort(403)
    form = staff_forms.reassign_form(found, formdata=True)
    if form.validate_on_submit():
        try:
            request_service.reassign(current_user, reference, form.assignee.data, form.reason.data)
        except ServiceError as error:
            form.form_errors.append(str(error.message))
            return render_case(found, 422, reassign_form=form)
        flash(_("The request was reassigned."), "success")
        return redirect(url_for("supervisor.case", reference=reference))
    return render_case(found, 422, reassign_form=form)


@bp.get("/trends")
@overseers
def trends():
    found = figures.trends()
    fmt = exports.requested_format(request.args)
    if fmt:
        return exports.export(reports.trends_report(found), fmt)
    charts = {
        "weeks": [(w.label, w.on_time_percent) for w in found["weeks"]],
        "departments": [(f.label, f.on_time_percent) for f in found["departments"]],
        "services": [(f.label, f.median_days) for f in found["services"]],
        "approvals": [(stage, days) for stage, days, _n in found["approvals"]],
    }
    return render_template("supervisor/trends.html", found=found, charts=charts)


@bp.get("/cycles")
@overseers
def cycles():
    available = cycle_boards.cycles()
    number = request.args.get("cycle", available[0].number, type=db_int)
    if number < 1 or number > available[0].number:
        abort(404)
    report = figures.cycle_report(number)
    fmt = exports.requested_format(request.args)
    if fmt:
        return exports.export(reports.cycle_report(report), fmt)
    return render_template(
        "supervisor/cycles.html", report=report, cycles=available, sla_label=sla_label
    )
