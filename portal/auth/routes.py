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
from flask_babel import format_timedelta, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.auth.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmEmailForm,
    ForgotPasswordForm,
    LoginForm,
    MarkReadForm,
    ProfileForm,
    RegisterForm,
    SetPasswordForm,
)
from portal.extensions import limiter
from portal.privacy import email_digest
from portal.public.routes import safe_next
from portal.security import log_event
from portal.services import (
    ServiceError,
    accounts,
    businesses,
    login_throttle,
    onetime,
    passwords,
    sessions,
)

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


# --- one's own password and email ------------------------------------------------------


def _forgot_throttled(_limit):
    log_event("password_reset.throttled", outcome="denied")
    form = ForgotPasswordForm()
    form.form_errors.append(_("Too many attempts. Please wait a few minutes and try again."))
    return current_app.make_response((render_template("auth/forgot.html", form=form), 429))


def _reset_account() -> str:
    email = accounts.normalize_email(request.form.get("email", ""))
    return "reset:" + (email_digest(email) or "-")


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["RESET_RATE_LIMIT_IP"],
    key_func=_client_address,
    methods=["POST"],
    scope="reset-ip",
    on_breach=_forgot_throttled,
)
@limiter.limit(
    lambda: current_app.config["RESET_RATE_LIMIT_ACCOUNT"],
    key_func=_reset_account,
    methods=["POST"],
    scope="reset-account",
    # Counted when a link was asked for (a valid form), known address or not.
    deduct_when=lambda _response: bool(g.get("reset_asked")),
    on_breach=_forgot_throttled,
)
def forgot_password():
    """Ask for a reset link. The answer is the same whether or not the address has an
    account: the page tells nobody who is registered."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        g.reset_asked = True
        accounts.request_password_reset(form.email.data)
        return render_template("auth/forgot_sent.html", email=form.email.data)
    status = 422 if form.errors else 200
    return render_template("auth/forgot.html", form=form), status


def _link_refused(error: ServiceError, status: int = 404):
    return render_template("auth/link_refused.html", message=error.message), status


def _set_password_page(purpose, token: str, action, template: str):
    """The page behind a reset or invitation link: GET shows the form, POST uses the link."""
    try:
        row = onetime.find(purpose, token)
    except ServiceError as error:
        return _link_refused(error, 410 if error.code in ("used", "expired") else 404)
    form = SetPasswordForm()
    shortest = passwords.min_length(row.user.role)
    if form.validate_on_submit():
        try:
            user = action(token, form.password.data)
        except ServiceError as error:
            if error.field is None:
                return _link_refused(error, 410 if error.code in ("used", "expired") else 404)
            form.password.errors.append(str(error.message))
        else:
            # The link proved the mailbox: the account starts afresh, throttling included.
            login_throttle.forget_account("account:" + (email_digest(user.email) or "-"))
            _start_session(user)
            return user
    status = 422 if form.errors else 200
    page = render_template(template, form=form, person=row.user, shortest=shortest)
    return page, status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    result = _set_password_page(
        onetime.Purpose.PASSWORD_RESET, token, accounts.reset_password, "auth/reset.html"
    )
    if isinstance(result, tuple):
        return result
    flash(_("Your password is changed, and you are signed in."), "success")
    return redirect(url_for("public.home"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    result = _set_password_page(
        onetime.Purpose.INVITATION, token, accounts.accept_invitation, "auth/invitation.html"
    )
    if isinstance(result, tuple):
        return result
    flash(_("Welcome! Your password is set, and you are signed in."), "success")
    return redirect(url_for("public.home"))


@bp.route("/profile/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ended = accounts.change_password(
                current_user._get_current_object(), form.current.data, form.password.data
            )
        except ServiceError as error:
            getattr(form, error.field or "password").errors.append(str(error.message))
        else:
            flash(
                ngettext(
                    "Your password is changed. %(num)d other session was signed out.",
                    "Your password is changed. %(num)d other sessions were signed out.",
                    ended,
                ),
                "success",
            )
            return redirect(url_for("auth.profile"))
    status = 422 if form.errors else 200
    shortest = passwords.min_length(current_user.role)
    return render_template("auth/password.html", form=form, shortest=shortest), status


@bp.route("/profile/email", methods=["GET", "POST"])
@login_required
def change_email():
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            new_email = accounts.request_email_change(
                current_user._get_current_object(), form.password.data, form.email.data
            )
        except ServiceError as error:
            getattr(form, error.field or "email").errors.append(str(error.message))
        else:
            flash(
                _(
                    "We sent a link to %(email)s. Your address changes when you follow it.",
                    email=new_email,
                ),
                "info",
            )
            return redirect(url_for("auth.profile"))
    status = 422 if form.errors else 200
    return render_template("auth/email.html", form=form), status


@bp.route("/profile/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    """The link sent to the new address; a button confirms (a mail scanner's GET does not)."""
    try:
        row = onetime.find(onetime.Purpose.EMAIL_CHANGE, token)
    except ServiceError as error:
        return _link_refused(error, 410 if error.code in ("used", "expired") else 404)
    form = ConfirmEmailForm()
    if form.validate_on_submit():
        try:
            user = accounts.confirm_email_change(token)
        except ServiceError as error:
            return _link_refused(error, 409 if error.code == "conflict" else 410)
        flash(_("Your email address is now %(email)s.", email=user.email), "success")
        return redirect(url_for("auth.profile" if current_user.is_authenticated else "auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/confirm_email.html", form=form, change=row), status
