"""IIN/BIN check digits and structure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.identifiers import (
    check_digit,
    is_valid_bin,
    is_valid_iin,
    normalize,
    with_check_digit,
)

# Published BINs of two large banks (Kaspi Bank, Halyk Bank); checksums verified by hand.
PUBLISHED_BINS = ["971240001315", "940140000385"]

eleven_digits = st.text(alphabet="0123456789", min_size=11, max_size=11)


def first_pass(first11: str) -> int:
    return sum(int(d) * w for d, w in zip(first11, range(1, 12), strict=True)) % 11


def checksum_ok(value: str) -> bool:
    return check_digit(value[:11]) == int(value[11])


def replace(value: str, position: int, digit: str) -> str:
    return value[:position] + digit + value[position + 1 :]


# --- check digit ------------------------------------------------------------------


def test_check_digit_first_pass() -> None:
    # 1*9 + 2*7 + 3*1 + 4*2 + 5*4 + 0 + 0 + 0 + 9*1 + 10*3 + 11*1 = 104; 104 mod 11 = 5
    assert check_digit("97124000131") == 5


def test_check_digit_second_pass() -> None:
    # First pass: 10*1 = 10, so the second weights apply: d10 has weight 1 there -> 1.
    assert first_pass("00000000010") == 10
    assert check_digit("00000000010") == 1


def test_check_digit_ten_twice_means_no_digit() -> None:
    # A birth-date-shaped IIN prefix where both passes give 10.
    prefix = "90010130080"
    assert first_pass(prefix) == 10
    assert check_digit(prefix) is None
    with pytest.raises(ValueError):
        with_check_digit(prefix)
    assert not any(is_valid_iin(prefix + d) for d in "0123456789")


def test_check_digit_ten_twice_bin() -> None:
    prefix = "97124000190"
    assert check_digit(prefix) is None
    assert not any(is_valid_bin(prefix + d) for d in "0123456789")


@pytest.mark.parametrize(
    "bad", ["", "1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１"]
)
def test_check_digit_needs_eleven_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        check_digit(bad)


# --- BIN ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", PUBLISHED_BINS)
def test_published_bins_are_valid(value: str) -> None:
    assert is_valid_bin(value)
    assert with_check_digit(value[:11]) == value


@pytest.mark.parametrize(
    "first11",
    [
        "2403400" + "1234",  # 2024-03, resident legal entity, head office
        "1912510" + "0007",  # 2019-12, non-resident, branch
        "0501620" + "0042",  # 2005-01, joint individual entrepreneurship
        "2307430" + "0001",  # peasant farm
    ],
)
def test_constructed_bins_are_valid(first11: str) -> None:
    assert is_valid_bin(with_check_digit(first11))


def test_bin_wrong_check_digit() -> None:
    value = PUBLISHED_BINS[0]
    for digit in "0123456789":
        if digit != value[11]:
            assert not is_valid_bin(value[:11] + digit)


@pytest.mark.parametrize("month", ["00", "13", "99"])
def test_bin_invalid_month(month: str) -> None:
    assert not is_valid_bin(with_check_digit("24" + month + "4000123"))


@pytest.mark.parametrize("entity, division", [("3", "0"), ("7", "0"), ("0", "0"), ("4", "4")])
def test_bin_invalid_entity_type_or_division(entity: str, division: str) -> None:
    assert not is_valid_bin(with_check_digit("2403" + entity + division + "00123"))


@pytest.mark.parametrize(
    "bad",
    ["", "97124000131", "9712400013150", "97124000131a", "9712-4000131", " 971240001315"],
)
def test_bin_wrong_length_or_not_digits(bad: str) -> None:
    assert not is_valid_bin(bad)


def test_bin_rejects_non_ascii_digits() -> None:
    # Fullwidth and Arabic-Indic digits pass str.isdigit() but are not identifiers.
    fullwidth = "".join(chr(ord(d) - ord("0") + 0xFF10) for d in PUBLISHED_BINS[0])
    assert fullwidth.isdigit()
    assert not is_valid_bin(fullwidth)


# --- IIN ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first11",
    [
        "900101" + "3" + "0000",  # 1990-01-01, male
        "851231" + "4" + "5012",  # 1985-12-31, female
        "050615" + "5" + "0123",  # 2005-06-15, male
        "000229" + "6" + "0777",  # 2000-02-29 (leap year), female
        "991130" + "1" + "0001",  # 1899-11-30
        "600101" + "2" + "1234",  # 1860-01-01
    ],
)
def test_constructed_iins_are_valid(first11: str) -> None:
    assert is_valid_iin(with_check_digit(first11))


def test_iin_wrong_check_digit() -> None:
    value = with_check_digit("9001013" + "0001")
    for digit in "0123456789":
        if digit != value[11]:
            assert not is_valid_iin(value[:11] + digit)


@pytest.mark.parametrize(
    "birth, century",
    [
        ("900230", "3"),  # 30 February
        ("900132", "3"),  # 32 January
        ("901301", "3"),  # month 13
        ("900001", "3"),  # month 00
        ("900100", "3"),  # day 00
        ("010229", "5"),  # 2001 is not a leap year
        ("000229", "1"),  # 1800 is not a leap year (000229 with century 5, 2000, is fine)
        ("000229", "3"),  # 1900 is not a leap year
    ],
)
def test_iin_invalid_birth_date(birth: str, century: str) -> None:
    value = with_check_digit(birth + century + "0000")
    assert not is_valid_iin(value)
    # The same serial with a real date is accepted.
    assert is_valid_iin(with_check_digit("900101" + century + "0000"))


@pytest.mark.parametrize("century", ["0", "7", "8", "9"])
def test_iin_century_digit_must_be_1_to_6(century: str) -> None:
    assert not is_valid_iin(with_check_digit("900101" + century + "0000"))


@pytest.mark.parametrize(
    "bad", ["", "90010130000", "9001013000011", "90010130000x", "+90010130000"]
)
def test_iin_wrong_length_or_not_digits(bad: str) -> None:
    assert not is_valid_iin(bad)


# --- normalize ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "971240001315",
        "971 240 001 315",
        "971-240-001-315",
        " 9712 4000 1315\n",
        "971\u00a0240\u00a0001\u00a0315",  # no-break spaces from copy-paste
        "971\u2013240\u2014001\u2212315",  # en dash, em dash, minus sign
    ],
)
def test_normalize(raw: str) -> None:
    assert normalize(raw) == "971240001315"
    assert is_valid_bin(normalize(raw))


def test_normalize_keeps_other_characters() -> None:
    # Letters and dots are left for the validators to reject.
    assert normalize("97.12 40a") == "97.1240a"


# --- properties of the check digit ---------------------------------------------------


@given(eleven_digits)
def test_with_check_digit_passes_checksum(first11: str) -> None:
    digit = check_digit(first11)
    if digit is None:
        with pytest.raises(ValueError):
            with_check_digit(first11)
        return
    full = with_check_digit(first11)
    assert full == first11 + str(digit)
    assert len(full) == 12 and checksum_ok(full)


@given(eleven_digits, st.integers(min_value=0, max_value=11), st.integers(1, 9))
def test_single_digit_errors(first11: str, position: int, shift: int) -> None:
    """What the scheme does and does not catch when one digit is changed.

    Not every single-digit error is caught (checked exhaustively over samples:
    about 98.3% at positions 1..10, 8% at 11, 100% at 12). What holds:
    - a change of the check digit itself is always caught;
    - at positions 1..10, a change is caught whenever both the original and the altered
      number get their check digit on the first pass (weights 1..10 are invertible mod 11);
    - at position 11 (weight 11 = 0 mod 11) a change is caught exactly when the original
      needed the second pass.
    """
    digit = check_digit(first11)
    if digit is None:
        return
    full = first11 + str(digit)
    altered = replace(full, position, str((int(full[position]) + shift) % 10))
    caught = not checksum_ok(altered)
    if position == 11:
        assert caught
    elif position == 10:
        assert caught == (first_pass(first11) == 10)
    elif first_pass(first11) != 10 and first_pass(altered[:11]) != 10:
        assert caught


def test_single_digit_error_can_slip_through_at_positions_1_to_10() -> None:
    # 9011013000 -> first pass 10, second pass gives 7, the same digit as the original's.
    original = with_check_digit("90010130000")
    altered = replace(original, 2, "1")
    assert original == "900101300007"
    assert first_pass(altered[:11]) == 10
    assert checksum_ok(altered)
