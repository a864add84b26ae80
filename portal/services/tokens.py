"""Personal API tokens: made, listed, revoked, and checked on every API call."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import has_request_context, request
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import ApiToken, Role, User
from portal.security import log_event
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
    """The owner revokes one of their own tokens."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotVisible(token_id)
    if token.revoked_at is None:
        _revoke(token, user, "owner")
        db.session.commit()
        _log_revoked(token, user)
    return token


def every(user: User) -> list[ApiToken]:
    """All of `user`'s tokens, live and revoked, newest first (what an admin reviews)."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_for(admin: User, owner: User, token_id: int) -> ApiToken:
    """An admin revokes one of `owner`'s tokens (recorded on the token and in the log)."""
    if admin.role != Role.ADMIN:
        raise ServiceError(_l("Only an admin revokes other people's tokens."), code="forbidden")
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != owner.id:
        raise NotVisible(token_id)
    if token.revoked_at is None:
        _revoke(token, admin, "admin")
        db.session.commit()
        _log_revoked(token, admin)
    return token


def revoke_all(user: User, reason: str, actor: User | None = None) -> int:
    """Revoke every live token of `user` for good, in the caller's transaction; how many."""
    live = active(user)
    for token in live:
        _revoke(token, actor, reason)
    return len(live)


def _revoke(token: ApiToken, actor: User | None, reason: str) -> None:
    token.revoked_at = clock.now()
    token.revoked_by_id = actor.id if actor is not None else None
    token.revoked_reason = reason


def _log_revoked(token: ApiToken, actor: User) -> None:
    log_event(
        "api_token.revoked",
        outcome="success",
        user_id=token.user_id,
        actor_id=actor.id,
        token_id=token.id,
        reason=token.revoked_reason,
    )


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
    address = _client_address()
    stale = token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY
    if stale or address != token.last_used_ip:
        token.last_used_at = now
        token.last_used_ip = address
        db.session.commit()
    return user


def _client_address() -> str | None:
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None
