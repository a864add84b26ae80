"""The settings: the one place that reads the environment.

`create_app` builds them once (`from_environment`, then the test's mapping on top) into
`app.config`; everything else (the notification channels, the relay, the clock, the SLA
calendar, the boards) reads them from there, never from `os.environ`.
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

ROOT = Path(__file__).resolve().parent.parent
# The administration's zone (Kazakhstan is UTC+5 since 2024) and the first day of the first
# 12-week cycle: the defaults, declared once.
DEFAULT_TIMEZONE = "Asia/Almaty"
DEFAULT_CYCLE_START = "2026-01-05"


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


def _optional_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def redis_url() -> str | None:
    """REDIS_URL, for the entry points that connect before any app is built (`portal.cron`)."""
    return os.environ.get("REDIS_URL") or None


def from_environment(instance_path: Path) -> dict:
    timezone = os.environ.get("MOLDIR_TIMEZONE", DEFAULT_TIMEZONE)
    max_upload_mb = int(os.environ.get("MAX_UPLOAD_MB", "10"))
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url(),
        # Without REDIS_URL: refuse to start, unless debugging, testing or this says yes
        # (then an in-process fakeredis stands in; portal/queueing.py).
        "REDIS_STANDIN": bool(_flag("REDIS_STANDIN")),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(instance_path / "uploads")),
        "MAX_UPLOAD_BYTES": max_upload_mb * 1024 * 1024,
        # Several documents per form; a hard ceiling against abuse, per file checked in forms.
        "MAX_CONTENT_LENGTH": (max_upload_mb * 8 + 1) * 1024 * 1024,
        # The content check of each upload runs in its own process under these limits.
        "UPLOAD_CHECK_CPU_SECONDS": int(os.environ.get("UPLOAD_CHECK_CPU_SECONDS", "2")),
        "UPLOAD_CHECK_MEMORY_MB": int(os.environ.get("UPLOAD_CHECK_MEMORY_MB", "512")),
        "UPLOAD_CHECK_WALL_SECONDS": float(os.environ.get("UPLOAD_CHECK_WALL_SECONDS", "4")),
        "UPLOAD_MAX_IMAGE_PIXELS": int(os.environ.get("UPLOAD_MAX_IMAGE_PIXELS", "50000000")),
        # Storage per applicant and per business (BIN) in 24 hours, in MB (0: no quota).
        "UPLOAD_QUOTA_MB_PER_DAY": int(os.environ.get("UPLOAD_QUOTA_MB_PER_DAY", "200")),
        "UPLOAD_QUOTA_MB_PER_BUSINESS_PER_DAY": int(
            os.environ.get("UPLOAD_QUOTA_MB_PER_BUSINESS_PER_DAY", "500")
        ),
        "REFERENCE_PREFIX": os.environ.get("REFERENCE_PREFIX", "SHY"),
        "TIMEZONE": timezone,
        "BABEL_DEFAULT_LOCALE": "ru",
        "BABEL_DEFAULT_TIMEZONE": timezone,
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
        "RATELIMIT_STORAGE_URI": redis_url() or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_STRATEGY": "moving-window",
        # Redis down: serve rather than fail every API call.
        "RATELIMIT_SWALLOW_ERRORS": True,
        # The first day of the first 12-week cycle (the boards' results run cycle by cycle).
        "CYCLE_START": os.environ.get("CYCLE_START", DEFAULT_CYCLE_START),
        # Operations (portal/observability.py). LOG_FORMAT json|text; unset: text on a
        # terminal, JSON otherwise. METRICS_TOKEN unset: /metrics for loopback clients only.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", ""),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        "HEALTH_SCHEDULER_MAX_AGE": float(os.environ.get("HEALTH_SCHEDULER_MAX_AGE", "60")),
        # Set by prometheus_client's multiprocess mode (gunicorn): /metrics reads its files.
        "PROMETHEUS_MULTIPROC_DIR": os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""),
        # Notifications (notifications/channels.py, notifications/relay.py). No SMTP_HOST:
        # email is logged, not sent; no SMS_GATEWAY_URL: SMS likewise.
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _optional_int("SMTP_PORT"),  # None: 465 with SSL, 587 with STARTTLS, else 25
        "SMTP_SSL": bool(_flag("SMTP_SSL")),
        "SMTP_STARTTLS": bool(_flag("SMTP_STARTTLS")),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT") or 10),
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "Moldir <no-reply@moldir.local>",
        "SMS_GATEWAY_URL": os.environ.get("SMS_GATEWAY_URL", ""),
        "SMS_GATEWAY_TOKEN": os.environ.get("SMS_GATEWAY_TOKEN", ""),
        "NOTIFY_MAX_ATTEMPTS": int(os.environ.get("NOTIFY_MAX_ATTEMPTS") or 5),
        "NOTIFY_BACKOFF_SECONDS": int(os.environ.get("NOTIFY_BACKOFF_SECONDS") or 60),
        "NOTIFY_BACKOFF_MAX_SECONDS": int(os.environ.get("NOTIFY_BACKOFF_MAX_SECONDS") or 3600),
        "NOTIFY_LEASE_SECONDS": int(os.environ.get("NOTIFY_LEASE_SECONDS") or 300),
        "NOTIFY_BATCH_SIZE": int(os.environ.get("NOTIFY_BATCH_SIZE") or 100),
        # Whether a commit that owes messages enqueues a relay at once (else: the schedule).
        "NOTIFY_KICK_RELAY": _flag("NOTIFY_KICK_RELAY") is not False,
        # "<unix time>,<ISO instant>,<rate>": one running clock for every process of a bench
        # or fault run (sla/clock.py). Never set in production.
        "MOLDIR_CLOCK": os.environ.get("MOLDIR_CLOCK", ""),
    }


# --- reading them ---------------------------------------------------------------------------


def zone() -> ZoneInfo:
    """The administration's time zone: the app's TIMEZONE (the default outside an app)."""
    name = current_app.config["TIMEZONE"] if has_app_context() else DEFAULT_TIMEZONE
    return ZoneInfo(name)


def cycle_start() -> date:
    """The first day of the first 12-week cycle (CYCLE_START)."""
    value = current_app.config["CYCLE_START"] if has_app_context() else DEFAULT_CYCLE_START
    return value if isinstance(value, date) else date.fromisoformat(str(value))
