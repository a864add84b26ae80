"""How a person wants to be told: their channels, phone number and language."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import User
from portal.services import ServiceError

LANGUAGES = ("ru", "kk", "en")
# Kazakhstan's numbers: +7 and ten digits (written by people with spaces, dashes, brackets,
# or with the domestic 8 in front).
_PHONE = re.compile(r"\+7\d{10}")
_SEPARATORS = re.compile(r"[\s\-()]")


def normalize_phone(raw: str | None) -> str | None:
    """'+7 (701) 234-56-78' or '8 701 234 56 78' -> '+77012345678'; '' -> None.

    Raises ValueError for anything that is not a Kazakhstan number.
    """
    if raw is None or not raw.strip():
        return None
    phone = _SEPARATORS.sub("", raw.strip())
    if phone.startswith("8") and len(phone) == 11 and phone.isdigit():
        phone = "+7" + phone[1:]
    if not _PHONE.fullmatch(phone):
        raise ValueError(raw)
    return phone


def save(user: User, *, email: bool, sms: bool, phone: str | None, locale: str) -> User:
    """Keep the person's choices; nothing is saved unless all of them are valid."""
    try:
        phone = normalize_phone(phone)
    except ValueError:
        raise ServiceError(_l("Enter the phone number as +7XXXXXXXXXX."), field="phone") from None
    if sms and phone is None:
        raise ServiceError(_l("Enter a phone number to get SMS."), field="phone")
    if locale not in LANGUAGES:
        raise ServiceError(_l("Choose a language."), field="locale")
    user.notify_email = bool(email)
    user.notify_sms = bool(sms)
    user.phone = phone
    user.locale = locale
    db.session.commit()
    return user
