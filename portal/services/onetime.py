"""One-time links (invitations): a random secret for the link, only its SHA-256 kept.

Small on purpose; a generic helper for every one-time link (password reset, staff
invitations) may replace it: `new()` and `digest()` are all a caller needs.
"""

from __future__ import annotations

import hashlib
import secrets


def new() -> tuple[str, str]:
    """(the secret for the link, its digest to store)."""
    secret = secrets.token_urlsafe(32)
    return secret, digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256((secret or "").encode()).hexdigest()
