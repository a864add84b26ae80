"""Login sessions kept on the server, so that they can be ended.

The signed cookie holds a random token; the `login_session` row holds its SHA-256. Every
request checks the row (flask-login's user loader calls `load`): revoked, idle too long or
too old, and the person is signed out, even if someone copied the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, flash, request, session
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from portal.extensions import db
from portal.models import LoginSession, User
from portal.security import log_event
from sla import clock

TOKEN_KEY = "login_token"  # noqa: S105 (the session key's name, not a secret)
# last_seen_at is written at most this often: not a database write per request.
TOUCH_EVERY = timedelta(minutes=1)
USER_AGENT_MAX = 200


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _fresh_session() -> None:
    # Nothing from before carries over but the language chosen.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def start(user: User) -> LoginSession:
    """Sign `user` in: a new cookie session (rotated) tied to a new login_session row."""
    _fresh_session()
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = LoginSession(
        user_id=user.id,
        token_hash=_digest(token),
        created_at=now,
        last_seen_at=now,
        ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:USER_AGENT_MAX] or None,
    )
    db.session.add(row)
    db.session.commit()
    session[TOKEN_KEY] = token
    login_user(user, remember=False)
    log_event("session.started", outcome="success", user_id=user.id, session_id=row.id)
    return row


def _current_row() -> LoginSession | None:
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return None
    return db.session.scalar(
        sa.select(LoginSession).where(LoginSession.token_hash == _digest(token))
    )


def expiry_reason(row: LoginSession, now: datetime) -> str | None:
    """ "idle" or "absolute" when the session has run out at `now`, else None."""
    config = current_app.config
    if now - row.created_at >= timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]):
        return "absolute"
    if now - row.last_seen_at >= timedelta(minutes=config["SESSION_IDLE_MINUTES"]):
        return "idle"
    return None


def load(user_id: str) -> User | None:
    """The user of this request's login session, or None (flask-login's user loader)."""
    row = _current_row()
    if row is None or not user_id.isdecimal() or row.user_id != int(user_id):
        log_event("session.rejected", outcome="denied", reason="unknown", claimed_user_id=user_id)
        _fresh_session()
        return None
    if row.revoked_at is not None:
        log_event(
            "session.rejected",
            outcome="denied",
            reason=row.revoked_reason or "revoked",
            user_id=row.user_id,
            session_id=row.id,
        )
        _fresh_session()
        return None
    now = clock.now()
    user = row.user
    reason = expiry_reason(row, now) if user.active else "account_disabled"
    if reason is not None:
        _revoke(row, reason, now)
        db.session.commit()
        log_event(
            "session.expired" if reason in ("idle", "absolute") else "session.revoked",
            outcome="ended",
            reason=reason,
            user_id=row.user_id,
            session_id=row.id,
        )
        _fresh_session()
        flash(_("Your session has ended. Please log in again."), "info")
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return user


def end(user: User, reason: str = "logout") -> None:
    """Sign out: the row is revoked, so a copy of the cookie opens nothing any more."""
    row = _current_row()
    if row is not None and row.revoked_at is None:
        _revoke(row, reason, clock.now())
        db.session.commit()
    logout_user()
    _fresh_session()
    log_event(
        "logout",
        outcome="success",
        user_id=user.id,
        session_id=row.id if row is not None else None,
    )


def _revoke(row: LoginSession, reason: str, now: datetime) -> None:
    row.revoked_at = now
    row.revoked_reason = reason[:40]


def revoke_all(user: User, reason: str, keep_current: bool = False) -> int:
    """Revoke every open session of `user` (but this request's, if `keep_current`); the
    caller commits. Returns how many."""
    query = sa.update(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)
    )
    current = _current_row() if keep_current else None
    if current is not None:
        query = query.where(LoginSession.id != current.id)
    result = db.session.execute(query.values(revoked_at=clock.now(), revoked_reason=reason[:40]))
    count = result.rowcount or 0
    log_event("session.revoked", outcome="ended", reason=reason, user_id=user.id, count=count)
    return count
