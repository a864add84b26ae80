"""Settings from the environment, with safe defaults for local use."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_path / 'moldir.db'}"
    # Heroku-style URLs and bare postgresql:// both mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _flag(name: str) -> bool | None:
    """A yes/no setting; None when unset (the app decides from how it runs)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def from_environment(instance_path: Path) -> dict:
    max_upload_mb = int(os.environ.get("MAX_UPLOAD_MB", "10"))
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # Without REDIS_URL: refuse to start, unless debugging, testing or this says yes
        # (then an in-process fakeredis stands in; portal/queueing.py).
        "REDIS_STANDIN": bool(_flag("REDIS_STANDIN")),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(instance_path / "uploads")),
        "MAX_UPLOAD_BYTES": max_upload_mb * 1024 * 1024,
        # Several documents per form; a hard ceiling against abuse, per file checked in forms.
        "MAX_CONTENT_LENGTH": (max_upload_mb * 8 + 1) * 1024 * 1024,
        "REFERENCE_PREFIX": os.environ.get("REFERENCE_PREFIX", "SHY"),
        "TIMEZONE": os.environ.get("MOLDIR_TIMEZONE", "Asia/Almaty"),
        "BABEL_DEFAULT_LOCALE": "ru",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("MOLDIR_TIMEZONE", "Asia/Almaty"),
        "LANGUAGES": ("ru", "kk", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # None: on, unless debugging, testing or served over plain http (security.init_app).
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Server-side login sessions (portal/services/sessions.py).
        "SESSION_IDLE_MINUTES": int(os.environ.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_HOURS": int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12")),
        # Proxies in front of the app whose X-Forwarded-* headers are believed (0: none).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        # Login throttling (portal/services/login_throttle.py): failed attempts per account
        # and address wait 2^n s, at most BACKOFF_MAX (0: no wait); failures per address and
        # per account (every address) have flat bounds (Flask-Limiter syntax, moving windows).
        "LOGIN_RATE_LIMIT_BACKOFF_MAX": int(os.environ.get("LOGIN_RATE_LIMIT_BACKOFF_MAX", "900")),
        "LOGIN_RATE_LIMIT_IP": os.environ.get("LOGIN_RATE_LIMIT_IP", "30 per 15 minutes"),
        "LOGIN_RATE_LIMIT_ACCOUNT": os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "100 per hour"),
        "REGISTER_RATE_LIMIT_IP": os.environ.get("REGISTER_RATE_LIMIT_IP", "10 per hour"),
        # Password-reset emails asked for, per address and per email typed (known or not).
        "RESET_RATE_LIMIT_IP": os.environ.get("RESET_RATE_LIMIT_IP", "10 per hour"),
        "RESET_RATE_LIMIT_ACCOUNT": os.environ.get("RESET_RATE_LIMIT_ACCOUNT", "3 per hour"),
        "WTF_CSRF_TIME_LIMIT": None,
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        # The APIs' rate limits, per token and per client address (Flask-Limiter syntax).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "300 per minute"),
        "API_IP_RATE_LIMIT": os.environ.get("API_IP_RATE_LIMIT", "600 per minute"),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_STRATEGY": "moving-window",
        # Redis down: serve rather than fail every API call.
        "RATELIMIT_SWALLOW_ERRORS": True,
        # The first day of the first 12-week cycle (the boards' results run cycle by cycle).
        "CYCLE_START": os.environ.get("CYCLE_START", "2026-01-05"),
        # Operations (portal/observability.py). LOG_FORMAT json|text; unset: text on a
        # terminal, JSON otherwise. METRICS_TOKEN unset: /metrics for loopback clients only.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", ""),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        "HEALTH_SCHEDULER_MAX_AGE": float(os.environ.get("HEALTH_SCHEDULER_MAX_AGE", "60")),
    }
