"""Registering, logging in and out."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.auth.forms import LoginForm, MarkReadForm, ProfileForm, RegisterForm
from portal.extensions import limiter
from portal.privacy import email_digest
from portal.public.routes import safe_next
from portal.security import log_event
from portal.services import ServiceError, accounts, businesses, login_throttle, sessions

bp = Blueprint("auth", __name__, template_folder="templates")


def _start_session(user) -> None:
    # A fresh session on login (rotated: nothing from before but the language), server-side.
    sessions.start(user)


# --- throttling (portal/services/login_throttle.py): a growing wait per account and address,
# flat bounds on failures per address and per account; registrations per address ----------


def _client_address() -> str:
    return "ip:" + (request.remote_addr or "unknown")


def _login_account() -> str:
    # A pseudonym: the limiter's storage holds no email addresses.
    email = accounts.normalize_email(request.form.get("email", ""))
    return "account:" + (email_digest(email) or "-")


def _login_failed(_response) -> bool:
    return bool(g.get("login_failed"))


def _throttled_page(limited_by: str, message: str, retry_after: int | None = None):
    log_event(
        "login.throttled",
        outcome="denied",
        limited_by=limited_by,
        email_hash=email_digest(accounts.normalize_email(request.form.get("email", ""))),
    )
    form = LoginForm()
    # Worded alike for known and unknown emails: nothing tells whether the account exists.
    form.form_errors.append(message)
    response = current_app.make_response((render_template("auth/login.html", form=form), 429))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _address_throttled(_limit):
    return _throttled_page("ip", _("Too many attempts. Please wait a few minutes and try again."))


def _account_throttled(_limit):
    return _throttled_page(
        "account",
        _(
            "This account is protected for now: too many failed attempts from many places. "
            "Please try again later."
        ),
    )


def _pair_throttled(seconds: int):
    wait = format_timedelta(timedelta(seconds=seconds), granularity="second", threshold=1.5)
    return _throttled_page(
        "account_address",
        _("Too many failed attempts. Please try again in %(time)s.", time=wait),
        retry_after=seconds,
    )


def _register_throttled(_limit):
    log_event("register.throttled", outcome="denied")
    form = RegisterForm()
    form.form_errors.append(_("Too many attempts. Please wait a few minutes and try again."))
    return current_app.make_response((render_template("auth/register.html", form=form), 429))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["REGISTER_RATE_LIMIT_IP"],
    key_func=_client_address,
    methods=["POST"],
    scope="register-ip",
    on_breach=_register_throttled,
)
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
                member_role=form.member_role.data,
            )
        except ServiceError as error:
            getattr(form, error.field or "email").errors.append(str(error.message))
        else:
            _start_session(user)
            if not businesses.is_active_member(user, user.business_id):
                flash(
                    _(
                        "This BIN is registered already: your request to join %(name)s went "
                        "to its owner. You will be told when they answer.",
                        name=user.business.name,
                    ),
                    "info",
                )
                return redirect(url_for("business.members"))
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(url_for("public.catalogue"))
    status = 200 if request.method == "GET" or not form.errors else 422
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_IP"],
    key_func=_client_address,
    methods=["POST"],
    scope="login-ip",
    # Only failures count: people signing in behind one office address use up nothing.
    deduct_when=_login_failed,
    on_breach=_address_throttled,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"],
    key_func=_login_account,
    methods=["POST"],
    scope="login-account",
    # Only failures count against an account: its owner logging in uses up nothing.
    deduct_when=_login_failed,
    on_breach=_account_throttled,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = LoginForm()
    if form.validate_on_submit():
        account, address = _login_account(), request.remote_addr or "unknown"
        wait = login_throttle.seconds_to_wait(account, address)
        if wait:
            # Refused before any password is checked: guessing on from here gains nothing.
            return _pair_throttled(wait)
        user, outcome = accounts.check_credentials(form.email.data, form.password.data)
        if outcome != "ok":
            g.login_failed = True
            login_throttle.record_failure(account, address)
            log_event(
                "login.failed",
                outcome="failure",
                reason=outcome,
                user_id=user.id if user is not None else None,
                email_hash=email_digest(accounts.normalize_email(form.email.data)),
            )
            form.password.errors.append(_("Wrong email or password."))
        else:
            login_throttle.record_success(account, address)
            _start_session(user)
            log_event("login.succeeded", outcome="success", user_id=user.id)
            return redirect(safe_next(request.args.get("next"), url_for("public.home")))
    elif request.method == "POST":
        g.login_failed = True
        log_event("login.failed", outcome="failure", reason="invalid_form")
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    # As on login: the session goes, the language chosen stays; the row is revoked.
    sessions.end(current_user._get_current_object())
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
