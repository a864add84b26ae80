"""`/profile/tokens`: a person makes and revokes their personal API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.api.forms import NewTokenForm, RevokeTokenForm
from portal.queryargs import db_int
from portal.services import NotVisible, ServiceError
from portal.services import tokens as token_service

bp = Blueprint("api_tokens", __name__, url_prefix="/profile/tokens", template_folder="templates")


def _page(form=None, secret=None, status=200):
    response = render_template(
        "api/tokens.html",
        form=form or NewTokenForm(formdata=None),
        revoke_form=RevokeTokenForm(formdata=None),
        tokens=token_service.active(current_user),
        secret=secret,
    )
    # The secret is on this page once: keep it out of caches and the back button.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("")
@login_required
def page():
    return _page()


@bp.post("")
@login_required
def create():
    form = NewTokenForm()
    if form.validate_on_submit():
        try:
            _token, secret = token_service.create(current_user, form.name.data)
        except ServiceError as error:
            form.name.errors = [*form.name.errors, str(error.message)]
        else:
            return _page(NewTokenForm(formdata=None), secret=secret, status=201)
    return _page(form, status=422)


def _as_id(value: str | None) -> int | None:
    try:
        return db_int(value or "")
    except ValueError:
        return None


@bp.post("/revoke")
@login_required
def revoke():
    form = RevokeTokenForm()
    token_id = _as_id(form.token_id.data)
    if form.validate_on_submit() and token_id is not None:
        try:
            token_service.revoke(current_user, token_id)
        except NotVisible:
            pass  # someone else's, or gone: nothing to say
        else:
            flash(_("The token was revoked. Systems using it can no longer sign in."), "success")
    return redirect(url_for("api_tokens.page"))
