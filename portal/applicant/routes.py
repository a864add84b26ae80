"""The applicant: submit, follow, answer, withdraw."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.applicant.forms import WithdrawForm, answer_form_for, submit_form_for
from portal.auth.decorators import roles_required
from portal.downloads import send_document
from portal.services import ServiceError, access, businesses, catalogue
from portal.services import requests as request_service
from portal.services.requests import Upload

bp = Blueprint("applicant", __name__, url_prefix="/my", template_folder="templates")
applicant_only = roles_required("applicant")


def _form_error(form, error: ServiceError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def _uploads(form, document_type_ids) -> list[Upload]:
    """One Upload per file given (a type that takes several files gives a list)."""
    found = []
    for type_id in document_type_ids:
        data = getattr(form, f"doc_{type_id}").data
        for file in data if isinstance(data, list) else [data]:
            found.append(Upload(type_id, file))
    return found


@bp.route("/apply/<code>", methods=["GET", "POST"])
@applicant_only
def apply(code: str):
    service = catalogue.active_service(code)
    if service is None:
        abort(404)
    carry_from = request.args.get("from") or None
    previous, carried = request_service.carried_documents(current_user, service, carry_from)
    refusal = request_service.who_may_not_apply(current_user, service)
    if refusal is not None:
        return render_template("applicant/apply.html", service=service, refusal=refusal), 403
    form = submit_form_for(service.required_documents, service.optional_documents)()
    if previous is not None and not form.is_submitted():
        form.description.data = previous.description
    status = 200
    if form.validate_on_submit():
        type_ids = [d.id for d in (*service.required_documents, *service.optional_documents)]
        try:
            created = request_service.submit(
                current_user,
                service,
                form.description.data,
                _uploads(form, type_ids),
                carry_from=carry_from,
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            return redirect(url_for("applicant.confirmation", reference=created.reference))
    if form.is_submitted():
        status = 422
    return render_template(
        "applicant/apply.html", form=form, service=service, previous=previous, carried=carried
    ), status


@bp.get("/requests")
@applicant_only
def requests():
    return render_template(
        "applicant/requests.html", requests=request_service.my_requests(current_user)
    )


@bp.get("/requests/<reference>/confirmation")
@applicant_only
def confirmation(reference: str):
    found = access.get_request(current_user, reference)
    return render_template("applicant/confirmation.html", req=found)


@bp.get("/requests/<reference>")
@applicant_only
def detail(reference: str, answer_form=None, withdraw_form=None, status=200):
    found = access.get_request(current_user, reference)
    open_ask = found.open_document_request
    if answer_form is None and open_ask is not None:
        answer_form = answer_form_for(open_ask)(formdata=None)
    return (
        render_template(
            "applicant/detail.html",
            req=found,
            open_ask=open_ask,
            answer_form=answer_form,
            withdraw_form=withdraw_form or WithdrawForm(formdata=None),
            may_withdraw=access.can_withdraw(current_user, found),
            stored_poa=businesses.stored_power_of_attorney(current_user),
            power_of_attorney=businesses.POWER_OF_ATTORNEY,
        ),
        status,
    )


@bp.get("/requests/<reference>/refusal")
@applicant_only
def refusal(reference: str):
    """The printable notice of a refusal for incompleteness: what was missing and why."""
    found = access.get_request(current_user, reference)
    expired = [d for d in found.document_requests if d.state == "expired"]
    if found.state != "refused_incomplete" or not expired:
        abort(404)
    return render_template("applicant/refusal.html", req=found, ask=expired[-1])


@bp.post("/requests/<reference>/answer")
@applicant_only
def answer(reference: str):
    found = access.get_request(current_user, reference)
    open_ask = found.open_document_request
    if open_ask is None:
        flash(_("Nothing is being asked of you on this request."), "warning")
        return redirect(url_for("applicant.detail", reference=reference))
    form = answer_form_for(open_ask)()
    if form.validate_on_submit():
        type_ids = [item.document_type_id for item in open_ask.items]
        try:
            request_service.provide_documents(current_user, reference, _uploads(form, type_ids))
        except ServiceError as error:
            _form_error(form, error)
        else:
            flash(_("Thank you. The documents went to the accountable employee."), "success")
            return redirect(url_for("applicant.detail", reference=reference))
    return detail(reference, answer_form=form, status=422)


@bp.post("/requests/<reference>/withdraw")
@applicant_only
def withdraw(reference: str):
    if not access.can_withdraw(current_user, access.get_request(current_user, reference)):
        abort(403)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            request_service.withdraw(current_user, reference, form.reason.data)
        except ServiceError as error:
            form.form_errors.append(str(error.message))
            return detail(reference, withdraw_form=form, status=409)
        flash(_("The request was withdrawn."), "success")
        return redirect(url_for("applicant.detail", reference=reference))
    return detail(reference, withdraw_form=form, status=422)


@bp.get("/requests/<reference>/documents/<int:document_id>")
@applicant_only
def document(reference: str, document_id: int):
    return send_document(request_service.document_for(current_user, reference, document_id))
