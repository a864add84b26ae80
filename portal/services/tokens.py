"""Personal API tokens: made, listed, revoked, and checked on every API call."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import ApiToken, User
from portal.services import NotVisible, ServiceError
from sla import clock

TOKEN_PREFIX = "mld_"  # noqa: S105  (a marker, not a secret: tells our tokens apart)
MAX_ACTIVE_TOKENS = 20
# Writing last_used_at on every call would make each read a write; once a minute is plenty.
_TOUCH_EVERY = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user` with their current role; returns it and the secret (once)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_l("Name the token."), field="name")
    if len(name) > 80:
        raise ServiceError(_l("The name is too long."), field="name")
    if len(active(user)) >= MAX_ACTIVE_TOKENS:
        raise ServiceError(_l("Revoke a token before making another."), field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        role=user.role,
        token_hash=_digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_at=clock.now(),
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


def active(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke(user: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotVisible(token_id)
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        db.session.commit()
    return token


def authenticate(secret: str | None) -> User | None:
    """The user a presented token acts for, or None (unknown, revoked, stale role)."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None:
        return None
    user = token.user
    if not user.active or user.role != token.role:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return user
