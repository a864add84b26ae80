"""A business's people: who is in, who asks to join, invitations, a power of attorney."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.applicant.forms import (
    ConfirmForm,
    DecideForm,
    InviteForm,
    JoinByInvitationForm,
    PowerOfAttorneyForm,
)
from portal.auth.decorators import roles_required
from portal.downloads import send_document
from portal.services import ServiceError, businesses, sessions

bp = Blueprint("business", __name__, template_folder="templates")
applicant_only = roles_required("applicant")


def _form_error(form, error: ServiceError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def _owned(member_id: int):
    """The membership named in the URL: 404 outside the business, 403 for a non-owner."""
    try:
        return businesses.check_owner_of_member(current_user, member_id)
    except ServiceError:
        abort(403)


def _page(status: int = 200, **forms):
    member = businesses.membership(current_user)
    business = current_user.business
    owner = member is not None and member.is_owner
    return (
        render_template(
            "applicant/business.html",
            business=business,
            me=member,
            owner=owner,
            members=businesses.members(business) if member and member.is_active else [],
            invitations=businesses.open_invitations(business) if owner else [],
            decide_form=forms.get("decide_form") or DecideForm(formdata=None),
            decide_for=forms.get("decide_for"),
            confirm_form=forms.get("confirm_form") or ConfirmForm(formdata=None),
            confirm_for=forms.get("confirm_for"),
            invite_form=forms.get("invite_form") or InviteForm(formdata=None),
            poa_form=forms.get("poa_form") or PowerOfAttorneyForm(formdata=None),
            role_labels=businesses.ROLE_LABELS,
            status_labels=businesses.STATUS_LABELS,
        ),
        status,
    )


@bp.get("/my/business")
@applicant_only
def members():
    return _page()


@bp.post("/my/business/members/<int:member_id>/decide")
@applicant_only
def decide(member_id: int):
    _owned(member_id)
    form = DecideForm()
    if form.validate_on_submit():
        try:
            decided = businesses.decide(
                current_user, member_id, form.decision.data == "accept", form.role.data
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            if decided.is_active:
                flash(_("%(name)s is now a member.", name=decided.user.full_name), "success")
            else:
                flash(_("The request to join was declined."), "info")
            return redirect(url_for("business.members"))
    return _page(422, decide_form=form, decide_for=member_id)


def _confirmed(member_id: int, action, done: str):
    _owned(member_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            action(current_user, member_id)
        except ServiceError as error:
            _form_error(form, error)
        else:
            flash(done, "success")
            return redirect(url_for("business.members"))
    return _page(422, confirm_form=form, confirm_for=member_id)


@bp.post("/my/business/members/<int:member_id>/remove")
@applicant_only
def remove(member_id: int):
    return _confirmed(member_id, businesses.remove, _("The member was removed."))


@bp.post("/my/business/members/<int:member_id>/make-owner")
@applicant_only
def make_owner(member_id: int):
    return _confirmed(member_id, businesses.hand_over, _("Ownership was handed over."))


@bp.post("/my/business/invitations")
@applicant_only
def invite():
    member = businesses.membership(current_user)
    if member is None or not member.is_owner or current_user.business.kind != "company":
        abort(403)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            businesses.invite(current_user, form.email.data, form.role.data)
        except ServiceError as error:
            _form_error(form, error)
        else:
            flash(_("The invitation was sent to %(email)s.", email=form.email.data), "success")
            return redirect(url_for("business.members"))
    return _page(422, invite_form=form)


@bp.post("/my/business/power-of-attorney")
@applicant_only
def power_of_attorney():
    member = businesses.membership(current_user)
    if member is None or not member.is_active:
        abort(403)
    form = PowerOfAttorneyForm()
    if form.validate_on_submit():
        try:
            businesses.attach_power_of_attorney(current_user, form.file.data, form.valid_until.data)
        except ServiceError as error:
            _form_error(form, error)
        else:
            flash(_("Your power of attorney is stored."), "success")
            return redirect(url_for("business.members"))
    return _page(422, poa_form=form)


@bp.get("/my/business/members/<int:member_id>/power-of-attorney")
@applicant_only
def power_of_attorney_file(member_id: int):
    try:
        member = businesses.power_of_attorney_of(current_user, member_id)
    except ServiceError:
        abort(403)
    return send_document(_PoaFile(member))


class _PoaFile:
    """A member's power of attorney, shaped as a document for `send_document`."""

    def __init__(self, member):
        self.id = member.id
        self.stored_name = member.poa_stored_name
        self.content_type = member.poa_content_type
        self.original_name = member.poa_original_name
        # Checked on download like any document: a swapped file is never sent.
        self.sha256 = member.poa_sha256


# --- the invited person's one-time link ------------------------------------------------------


@bp.route("/business/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    found = businesses.invitation_for(token)  # forged, used or expired: 404
    form = JoinByInvitationForm()
    if current_user.is_authenticated:
        # Joining makes a new account: not while signed in as someone else.
        return render_template("applicant/invitation.html", invitation=found, form=None), (
            403 if form.is_submitted() else 200
        )
    status = 200
    if form.validate_on_submit():
        try:
            user = businesses.accept_invitation(
                token,
                full_name=form.full_name.data,
                password=form.password.data,
                locale=session.get("lang", "ru"),
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            sessions.start(user)
            flash(
                _("Welcome! You are now a member of %(name)s.", name=found.business.name), "success"
            )
            return redirect(url_for("applicant.requests"))
    if form.is_submitted():
        status = 422
    return render_template("applicant/invitation.html", invitation=found, form=form), status
