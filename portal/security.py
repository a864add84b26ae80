"""HTTP hardening: response headers, the proxies we trust, cookie defaults, and the
security event log (`moldir.security`).

Only records are emitted here; handlers and formatting belong to portal/observability.py.
"""

from __future__ import annotations

import logging

from flask import Flask, g, has_request_context, request
from flask_login import current_user, user_unauthorized
from werkzeug.middleware.proxy_fix import ProxyFix

logger = logging.getLogger("moldir.security")

# No inline script or style anywhere: templates use classes from moldir.css, scripts are files.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Paths answered for machines: they authenticate with tokens, never with the cookie.
MACHINE_PREFIXES = ("/api/v1/", "/api/openapi.json", "/open311/")


def init_app(app: Flask) -> None:
    _cookie_defaults(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Behind N proxies: the client address and scheme are what the proxies say.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    app.before_request(_check_login_session_first)
    app.after_request(_set_headers)
    app.after_request(_log_denials)
    user_unauthorized.connect(_log_login_required, app)


def _cookie_defaults(app: Flask) -> None:
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        plain_http = str(app.config.get("BASE_URL", "")).startswith("http://")
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing or plain_http)
    if app.config["SESSION_COOKIE_SECURE"]:
        # __Host-: the browser keeps it for this host only, over TLS, for every path.
        if app.config.get("SESSION_COOKIE_NAME", "session") == "session":
            app.config["SESSION_COOKIE_NAME"] = "__Host-moldir"
        app.config.setdefault("REMEMBER_COOKIE_SECURE", True)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")


def _check_login_session_first():
    # The login-session check may write (last seen, revocation): do it before the view's
    # own work, not whenever a template first asks who is signed in.
    if request.endpoint == "static" or request.path.startswith(MACHINE_PREFIXES):
        return
    # Remembered: the answer to a signed-in person's request is private even if the view
    # signs them out (logout).
    g.signed_in_request = current_user._get_current_object().is_authenticated


def _set_headers(response):
    for name, value in HEADERS.items():
        # A view may set a policy of its own (none does today).
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static" and _for_someone():
        # A page for a signed-in person, or an answer to a token, holds personal data: no
        # copy in a shared proxy, in the browser's cache or behind its back button.
        if "no-store" not in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "no-store"
    return response


def _for_someone() -> bool:
    """Whether this answer was made for an identified person (session, token or api_key)."""
    if g.get("signed_in_request") or _signed_in_id() is not None:
        return True
    if request.path.startswith(MACHINE_PREFIXES):
        header = request.headers.get("Authorization", "")
        # The form only if the view read it: parsing it here could fail (too large).
        form = request.__dict__.get("form") or {}
        key = request.args.get("api_key") or form.get("api_key")
        return header.lower().startswith("bearer ") or bool(key)
    return False


def _log_denials(response):
    if g.get("security_logged"):
        return response
    status = response.status_code
    if status in (401, 403):
        log_event("access.denied", outcome="denied", status=status, user_id=_signed_in_id())
    elif status == 404 and request.url_rule is not None:
        # A page that exists, for an object that does not or is not this person's to see
        # (unknown paths are scanners' noise, not logged).
        log_event("access.not_visible", outcome="denied", status=status, user_id=_signed_in_id())
    return response


def _log_login_required(_app, **_extra):
    log_event("access.login_required", outcome="denied", status=302)


def _signed_in_id() -> int | None:
    # Without loading anyone: the after-request hook must not start a database lookup.
    user = g.get("_login_user")
    return user.id if user is not None and user.is_authenticated else None


def log_event(event: str, *, outcome: str, level: int = logging.INFO, **fields) -> None:
    """One security record: `event` ("login.failed"), its outcome, and who, where, what.

    Every field goes into the record's `extra`, so a structured formatter renders it.
    """
    extra = {"event": event, "outcome": outcome}
    if has_request_context():
        extra.update(
            ip=request.remote_addr,
            method=request.method,
            path=request.path,
            endpoint=request.endpoint,
        )
    extra.update({name: value for name, value in fields.items() if value is not None})
    logger.log(level, "%s %s", event, outcome, extra=extra)
