"""NHS number checks: ten digits with a valid Modulus 11 check digit."""

from __future__ import annotations

import re
from operator import mul

_SEPARATORS = re.compile(r"[\s-]")
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def normalise_nhs_number(value: str) -> str:
    """Strip the spaces and dashes people type into NHS numbers ("943 476 5919")."""
    return _SEPARATORS.sub("", value)


def _check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits; None when the result is 10 (never issued)."""
    if len(first_nine) != 9:
        raise ValueError(f"a check digit needs nine digits, not {len(first_nine)}")
    # map() rather than a generator: the validator checks one number an event.
    total = sum(map(mul, map(int, first_nine), _WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_number_problem(value: str) -> str | None:
    """Why `value` (already normalised) is not a usable NHS number, or None when it is."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return "must be 10 digits"
    if len(set(value)) == 1:
        return "is a placeholder (all digits the same)"
    if _check_digit(value[:9]) != int(value[9]):
        return "fails the Modulus 11 check digit"
    return None


def is_valid_nhs_number(value: str) -> bool:
    """True when `value` is a well-formed NHS number."""
    return nhs_number_problem(normalise_nhs_number(value)) is None


def with_check_digit(first_nine: str) -> str | None:
    """Complete nine digits into a valid NHS number, or None when no check digit fits."""
    check = _check_digit(first_nine)
    return None if check is None else f"{first_nine}{check}"
