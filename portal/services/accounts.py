"""Registering and signing in."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.security import check_password_hash, generate_password_hash

from portal import identifiers
from portal.extensions import db
from portal.models import Business, Role, User
from portal.services import ServiceError

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
