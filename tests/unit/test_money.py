from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.http import json_loads
from shared.money import MoneyError, format_cents, parse_amount_cents


@pytest.mark.parametrize(
    ("given_amount", "expected_cents"),
    [
        ("150", 15000),
        ("150.1", 15010),
        ("150.10", 15010),
        ("150.000", 15000),  # trailing zeros are not a third decimal
        ("0.01", 1),
        (" 42.50 ", 4250),
        (Decimal("19.99"), 1999),
        (7, 700),
    ],
)
def test_valid_amounts_become_exact_integer_cents(
    given_amount: object, expected_cents: int
) -> None:
    assert parse_amount_cents(given_amount) == expected_cents


@pytest.mark.parametrize(
    ("given_amount", "message"),
    [
        (0, "greater than 0"),
        ("0.00", "greater than 0"),
        (-5, "greater than 0"),
        ("-5", "greater than 0"),
        ("abc", "decimal amount"),
        ("1e309", "decimal amount"),
        ("1e3", "decimal amount"),
        (Decimal("1e309"), "too large"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("-Infinity"), "finite"),
        ("10.005", "2 decimal places"),
        (Decimal("10.005"), "2 decimal places"),
        (True, "boolean"),
        (False, "boolean"),
        (1.5, "binary float"),
        (None, "number or a decimal string"),
        ([], "number or a decimal string"),
        ("", "empty"),
        ("1" * 40, "too long"),
        ("١٢٣", "decimal amount"),  # non-ASCII digits are not accepted as money
    ],
)
def test_invalid_amounts_are_refused_with_a_reason(given_amount: object, message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        parse_amount_cents(given_amount)


def test_json_numbers_never_become_floats() -> None:
    # Given a body with a decimal number that has no exact binary representation
    body = json_loads('{"amount": 0.1, "big": 1e309, "nan": NaN}')
    # Then every number is a Decimal, exactly as written
    assert body["amount"] == Decimal("0.1")
    assert isinstance(body["amount"], Decimal)
    assert parse_amount_cents(body["amount"]) == 10
    assert isinstance(body["big"], Decimal)
    assert body["nan"].is_nan()


@given(cents=st.integers(min_value=1, max_value=10**17 - 1))
def test_any_valid_decimal_string_round_trips_exactly(cents: int) -> None:
    text = format_cents(cents)
    assert parse_amount_cents(text) == cents
    assert format_cents(parse_amount_cents(text)) == text


@given(
    whole=st.integers(min_value=0, max_value=10**12),
    decimals=st.text(alphabet="0123456789", min_size=0, max_size=2),
)
def test_any_decimal_string_with_at_most_two_places_parses_to_its_value(
    whole: int, decimals: str
) -> None:
    text = f"{whole}.{decimals}" if decimals else str(whole)
    expected = Decimal(text) * 100
    if expected == 0:
        with pytest.raises(MoneyError):
            parse_amount_cents(text)
    else:
        assert parse_amount_cents(text) == int(expected)
        # the JSON-number path agrees with the string path
        assert parse_amount_cents(json_loads(text)) == int(expected)


@pytest.mark.parametrize(
    ("cents", "text"), [(0, "0.00"), (5, "0.05"), (15000, "150.00"), (-1999, "-19.99")]
)
def test_cents_are_formatted_with_two_decimals(cents: int, text: str) -> None:
    assert format_cents(cents) == text
