"""Registering and signing in."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.security import check_password_hash, generate_password_hash

from portal import identifiers
from portal.extensions import db
from portal.models import Business, Role, User
from portal.privacy import email_digest
from portal.security import log_event
from portal.services import ServiceError, onetime, passwords, sessions

_dummy_hash: str | None = None


def _dummy() -> str:
    """Checked against when the email is unknown, so both paths cost the same."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash("not-a-password", method="scrypt")
    return _dummy_hash


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def register_applicant(
    *,
    email: str,
    password: str,
    full_name: str,
    kind: str,
    identifier: str,
    company_name: str | None = None,
    locale: str = "ru",
    member_role: str = "employee",
) -> User:
    """Create an applicant with the company (BIN) or citizen (IIN) they act for.

    The first registrant of a BIN owns the business; a later one asks to join it as
    `member_role` (the owner is told, and decides). An IIN is one person's.
    """
    from portal.services import businesses

    email = email.strip().lower()
    identifier = identifiers.normalize(identifier)
    if kind == "company":
        if not identifiers.is_valid_bin(identifier):
            raise ServiceError(_l("This is not a valid BIN."), field="identifier")
    elif kind == "citizen":
        if not identifiers.is_valid_iin(identifier):
            raise ServiceError(_l("This is not a valid IIN."), field="identifier")
    else:
        raise ServiceError(_l("Choose a business or a citizen."), field="kind")
    passwords.check(password, Role.APPLICANT, email=email)
    existing = _refuse_taken(email, identifier, kind)
    if kind == "company" and existing is None and not (company_name or "").strip():
        # Joining a registered business takes its name; a new one needs one.
        raise ServiceError(_l("Enter the company name."), field="company_name")
    business = existing or Business(
        kind=kind,
        identifier=identifier,
        name=(company_name or full_name).strip() if kind == "company" else full_name,
    )
    db.session.add(business)
    user = User(
        email=email,
        password_hash=hash_password(password),
        full_name=full_name.strip(),
        role=Role.APPLICANT,
        business=business,
        locale=locale,
    )
    db.session.add(user)
    try:
        if existing is None:
            businesses.make_owner(user, business)
        else:
            businesses.ask_to_join(user, business, member_role)
        db.session.commit()
    except ServiceError:
        db.session.rollback()
        raise
    except (IntegrityError, OperationalError):
        # Registered by someone else between our check and our commit: the unique indexes
        # decide (on SQLite our snapshot went stale instead, "database is locked"). Nothing
        # of this one was kept; say which, as the check would have; else it was not that.
        db.session.rollback()
        if _refuse_taken(email, identifier, kind, code="conflict") is not None:
            raise ServiceError(
                _l(
                    "This BIN was registered a moment ago. Send the form again to ask its "
                    "owner to let you in."
                ),
                field="identifier",
                code="conflict",
            ) from None
        raise
    return user


def _refuse_taken(email: str, identifier: str, kind: str, code: str = "invalid"):
    """Refuse an email or IIN already registered; a taken BIN is the business to join."""
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise ServiceError(
            _l("An account with this email already exists."), field="email", code=code
        )
    business = db.session.scalar(sa.select(Business).where(Business.identifier == identifier))
    if business is None:
        return None
    # A company's number lets a person ask its owner to be let in, nothing more; a
    # citizen's IIN is one person's.
    if kind == "company" and business.kind == "company":
        return business
    raise ServiceError(
        _l("An account for this IIN already exists. Log in with it instead."),
        field="identifier",
        code=code,
    )


def check_credentials(email: str, password: str) -> tuple[User | None, str]:
    """(the user these credentials open, "ok") or (the account if known, why not).

    The reason is for the security log only: people are told the same whatever was wrong,
    and every path checks one password hash, so timing does not tell either.
    """
    user = db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    if user is None:
        check_password_hash(_dummy(), password)
        return None, "unknown_account"
    if not check_password_hash(user.password_hash, password):
        return user, "wrong_password"
    if not user.active:
        return user, "account_disabled"
    return user, "ok"


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; the same answer whatever was wrong."""
    user, outcome = check_credentials(email, password)
    return user if outcome == "ok" else None


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def set_locale(user: User, locale: str) -> None:
    user.locale = locale
    db.session.commit()


# --- one's own password and email: reset by a link, change, confirm a new address ------

RESET_PATH = "/password/reset/{token}"
INVITATION_PATH = "/invitation/{token}"
EMAIL_CONFIRM_PATH = "/profile/email/confirm/{token}"


def _send_link(user: User, template: str, token: str, path: str, **context) -> None:
    import notifications

    row = onetime.find(_PURPOSE_OF[template], token)
    notifications.notify(
        user,
        template,
        context={"path": path.format(token=token), "expires_at": row.expires_at.isoformat()}
        | context,
        key=f"{template}:{row.token_hash}",
        # A link to act on the account goes by email, whatever the person chose for news.
        channels=("email",),
        address=row.new_email or user.email,
    )


_PURPOSE_OF = {
    "invitation": onetime.Purpose.INVITATION,
    "password_reset": onetime.Purpose.PASSWORD_RESET,
    "email_change": onetime.Purpose.EMAIL_CHANGE,
}


def request_password_reset(email: str) -> None:
    """Email a one-time reset link to the account with `email`, if there is an active one.

    Says nothing either way: the page answers alike, so it tells nobody who has an account.
    """
    email = normalize_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None or not user.active:
        log_event(
            "password_reset.requested",
            outcome="ignored",
            reason="unknown_account" if user is None else "account_disabled",
            email_hash=email_digest(email),
        )
        return
    token = onetime.issue(user, onetime.Purpose.PASSWORD_RESET)
    db.session.flush()
    _send_link(user, "password_reset", token, RESET_PATH)
    db.session.commit()
    log_event("password_reset.requested", outcome="success", user_id=user.id)


def _set_password(user: User, password: str, reason: str, keep_current: bool = False) -> int:
    passwords.check(password, user.role, email=user.email)
    user.password_hash = hash_password(password)
    return sessions.revoke_all(user, reason, keep_current=keep_current)


def reset_password(token: str, password: str) -> User:
    """Set a new password with a reset link; every session of the account ends (whoever
    was signed in with the old password is out). The link works once."""
    try:
        row = onetime.use(onetime.Purpose.PASSWORD_RESET, token)
        user = row.user
        if not user.active:
            raise ServiceError(_l("This account is disabled."), code="disabled")
        _set_password(user, password, "password_reset")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log_event("password_reset.completed", outcome="success", user_id=user.id)
    return user


def change_password(user: User, current: str, new: str) -> int:
    """Change one's password, knowing the current one; every other session of the account
    ends (this one stays). How many ended."""
    if not check_password_hash(user.password_hash, current or ""):
        raise ServiceError(_l("This is not your current password."), field="current")
    try:
        ended = _set_password(user, new, "password_changed", keep_current=True)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log_event("password.changed", outcome="success", user_id=user.id, sessions_ended=ended)
    return ended


def request_email_change(user: User, password: str, new_email: str) -> str:
    """Send a confirmation link to `new_email`; the address changes only when it is
    followed (so nobody moves an account to an address they do not hold). The new address."""
    if not check_password_hash(user.password_hash, password or ""):
        raise ServiceError(_l("This is not your current password."), field="password")
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise ServiceError(_l("This is already your email address."), field="email")
    _refuse_taken_email(new_email)
    token = onetime.issue(user, onetime.Purpose.EMAIL_CHANGE, new_email=new_email)
    db.session.flush()
    _send_link(user, "email_change", token, EMAIL_CONFIRM_PATH)
    db.session.commit()
    log_event(
        "email_change.requested",
        outcome="success",
        user_id=user.id,
        new_email_hash=email_digest(new_email),
    )
    return new_email


def _refuse_taken_email(email: str, code: str = "invalid") -> None:
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise ServiceError(
            _l("An account with this email already exists."), field="email", code=code
        )


def confirm_email_change(token: str) -> User:
    """Follow the link sent to the new address: the account's email becomes it."""
    try:
        row = onetime.use(onetime.Purpose.EMAIL_CHANGE, token)
        user = row.user
        _refuse_taken_email(row.new_email, code="conflict")
        old = user.email
        user.email = row.new_email
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(
            _l("An account with this email already exists."), code="conflict"
        ) from None
    except Exception:
        db.session.rollback()
        raise
    log_event(
        "email_change.confirmed",
        outcome="success",
        user_id=user.id,
        old_email_hash=email_digest(old),
        email_hash=email_digest(user.email),
    )
    return user


def accept_invitation(token: str, password: str) -> User:
    """Set one's first password with an invitation link (it works once)."""
    try:
        row = onetime.use(onetime.Purpose.INVITATION, token)
        user = row.user
        if not user.active:
            raise ServiceError(_l("This account is disabled."), code="disabled")
        _set_password(user, password, "invitation_accepted")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log_event("invitation.accepted", outcome="success", user_id=user.id)
    return user
