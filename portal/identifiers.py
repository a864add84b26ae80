"""Kazakhstan's 12-digit identifiers: IIN (individuals) and BIN (legal entities).

Check digit (the 12th digit), the same for IIN and BIN:

    c = (1*d1 + 2*d2 + ... + 11*d11) mod 11
    if c == 10:
        c = (3*d1 + 4*d2 + ... + 11*d9 + 1*d10 + 2*d11) mod 11
    if c == 10 again: no valid check digit exists and such numbers are never issued.

Limits of the scheme: the weight 11 on d11 is 0 mod 11, so when the first pass
gives the digit, a change of d11 alone goes unnoticed; changes of d1..d10 are
caught whenever both the original and the altered number resolve on the first
pass. See tests/test_identifiers.py for the exact properties that hold.

The validators take the bare 12 digits; pass user input through normalize() first.
"""

from __future__ import annotations

import unicodedata
from datetime import date

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

# IIN digit 7: century of birth and sex (odd: male, even: female).
_IIN_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}
# BIN digit 5: 4 resident legal entity, 5 non-resident, 6 individual entrepreneur (joint).
_BIN_ENTITY_TYPES = frozenset("456")
# BIN digit 6: 0 head organisation, 1 branch, 2 representative office, 3 peasant farm.
_BIN_DIVISIONS = frozenset("0123")


def _is_digits(value: str, length: int) -> bool:
    # str.isdigit() alone also accepts "²" and other non-ASCII digits.
    return isinstance(value, str) and len(value) == length and value.isascii() and value.isdigit()


def _weighted(first11: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(first11, weights, strict=True)) % 11


def check_digit(first11: str) -> int | None:
    """The 12th digit for these 11 digits, or None if no valid one exists.

    Raises ValueError unless given exactly 11 ASCII digits.
    """
    if not _is_digits(first11, 11):
        raise ValueError("expected exactly 11 digits")
    digit = _weighted(first11, _WEIGHTS_1)
    if digit == 10:
        digit = _weighted(first11, _WEIGHTS_2)
    return None if digit == 10 else digit


def _check_digit_ok(value: str) -> bool:
    return check_digit(value[:11]) == int(value[11])


def with_check_digit(first11: str) -> str:
    """The full 12-digit number; ValueError if these 11 digits have no valid check digit."""
    digit = check_digit(first11)
    if digit is None:
        raise ValueError(f"{first11} has no valid check digit")
    return f"{first11}{digit}"


def normalize(value: str) -> str:
    """Drop whitespace (including no-break spaces) and dashes of any kind."""
    return "".join(
        ch
        for ch in value
        if not ch.isspace() and unicodedata.category(ch) != "Pd" and ch != "\u2212"
    )


def is_valid_iin(value: str) -> bool:
    """12 digits: YYMMDD birth date, century/sex digit 1..6, four digits, check digit."""
    if not _is_digits(value, 12):
        return False
    century = _IIN_CENTURY.get(value[6])
    if century is None:
        return False
    try:
        date(century + int(value[0:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        return False
    return _check_digit_ok(value)


def is_valid_bin(value: str) -> bool:
    """12 digits: YYMM of registration, entity type 4/5/6, division 0..3, five digits, check."""
    if not _is_digits(value, 12):
        return False
    if not 1 <= int(value[2:4]) <= 12:
        return False
    if value[4] not in _BIN_ENTITY_TYPES or value[5] not in _BIN_DIVISIONS:
        return False
    return _check_digit_ok(value)
