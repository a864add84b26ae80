"""Admin: the working calendar and the SLA policy of each service, with a preview first."""

from __future__ import annotations

from datetime import date

import click
import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal import exports
from portal.admin.forms import (
    DisableAccountForm,
    EnableAccountForm,
    InviteForm,
    OverrideForm,
    PolicyForm,
    RemoveOverrideForm,
    ResendInvitationForm,
    RetryForm,
    RevokePersonTokenForm,
    RoleForm,
)
from portal.admin.reports import outbox_report
from portal.auth.decorators import roles_required
from portal.extensions import db
from portal.models import CalendarOverride, Department, Role, Service
from portal.queryargs import db_int
from portal.services import NotVisible, ServiceError, approvals, catalogue, people, policies, tokens
from sla import clock, deadlines

# cli_group=None: its commands (`flask people ...`) sit at the top level.
bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", cli_group=None)
admin_only = roles_required("admin")


# The English parts of the holidays package's Kazakhstan names, for Russian, which the
# package does not speak (it has Kazakh and English). Listed so the catalogs carry them.
HOLIDAY_NAME_PARTS = (
    _l("%m/%d/%Y"),
    _l("%s (observed)"),
    _l("Day off (substituted from %s)"),
    _l("Capital Day"),
    _l("Constitution Day"),
    _l("Defender of the Fatherland Day"),
    _l("Eid al-Adha"),
    _l("First President Day"),
    _l("Independence Day"),
    _l("International Women's Day"),
    _l("Kazakhstan's People Solidarity Holiday"),
    _l("New Year's Day"),
    _l("Nowruz Holiday"),
    _l("Orthodox Christmas"),
    _l("Republic Day"),
    _l("Victory Day"),
)


def _holiday_names(cal, year: int) -> dict:
    """The year's holiday names in the reader's language: the package's own Kazakh and
    English, and Russian through our catalogs."""
    language = str(get_locale() or "ru")
    if language in ("kk", "en"):
        return cal.holiday_names(year, "en_US" if language == "en" else language)
    return cal.holiday_names(year, translate=_)


def _year_days(year: int):
    """The year's days off and weekend working days, as the calendar sees them."""
    cal = deadlines.calendar()
    names = _holiday_names(cal, year)
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        name = cal.holiday_name(day)
        if name is not None or (day.weekday() >= 5 and cal.is_working_day(day)):
            days.append(
                {
                    "day": day,
                    "name": names.get(day, name),
                    "working": cal.is_working_day(day),
                    "estimated": cal.is_estimated(day),
                }
            )
        day = date.fromordinal(day.toordinal() + 1)
    return days


def _calendar_page(form=None, status=200, shift=None):
    this_year = clock.now().astimezone(deadlines.calendar().tz).year
    year = request.args.get("year", type=db_int) or this_year
    if not 2000 <= year <= 2100:
        abort(404)
    overrides = db.session.scalars(sa.select(CalendarOverride).order_by(CalendarOverride.day)).all()
    return render_template(
        "admin/calendar.html",
        year=year,
        days=_year_days(year),
        overrides=overrides,
        form=form or OverrideForm(formdata=None),
        remove_form=RemoveOverrideForm(formdata=None),
        shift=shift,
    ), status


@bp.get("/calendar")
@admin_only
def calendar():
    return _calendar_page()


@bp.post("/calendar")
@admin_only
def add_override():
    form = OverrideForm()
    if not form.validate_on_submit():
        return _calendar_page(form, 422)
    try:
        if form.confirmed.data != "yes":
            shift = policies.preview_override(form.day.data, form.kind.data, form.name.data)
            form.confirmed.data = "yes"
            return _calendar_page(form, 200, shift)
        saved = policies.add_override(current_user, form.day.data, form.kind.data, form.name.data)
    except ServiceError as error:
        form.form_errors.append(str(error.message))
        return _calendar_page(form, 422)
    _flash_saved(saved)
    return redirect(url_for("admin.calendar", year=form.day.data.year))


@bp.post("/calendar/<int:override_id>/remove")
@admin_only
def remove_override(override_id: int):
    form = RemoveOverrideForm()
    if not form.validate_on_submit():
        return _calendar_page(status=422)
    try:
        if form.confirmed.data != "yes":
            override, shift = policies.preview_removal(override_id)
            return render_template(
                "admin/confirm_removal.html", override=override, shift=shift, form=form
            )
        saved = policies.remove_override(current_user, override_id)
    except ServiceError as error:
        if error.code == "not_found":
            abort(404)
        raise
    _flash_saved(saved)
    return redirect(url_for("admin.calendar"))


def _flash_saved(saved) -> None:
    if saved.queued:
        flash(_("Saved. Open deadlines are being recomputed."), "success")
    else:
        flash(
            _("Saved, but the recompute could not be queued: run `flask sla recompute`."), "warning"
        )


@bp.get("/services")
@admin_only
def services():
    rows = db.session.scalars(sa.select(Service).order_by(Service.department_id, Service.id))
    return render_template("admin/services.html", services=rows.all())


def _service(code: str) -> Service:
    found = catalogue.service_by_code(code)
    if found is None:
        abort(404)
    return found


def _values(form: PolicyForm) -> dict:
    return {
        "target_days": form.target_days.data,
        "waiting_policy": form.waiting_policy.data,
        "at_risk_ratio": form.at_risk_percent.data / 100,
        "intake_days": form.intake_days.data,
        "approval_days": form.approval_days.data,
        "warn_at_risk": form.warn_at_risk.data,
        "escalate_to_head": form.escalate_to_head.data,
        "supervisor_after_days": form.supervisor_after_days.data,
        "reply_days": form.reply_days.data,
        "reminder_days": policies.parse_days(form.reminder_days.data),
        "silence_is_consent": form.silence_is_consent.data,
    }


@bp.route("/services/<code>", methods=["GET", "POST"])
@admin_only
def policy(code: str):
    service = _service(code)
    shift = None
    status = 200
    if request.method == "GET":
        form = PolicyForm(obj=service, formdata=None)
        form.at_risk_percent.data = round(service.at_risk_ratio * 100)
        form.approvers.data = [approvals.stage_key(a) for a in service.approvers]
        form.approvers.choices = approvals.approver_choices()
        form.reminder_days.data = ", ".join(str(d) for d in service.reminder_days or [])
    else:
        form = PolicyForm()
        form.approvers.choices = approvals.approver_choices()
        if form.validate_on_submit():
            try:
                if form.confirmed.data != "yes":
                    shift = policies.preview_policy(service, _values(form))
                    form.confirmed.data = "yes"
                else:
                    approvals.set_approvers(service, form.approvers.data)
                    _flash_saved(policies.save_policy(current_user, service, _values(form)))
                    return redirect(url_for("admin.services"))
            except ServiceError as error:
                form.form_errors.append(str(error.message))
                status = 422
        else:
            status = 422
    return render_template("admin/policy.html", service=service, form=form, shift=shift), status


# --- the notification outbox ----------------------------------------------------------------


def _outbox_filters():
    from notifications import outbox, templates

    def pick(name, allowed):
        value = request.args.get(name) or None
        return value if value in allowed else None

    return outbox.OutboxFilter(
        status=pick("status", outbox.STATUSES),
        channel=pick("channel", outbox.CHANNELS),
        template=pick("template", tuple(templates.TEMPLATES)),
    )


@bp.get("/outbox")
@admin_only
def outbox():
    from notifications import outbox as messages
    from notifications import templates

    filters = _outbox_filters()
    fmt = exports.requested_format(request.args)
    if fmt:
        return exports.export(outbox_report(messages.listing(filters)), fmt)
    return render_template(
        "admin/outbox.html",
        rows=messages.listing(filters),
        counts=messages.counts_by_status(),
        filters=filters,
        statuses=messages.STATUSES,
        channels=messages.CHANNELS,
        templates=sorted(templates.TEMPLATES),
    )


@bp.post("/outbox/<int:outbox_id>/retry")
@admin_only
def retry_outbox(outbox_id: int):
    from notifications import outbox as messages

    form = RetryForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        messages.retry(outbox_id)
    except LookupError:
        abort(404)
    except messages.NotRetryable:
        flash(_("Only a dead message can be retried."), "warning")
    else:
        flash(_("The message will be sent again."), "success")
    return redirect(url_for("admin.outbox", status="dead"))


# --- people: find accounts, disable (ending their sessions) and enable them ------------------


def _people_filters() -> people.PeopleFilter:
    text = (request.args.get("q") or "").strip()[:100] or None
    role = request.args.get("role") or None
    active = {"yes": True, "no": False}.get(request.args.get("active") or "")
    return people.PeopleFilter(text=text, role=role if role in tuple(Role) else None, active=active)


def _people_page(disable_form=None, failed_user_id=None, status=200):
    filters = _people_filters()
    page = request.args.get("page", type=db_int) or 1
    found = people.listing(filters, page)
    return render_template(
        "admin/people.html",
        found=found,
        rows=found.rows,
        changes=people.last_changes(found.rows),
        signed_in=people.last_sign_ins(found.rows),
        filters=filters,
        roles=tuple(Role),
        disable_form=disable_form or DisableAccountForm(formdata=None),
        enable_form=EnableAccountForm(formdata=None),
        failed_user_id=failed_user_id,
    ), status


@bp.get("/people")
@admin_only
def people_list():
    return _people_page()


def _person(user_id: int):
    try:
        return people.find(user_id)
    except ServiceError:
        abort(404)


def _department_choices(form) -> None:
    departments = db.session.scalars(sa.select(Department).order_by(Department.code))
    form.department_id.choices = [("", _("— none (supervisor, admin) —"))] + [
        (department.id, department.name) for department in departments
    ]


def _person_page(found, role_form=None, status=200):
    if role_form is None:
        role_form = RoleForm(formdata=None, role=found.role, department_id=found.department_id)
    _department_choices(role_form)
    return render_template(
        "admin/person.html",
        person=found,
        changes=people.changes_of(found),
        tokens=tokens.every(found),
        revoke_form=RevokePersonTokenForm(formdata=None),
        role_form=role_form if found.role != Role.APPLICANT else None,
        resend_form=ResendInvitationForm(formdata=None),
        invitation_pending=people.invitation_pending(found),
        invitation_lapsed=people.invitation_lapsed(found),
        last_sign_in=people.last_sign_ins([found]).get(found.id),
    ), status


@bp.get("/people/<int:user_id>")
@admin_only
def person(user_id: int):
    """One person: their account's history, role and department, sign-ins and API tokens."""
    return _person_page(_person(user_id))


@bp.route("/people/invite", methods=["GET", "POST"])
@admin_only
def invite_person():
    """Invite a staff member, head, supervisor or admin: they get a link to set a password."""
    form = InviteForm()
    _department_choices(form)
    if form.validate_on_submit():
        try:
            invited = people.invite(
                current_user,
                email=form.email.data,
                full_name=form.full_name.data,
                role=form.role.data,
                department_id=form.department_id.data,
            )
        except ServiceError as error:
            getattr(form, error.field or "email").errors.append(str(error.message))
        else:
            flash(
                _(
                    "%(email)s is invited. The link in the email works once, for 72 hours.",
                    email=invited.email,
                ),
                "success",
            )
            return redirect(url_for("admin.person", user_id=invited.id), 303)
    status = 422 if form.errors else 200
    return render_template("admin/invite.html", form=form), status


@bp.post("/people/<int:user_id>/role")
@admin_only
def change_role(user_id: int):
    found = _person(user_id)
    form = RoleForm()
    _department_choices(form)
    if not form.validate_on_submit():
        return _person_page(found, form, 422)
    try:
        moved = people.change_role(
            current_user,
            found,
            role=form.role.data,
            department_id=form.department_id.data,
            reason=form.reason.data,
        )
    except ServiceError as error:
        target = getattr(form, error.field, None) if error.field else None
        (target.errors if target is not None else form.form_errors).append(str(error.message))
        return _person_page(found, form, 409 if error.code == "conflict" else 422)
    flash(
        ngettext(
            "Saved. %(num)d open request was handed to colleagues; its applicant was told.",
            "Saved. %(num)d open requests were handed to colleagues; their applicants were told.",
            moved,
        )
        if moved
        else _("Saved."),
        "success",
    )
    return redirect(url_for("admin.person", user_id=found.id), 303)


@bp.post("/people/<int:user_id>/invitation")
@admin_only
def resend_invitation(user_id: int):
    found = _person(user_id)
    if not ResendInvitationForm().validate_on_submit():
        abort(400)
    try:
        people.resend_invitation(current_user, found)
    except ServiceError as error:
        flash(str(error.message), "warning")
        return redirect(url_for("admin.person", user_id=found.id), 303)
    flash(_("A new invitation was sent to %(email)s.", email=found.email), "success")
    return redirect(url_for("admin.person", user_id=found.id), 303)


@bp.post("/people/<int:user_id>/tokens/<int:token_id>/revoke")
@admin_only
def revoke_person_token(user_id: int, token_id: int):
    found = _person(user_id)
    if not RevokePersonTokenForm().validate_on_submit():
        abort(400)
    try:
        token = tokens.revoke_for(current_user, found, token_id)
    except NotVisible:
        abort(404)
    flash(
        _(
            "The token %(name)s was revoked. Systems using it can no longer sign in.",
            name=token.name,
        ),
        "success",
    )
    return redirect(url_for("admin.person", user_id=found.id), 303)


@bp.post("/people/<int:user_id>/disable")
@admin_only
def disable_person(user_id: int):
    person = _person(user_id)
    form = DisableAccountForm()
    if not form.validate_on_submit():
        return _people_page(form, person.id, 422)
    try:
        ended = people.disable(current_user, person, form.reason.data)
    except ServiceError as error:
        form.form_errors.append(str(error.message))
        return _people_page(form, person.id, 422)
    flash(
        ngettext(
            "%(email)s can no longer log in; %(num)d open session was ended.",
            "%(email)s can no longer log in; %(num)d open sessions were ended.",
            ended,
            email=person.email,
        ),
        "success",
    )
    return redirect(url_for("admin.people_list", q=person.email), 303)


@bp.post("/people/<int:user_id>/enable")
@admin_only
def enable_person(user_id: int):
    person = _person(user_id)
    if not EnableAccountForm().validate_on_submit():
        abort(400)
    people.enable(current_user, person)
    flash(_("%(email)s can log in again.", email=person.email), "success")
    return redirect(url_for("admin.people_list", q=person.email), 303)


@bp.cli.group("people")
def people_cli():
    """People's accounts."""


@people_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="", help="The admin's full name (default: the email).")
@click.option(
    "--prompt/--link",
    "prompt",
    default=None,
    help="Type a password now, or print a one-time link to set it "
    "(default: prompt on a terminal, link otherwise).",
)
def create_admin_command(email: str, name: str, prompt: bool | None):
    """Create the first admin account of a fresh install."""
    import sys

    from flask import current_app

    from portal.services import accounts

    if prompt is None:
        prompt = sys.stdin.isatty()
    password = None
    if prompt:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, token = people.create_admin(email, name, password)
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from error
    click.echo(f"{user.email}: admin account created")
    if token:
        link = current_app.config["BASE_URL"].rstrip("/") + accounts.INVITATION_PATH.format(
            token=token
        )
        click.echo(f"Set the password within 72 hours, once, at:\n{link}")


@people_cli.command("disable")
@click.argument("email")
@click.option("--reason", default="disabled from the command line", show_default=True)
def disable_command(email: str, reason: str):
    """Disable the account with EMAIL and end all its sessions."""
    try:
        ended = people.disable(None, people.find_by_email(email), reason)
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from error
    click.echo(f"{email.strip().lower()}: disabled, {ended} open session(s) ended")


@people_cli.command("enable")
@click.argument("email")
def enable_command(email: str):
    """Let the account with EMAIL log in again."""
    try:
        people.enable(None, people.find_by_email(email), "enabled from the command line")
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from error
    click.echo(f"{email.strip().lower()}: enabled")
