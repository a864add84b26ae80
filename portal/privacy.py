"""Personal data in logs: an email address, a phone number, an IIN or a BIN is never written
as it is, but as one stable pseudonym, so that an operator can still follow one person
through the logs (and find them, knowing the address, with `flask` shell and `pseudonym`).

Keyed with SECRET_KEY (an HMAC): a plain hash of a 12-digit IIN or of a known address
could be reversed by trying them all.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app, has_app_context

KINDS = ("email", "phone", "identifier")
_NOT_DIGIT = re.compile(r"\D")


def _normalized(value: str, kind: str) -> str:
    if kind == "email":
        return value.strip().lower()
    # "+7 701 123-45-67" and "87011234567" are one number; an IIN/BIN is its digits.
    digits = _NOT_DIGIT.sub("", value)
    if kind == "phone" and len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits


def pseudonym(value: str | None, kind: str = "email") -> str | None:
    """The pseudonym of `value` (an email, phone or IIN/BIN) for logs; None for nothing."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of personal data: {kind}")
    if not value:
        return None
    key = str(current_app.config.get("SECRET_KEY") or "") if has_app_context() else ""
    message = f"{kind}:{_normalized(value, kind)}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:16]


def email_digest(email: str | None) -> str | None:
    return pseudonym(email, "email")
