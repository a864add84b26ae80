"""Registering, logging in and out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth.forms import LoginForm, MarkReadForm, ProfileForm, RegisterForm
from portal.public.routes import safe_next
from portal.services import ServiceError, accounts

bp = Blueprint("auth", __name__, template_folder="templates")


def _start_session(user) -> None:
    # A fresh session on login: nothing from before carries over but the language.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.register_applicant(
                email=form.email.data,
                password=form.password.data,
                full_name=form.full_name.data,
                kind=form.kind.data,
                identifier=form.identifier.data,
                company_name=form.company_name.data,
                locale=session.get("lang", "ru"),
            )
        except ServiceError as error:
            getattr(form, error.field or "email").errors.append(str(error.message))
        else:
            _start_session(user)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(url_for("public.catalogue"))
    status = 200 if request.method == "GET" or not form.errors else 422
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Wrong email or password."))
        else:
            _start_session(user)
            return redirect(safe_next(request.args.get("next"), url_for("public.home")))
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    # As on login: the session goes, the language chosen stays.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("public.home"))


@bp.get("/inbox")
@login_required
def inbox():
    from notifications import inbox as notices

    return render_template(
        "auth/inbox.html",
        notices=notices.recent(current_user),
        subject=lambda notice: notices.subject(notice, str(get_locale() or "ru")),
    )


@bp.post("/inbox/read")
@login_required
def mark_read():
    from notifications import inbox as notices

    form = MarkReadForm()
    if form.validate_on_submit():
        notices.mark_all_read(current_user)
    return redirect(url_for("auth.inbox"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """How the person wants to be told: email, SMS (with a phone number), language."""
    from notifications import preferences

    if request.method == "GET":
        form = ProfileForm(obj=current_user, formdata=None)
        return render_template("auth/profile.html", form=form)
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            preferences.save(
                current_user,
                email=form.notify_email.data,
                sms=form.notify_sms.data,
                phone=form.phone.data,
                locale=form.locale.data,
            )
        except ServiceError as error:
            getattr(form, error.field or "phone").errors.append(str(error.message))
        else:
            flash(_("Your choices are saved."), "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form), 422
