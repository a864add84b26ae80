"""Admin: departments, document types and services (the catalogue), and its file commands."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from portal.admin.forms import (
    DepartmentForm,
    DocumentTypeForm,
    NewServiceForm,
    ServiceDetailsForm,
    ServiceStatusForm,
)
from portal.admin.routes import _service, _values, admin_only, bp
from portal.extensions import db
from portal.models import ALL_FORMATS, Department, DocumentType
from portal.services import ServiceError, approvals, catalogue_file
from portal.services import catalogue as catalogue_service

LANGUAGES = catalogue_service.LANGUAGES


def _form_error(form, error: ServiceError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is None and error.field in ("name", "title", "description", "note", "legal_basis"):
        field = getattr(form, f"{error.field}_ru", None)
    if field is not None:
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def _texts(form, name: str) -> dict:
    return {lang: getattr(form, f"{name}_{lang}").data or "" for lang in LANGUAGES}


def _fill_texts(form, name: str, texts: dict | None) -> None:
    for lang in LANGUAGES:
        getattr(form, f"{name}_{lang}").data = (texts or {}).get(lang, "")


# --- departments -------------------------------------------------------------------------


@bp.get("/departments")
@admin_only
def departments():
    rows = db.session.scalars(sa.select(Department).order_by(Department.code)).all()
    return render_template("admin/departments.html", departments=rows)


def _department_spec(form, code: str) -> dict:
    return {
        "code": code,
        "name": _texts(form, "name"),
        "head": (form.head.data or "").strip().lower() or None,
        "active": form.active.data,
    }


@bp.route("/departments/new", methods=["GET", "POST"])
@admin_only
def new_department():
    form = DepartmentForm(formdata=None) if request.method == "GET" else DepartmentForm()
    if request.method == "GET":
        form.active.data = True
    elif form.validate_on_submit():
        try:
            catalogue_service.create(
                current_user, "department", _department_spec(form, form.code.data.strip())
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            flash(_("The department was created."), "success")
            return redirect(url_for("admin.departments"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/department.html", form=form, department=None), status


@bp.route("/departments/<code>", methods=["GET", "POST"])
@admin_only
def department(code: str):
    found = db.session.scalar(sa.select(Department).where(Department.code == code))
    if found is None:
        abort(404)
    if request.method == "GET":
        spec = catalogue_service.spec_of_department(found)
        form = DepartmentForm(formdata=None)
        _fill_texts(form, "name", spec["name"])
        form.head.data = spec["head"] or ""
        form.active.data = spec["active"]
    else:
        form = DepartmentForm()
        del form.code
        if form.validate_on_submit():
            try:
                catalogue_service.update(
                    current_user, "department", _department_spec(form, found.code)
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                flash(_("The department was saved."), "success")
                return redirect(url_for("admin.departments"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/department.html", form=form, department=found), status


# --- document types ----------------------------------------------------------------------


@bp.get("/document-types")
@admin_only
def document_types():
    rows = db.session.scalars(sa.select(DocumentType).order_by(DocumentType.code)).all()
    return render_template("admin/document_types.html", document_types=rows)


def _document_type_spec(form, code: str) -> dict:
    return {
        "code": code,
        "name": _texts(form, "name"),
        "note": _texts(form, "note"),
        "formats": list(form.formats.data or []),
        "max_size_mb": form.max_size_mb.data,
        "multiple_files": form.multiple_files.data,
        "active": form.active.data,
    }


@bp.route("/document-types/new", methods=["GET", "POST"])
@admin_only
def new_document_type():
    form = DocumentTypeForm(formdata=None) if request.method == "GET" else DocumentTypeForm()
    if request.method == "GET":
        form.formats.data = list(ALL_FORMATS)
        form.active.data = True
    elif form.validate_on_submit():
        try:
            catalogue_service.create(
                current_user, "document_type", _document_type_spec(form, form.code.data.strip())
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            flash(_("The document type was created."), "success")
            return redirect(url_for("admin.document_types"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/document_type.html", form=form, document_type=None), status


@bp.route("/document-types/<code>", methods=["GET", "POST"])
@admin_only
def document_type(code: str):
    found = db.session.scalar(sa.select(DocumentType).where(DocumentType.code == code))
    if found is None:
        abort(404)
    if request.method == "GET":
        spec = catalogue_service.spec_of_document_type(found)
        form = DocumentTypeForm(formdata=None)
        _fill_texts(form, "name", spec["name"])
        _fill_texts(form, "note", spec["note"])
        form.formats.data = spec["formats"]
        form.max_size_mb.data = spec["max_size_mb"]
        form.multiple_files.data = spec["multiple_files"]
        form.active.data = spec["active"]
    else:
        form = DocumentTypeForm()
        del form.code
        if form.validate_on_submit():
            try:
                catalogue_service.update(
                    current_user, "document_type", _document_type_spec(form, found.code)
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                flash(_("The document type was saved."), "success")
                return redirect(url_for("admin.document_types"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/document_type.html", form=form, document_type=found), status


# --- services: create, describe, retire, delete ------------------------------------------


def _choices(form) -> None:
    form.department.choices = [
        (d.code, d.name)
        for d in db.session.scalars(
            sa.select(Department).where(Department.active.is_(True)).order_by(Department.code)
        )
    ]
    types = [
        (t.code, t.name)
        for t in db.session.scalars(
            sa.select(DocumentType).where(DocumentType.active.is_(True)).order_by(DocumentType.code)
        )
    ]
    form.required_documents.choices = types
    form.optional_documents.choices = types
    if hasattr(form, "approvers"):
        form.approvers.choices = approvals.approver_choices()


def _details(form) -> dict:
    return {
        "department": form.department.data,
        "title": _texts(form, "title"),
        "description": _texts(form, "description"),
        "legal_basis": _texts(form, "legal_basis"),
        "applicants": form.applicants.data,
        "fee_tenge": form.fee_tenge.data,
        "result_form": form.result_form.data,
        "required_documents": list(form.required_documents.data or []),
        "optional_documents": list(form.optional_documents.data or []),
    }


def _approver_names(keys: list[str]) -> list[str]:
    """The policy form's approver keys (role:head, department:<id>) as the catalogue names them."""
    names = []
    for key in keys:
        kind, _sep, value = key.partition(":")
        if kind == "role":
            names.append(value)
        else:
            department = db.session.get(Department, int(value)) if value.isdecimal() else None
            names.append(f"department:{department.code}" if department else key)
    return names


@bp.route("/services/new", methods=["GET", "POST"])
@admin_only
def new_service():
    form = NewServiceForm(formdata=None) if request.method == "GET" else NewServiceForm()
    _choices(form)
    if request.method == "GET":
        form.process(
            data={
                "applicants": "both",
                "result_form": "letter",
                "target_days": 10,
                "waiting_policy": "pause",
                "at_risk_percent": 75,
                "intake_days": 2,
                "warn_at_risk": True,
                "escalate_to_head": True,
                "supervisor_after_days": 3,
                "reply_days": 10,
                "reminder_days": "2, 4, 6",
            }
        )
        _choices(form)
    elif form.validate_on_submit():
        policy = _values(form)
        spec = {
            "code": form.code.data.strip(),
            **_details(form),
            **{k: v for k, v in policy.items() if k != "at_risk_ratio"},
            "at_risk_percent": form.at_risk_percent.data,
            "approvers": _approver_names(form.approvers.data or []),
            "active": True,
        }
        try:
            catalogue_service.create(current_user, "service", spec)
        except ServiceError as error:
            _form_error(form, error)
        else:
            flash(_("The service was created and is open for applications."), "success")
            return redirect(url_for("admin.services"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/service_new.html", form=form), status


@bp.route("/services/<code>/details", methods=["GET", "POST"])
@admin_only
def service_details(code: str):
    service = _service(code)
    if request.method == "GET":
        spec = catalogue_service.spec_of_service(service)
        form = ServiceDetailsForm(formdata=None)
        _choices(form)
        for name in ("title", "description", "legal_basis"):
            _fill_texts(form, name, spec[name])
        for name in ("applicants", "fee_tenge", "result_form"):
            getattr(form, name).data = spec[name]
        form.department.data = spec["department"]
        form.required_documents.data = spec["required_documents"]
        form.optional_documents.data = spec["optional_documents"]
    else:
        form = ServiceDetailsForm()
        _choices(form)
        if form.validate_on_submit():
            spec = {**catalogue_service.spec_of_service(service), **_details(form)}
            try:
                catalogue_service.update(current_user, "service", spec)
            except ServiceError as error:
                _form_error(form, error)
            else:
                flash(_("The service was saved."), "success")
                return redirect(url_for("admin.services"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "admin/service_details.html",
        form=form,
        service=service,
        open_requests=catalogue_service.open_requests(service),
        ever_used=catalogue_service.ever_used(service),
        status_form=ServiceStatusForm(formdata=None),
    ), status


@bp.post("/services/<code>/status")
@admin_only
def service_status(code: str):
    """Retire (hidden from new applications, open requests go on), restore, or delete."""
    service = _service(code)
    form = ServiceStatusForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if form.action.data == "delete":
            catalogue_service.delete_service(current_user, service)
            flash(_("The service was deleted."), "success")
        else:
            catalogue_service.set_service_active(
                current_user, service, form.action.data == "restore"
            )
            if service.active:
                flash(_("The service is open for applications again."), "success")
            else:
                flash(
                    _("The service is retired: nobody can apply; open requests go on."),
                    "success",
                )
    except ServiceError as error:
        flash(str(error.message), "warning")
        return redirect(url_for("admin.service_details", code=code), 303)
    return redirect(url_for("admin.services"), 303)


@bp.get("/catalogue/changes")
@admin_only
def catalogue_changes():
    return render_template(
        "admin/catalogue_changes.html", changes=catalogue_service.recent_changes(100)
    )


# --- the catalogue file ------------------------------------------------------------------


@bp.cli.group("catalogue")
def catalogue_cli():
    """The catalogue as one YAML file."""


@catalogue_cli.command("export")
def export_command():
    """Print the whole catalogue as YAML (redirect it to a file)."""
    sys.stdout.write(catalogue_file.export_text())


@catalogue_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
def import_command(path: str, dry_run: bool):
    """Load a catalogue file: all of it, or nothing when anything is wrong."""
    with open(path, encoding="utf-8") as source:
        text = source.read()
    # Messages in the administration's default language, as in its pages.
    with (
        current_app.test_request_context(),
        force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]),
    ):
        try:
            plan = catalogue_file.load(text, dry_run=dry_run)
        except catalogue_file.CatalogueFileError as error:
            for line in error.lines():
                click.echo(f"{path}: {line}", err=True)
            raise click.ClickException(
                f"{len(error.problems)} problem(s): nothing was imported"
            ) from None
    for line in plan.summary():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing was written")
    elif not plan.queued:
        click.echo(
            "the recompute of moved deadlines could not be queued: run `flask sla recompute`"
        )
