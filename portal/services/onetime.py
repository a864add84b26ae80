"""One-time links sent by email: an invitation, a password reset, a confirmation of a new
email address. One helper for all three.

The link carries a random token (256 bits); the database keeps only its SHA-256, so a copy
of the table opens nothing. A token expires, works once, and a newer token of the same
purpose for the same person sets the older ones aside. (The outbox row that carries the
email holds the link until the message goes out; the token is worthless once used or
expired.)
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import OneTimeToken, User
from portal.services import ServiceError
from sla import clock


class Purpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a secret)
    EMAIL_CHANGE = "email_change"


LIFETIME = {
    Purpose.INVITATION: timedelta(hours=72),
    Purpose.PASSWORD_RESET: timedelta(hours=1),
    Purpose.EMAIL_CHANGE: timedelta(hours=24),
}
# The shortest a forged token could be mistaken for one of ours; longer is cut short.
TOKEN_MAX = 100


def new() -> tuple[str, str]:
    """A fresh secret for a link and its digest to store (links kept in their own table,
    such as a business's invitations)."""
    secret = secrets.token_urlsafe(32)
    return secret, digest(secret)


def digest(token: str) -> str:
    """The SHA-256 kept in place of a link's secret."""
    return _digest(token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    user: User, purpose: Purpose, *, new_email: str | None = None, actor: User | None = None
) -> str:
    """A new token for `user` (in the caller's transaction); the raw value, to be sent once.

    Earlier unused tokens of the same purpose for `user` stop working.
    """
    now = clock.now()
    db.session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == str(purpose),
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=str(purpose),
            token_hash=_digest(token),
            created_at=now,
            expires_at=now + LIFETIME[purpose],
            new_email=new_email,
            created_by_id=actor.id if actor is not None else None,
        )
    )
    return token


def find(purpose: Purpose, token: str, *, for_update: bool = False) -> OneTimeToken:
    """The live token of `purpose` for this raw value; ServiceError if it is unknown, used
    or expired (the message says which, since the holder of a link learns nothing new)."""
    if not token or len(token) > TOKEN_MAX:
        raise _unknown()
    query = sa.select(OneTimeToken).where(
        OneTimeToken.token_hash == _digest(token), OneTimeToken.purpose == str(purpose)
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = db.session.scalar(query)
    if row is None:
        raise _unknown()
    if row.used_at is not None:
        raise ServiceError(_l("This link has already been used. Ask for a new one."), code="used")
    if clock.now() >= row.expires_at:
        raise ServiceError(_l("This link has expired. Ask for a new one."), code="expired")
    return row


def use(purpose: Purpose, token: str) -> OneTimeToken:
    """`find`, locked, and marked used (in the caller's transaction): of two uses racing,
    the second waits and then finds it used."""
    row = find(purpose, token, for_update=True)
    row.used_at = clock.now()
    return row


def pending(user: User, purpose: Purpose) -> OneTimeToken | None:
    """The newest token of `purpose` for `user` that still works, if any."""
    return db.session.scalar(
        sa.select(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == str(purpose),
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > clock.now(),
        )
        .order_by(OneTimeToken.created_at.desc(), OneTimeToken.id.desc())
        .limit(1)
    )


def latest(user: User, purpose: Purpose) -> OneTimeToken | None:
    """The newest token of `purpose` for `user`, used, expired or not."""
    return db.session.scalar(
        sa.select(OneTimeToken)
        .where(OneTimeToken.user_id == user.id, OneTimeToken.purpose == str(purpose))
        .order_by(OneTimeToken.created_at.desc(), OneTimeToken.id.desc())
        .limit(1)
    )


def _unknown() -> ServiceError:
    return ServiceError(
        _l("This link is not valid. Check that it was copied whole, or ask for a new one."),
        code="unknown",
    )
