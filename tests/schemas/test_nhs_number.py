"""NHS numbers: ten digits whose tenth is the Modulus 11 check digit of the first nine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.schemas.nhs_number import (
    is_valid_nhs_number,
    nhs_number_problem,
    normalise_nhs_number,
    with_check_digit,
)

# Worked by hand: multiply the first nine digits by 10, 9, ..., 2, sum, take the remainder
# mod 11; the check digit is 11 - remainder (11 becomes 0, 10 means no valid number exists).
#
# 943 476 5919: 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2
#             = 90 + 36 + 24 + 28 + 42 + 30 + 20 + 27 + 2 = 299; 299 = 27*11 + 2; 11 - 2 = 9.
# 401 023 2137: 40 + 0 + 8 + 0 + 12 + 15 + 8 + 3 + 6 = 92; 92 = 8*11 + 4; 11 - 4 = 7.
# 485 777 3457: 40 + 72 + 40 + 49 + 42 + 35 + 12 + 12 + 10 = 312; 312 = 28*11 + 4; 11 - 4 = 7.
# 943 476 5900: as 943 476 591 but the ninth digit 0 drops 1*2: 297 = 27*11 + 0; 11 - 0 = 11,
#               which is written 0.
VALID = ["9434765919", "4010232137", "4857773457", "9434765900"]

# 999 123 456: 90 + 81 + 72 + 7 + 12 + 15 + 16 + 15 + 12 = 320; 320 = 29*11 + 1; 11 - 1 = 10,
# so no tenth digit makes a valid number.
CHECK_DIGIT_TEN = "999123456"


@pytest.mark.parametrize("number", VALID)
def test_known_valid_numbers_are_accepted(number: str) -> None:
    assert nhs_number_problem(number) is None
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize("number", VALID)
def test_nine_digits_are_completed_with_the_hand_computed_check_digit(number: str) -> None:
    assert with_check_digit(number[:9]) == number


@pytest.mark.parametrize("number", VALID)
def test_every_other_check_digit_is_refused(number: str) -> None:
    for digit in "0123456789":
        if digit == number[9]:
            continue
        wrong = number[:9] + digit
        assert nhs_number_problem(wrong) == "fails the Modulus 11 check digit", wrong


def test_a_check_digit_of_ten_is_never_valid() -> None:
    assert with_check_digit(CHECK_DIGIT_TEN) is None
    for digit in "0123456789":
        assert not is_valid_nhs_number(CHECK_DIGIT_TEN + digit)


@pytest.mark.parametrize("digit", "0123456789")
def test_all_same_digit_placeholders_are_refused(digit: str) -> None:
    placeholder = digit * 10
    # They are refused even though they pass the arithmetic: 1111111111 sums to 54 = 4*11 + 10,
    # 11 - 10 = 1, and every d repeated ten times works out to check digit d.
    assert with_check_digit(placeholder[:9]) == placeholder
    assert nhs_number_problem(placeholder) == "is a placeholder (all digits the same)"
    assert not is_valid_nhs_number(placeholder)


@pytest.mark.parametrize(
    "typed",
    ["943 476 5919", "943-476-5919", " 943 476 5919 ", "943\t476\t5919", "9434765919"],
)
def test_spaces_and_dashes_people_type_are_ignored(typed: str) -> None:
    assert normalise_nhs_number(typed) == "9434765919"
    assert is_valid_nhs_number(typed)


@pytest.mark.parametrize(
    "number",
    [
        "943476591X",  # a letter where a digit belongs
        "94347659l9",
        "943.476.5919",  # dots are not separators people use for NHS numbers
        "+943476591",
        "٩٤٣٤٧٦٥٩١٩",  # Arabic-Indic digits are digits to str.isdigit, not to the NHS
        "",
    ],
)
def test_non_digits_are_refused(number: str) -> None:
    assert nhs_number_problem(normalise_nhs_number(number)) == "must be 10 digits"
    assert not is_valid_nhs_number(number)


@pytest.mark.parametrize("number", ["943476591", "94347659190", "9434765919 9", "12345"])
def test_wrong_length_is_refused(number: str) -> None:
    assert nhs_number_problem(normalise_nhs_number(number)) == "must be 10 digits"
    assert not is_valid_nhs_number(number)


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@settings(max_examples=200, deadline=None)
@given(nine=nine_digits, position=st.integers(0, 9), replacement=st.sampled_from("0123456789"))
def test_any_single_mistyped_digit_is_caught(nine: str, position: int, replacement: str) -> None:
    number = with_check_digit(nine)
    if number is None or len(set(number)) == 1 or number[position] == replacement:
        return
    mistyped = number[:position] + replacement + number[position + 1 :]
    assert not is_valid_nhs_number(mistyped)


@settings(max_examples=200, deadline=None)
@given(nine=nine_digits, position=st.integers(0, 8))
def test_any_swap_of_neighbouring_digits_is_caught(nine: str, position: int) -> None:
    number = with_check_digit(nine)
    if number is None or len(set(number)) == 1 or number[position] == number[position + 1]:
        return
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    assert not is_valid_nhs_number(swapped)
