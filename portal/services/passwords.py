"""Password rules as NIST SP 800-63B (5.1.1.2) has them: long enough, not too long to
allow a passphrase, not on a list of common passwords, and no composition rules.

The list is Django's `django/contrib/auth/common-passwords.txt.gz` (Django 5.1.4 on PyPI):
20,000 common passwords, lowercased, compiled by Royce Williams
(https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce); Django is
under the BSD 3-clause licence. Vendored as it ships, in portal/data/.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from flask_babel import lazy_gettext as _l

from portal.models import Role
from portal.services import ServiceError

COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"
# The administration's accounts open everyone's requests: longer than an applicant's.
MIN_LENGTH_OFFICIAL = 12
MIN_LENGTH_APPLICANT = 8
MAX_LENGTH = 128


@functools.cache
def _common() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def min_length(role: str) -> int:
    return MIN_LENGTH_APPLICANT if role == Role.APPLICANT else MIN_LENGTH_OFFICIAL


def check(password: str, role: str, *, field: str = "password", email: str | None = None) -> None:
    """Refuse a password that breaks the rules for `role`, saying why (ServiceError)."""
    password = password or ""
    shortest = min_length(role)
    if len(password) < shortest:
        raise ServiceError(
            _l(
                "Use at least %(num)d characters. A few words together are easy to remember.",
                num=shortest,
            ),
            field=field,
        )
    if len(password) > MAX_LENGTH:
        raise ServiceError(_l("Use at most %(num)d characters.", num=MAX_LENGTH), field=field)
    lowered = password.lower()
    local_part = (email or "").split("@")[0].lower()
    if (
        lowered in _common()
        or lowered.strip() in _common()
        or (local_part and lowered in (local_part, (email or "").lower()))
    ):
        raise ServiceError(
            _l(
                "This password is on a list of common passwords and is easy to guess. "
                "Choose another one."
            ),
            field=field,
        )
