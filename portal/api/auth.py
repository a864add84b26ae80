"""Bearer-token authentication for the API: `Authorization: Bearer <token>`."""

from __future__ import annotations

import functools
import hashlib

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _

from portal.api.errors import ApiError
from portal.extensions import limiter
from portal.models import User
from portal.security import log_event
from portal.services import tokens


def presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def current_api_user() -> User:
    """The person the presented token acts for; 401 when there is none."""
    user = g.get("api_user")
    if user is not None:
        return user
    secret = presented_token()
    if secret is None:
        _log_denied("no_token", 401)
        raise ApiError(401, "unauthorized", _("Send your API token: Authorization: Bearer ..."))
    user = tokens.authenticate(secret)
    if user is None:
        _log_denied("invalid_token", 401)
        raise ApiError(401, "invalid_token", _("This token is unknown, revoked or expired."))
    g.api_user = user
    return user


def _log_denied(reason: str, status: int, user: User | None = None) -> None:
    log_event(
        "api.auth_failed" if status == 401 else "api.forbidden",
        outcome="denied",
        reason=reason,
        status=status,
        user_id=user.id if user is not None else None,
    )
    g.security_logged = True  # the after-request denial log need not repeat it


def roles(*allowed: str):
    """The view needs a valid token whose role is one of `allowed` (any role if none)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_api_user()
            if allowed and user.role not in allowed:
                _log_denied("role", 403, user)
                raise ApiError(403, "forbidden", _("Your role may not do this."))
            return view(*args, **kwargs)

        wrapper.api_roles = allowed
        return wrapper

    return decorator


def rate_limit_key() -> str:
    """Per token when one is presented (hashed, never the secret), else per address."""
    secret = presented_token() or request.values.get("api_key")
    if secret:
        return "token:" + hashlib.sha256(secret.encode()).hexdigest()[:32]
    return "ip:" + (request.remote_addr or "unknown")


def remote_address() -> str:
    return "ip:" + (request.remote_addr or "unknown")


def _token_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def _address_limit() -> str:
    return current_app.config["API_IP_RATE_LIMIT"]


def share_machine_limits(bp: Blueprint) -> None:
    """One budget per token and one per address across every route of the JSON API and
    Open311 together: a constant scope makes Flask-Limiter count them in one bucket, where
    a route limit would give each endpoint a budget of its own."""
    limiter.shared_limit(_token_limit, scope="machine-token", key_func=rate_limit_key)(bp)
    limiter.shared_limit(_address_limit, scope="machine-address", key_func=remote_address)(bp)
