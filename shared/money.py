"""Money as integer minor units.

Amounts arrive as a JSON number (parsed to ``Decimal`` by our JSON decoder, never ``float``) or a
decimal string. They become integer cents here and stay integers everywhere else; ``Decimal`` is
used only at this parsing boundary and for formatting.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Plain decimal notation only: no exponents, no signs other than a leading minus (rejected later
# with a clearer message), at most 2 decimals, bounded length so a huge string costs nothing.
_DECIMAL_TEXT = re.compile(r"^-?([0-9]{1,15})(?:\.([0-9]+))?$")
_MAX_TEXT_LENGTH = 32


class MoneyError(ValueError):
    """An amount that cannot be money; the message is safe to show to the user."""


def parse_amount_cents(value: object, *, allow_zero: bool = False) -> int:
    """Turn a JSON amount (Decimal/int number or decimal string) into positive integer cents
    (or zero, for counts such as "no checks in hand", with `allow_zero`).

    Raises MoneyError with a user-facing message for anything that is not such an amount
    with at most two decimals.
    """
    if isinstance(value, bool):  # bool is an int subclass: true must not mean 1 cent
        raise MoneyError("must be a number or a decimal string, not a boolean")
    if isinstance(value, float):
        # Our decoder never produces floats; one here means a caller bypassed it. Refuse rather
        # than guess at the binary value.
        raise MoneyError("must be an exact decimal, not a binary float")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        amount = _parse_text(value)
    else:
        raise MoneyError("must be a number or a decimal string")
    return _to_cents(amount, allow_zero=allow_zero)


def _parse_text(text: str) -> Decimal:
    stripped = text.strip()
    if not stripped:
        raise MoneyError("must not be empty")
    if len(stripped) > _MAX_TEXT_LENGTH:
        raise MoneyError("is too long to be an amount")
    if _DECIMAL_TEXT.match(stripped) is None:
        raise MoneyError("must be a decimal amount like 150 or 150.25")
    try:
        return Decimal(stripped)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise MoneyError("must be a decimal amount like 150 or 150.25") from exc


def _to_cents(amount: Decimal, *, allow_zero: bool) -> int:
    if not amount.is_finite():
        raise MoneyError("must be a finite number")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("must not be negative" if allow_zero else "must be greater than 0")
    # Size first: quantizing a 30-digit number would exceed the decimal context's precision.
    if amount.adjusted() > 15:
        raise MoneyError("is too large")
    cents = amount.scaleb(2)
    # Trailing zeros are fine (150.000 is 150.00); a real third decimal is not.
    if cents != cents.to_integral_value():
        raise MoneyError("must have at most 2 decimal places")
    return int(cents)


def format_cents(cents: int) -> str:
    """150000 -> "1500.00"; exact, locale-free (the SPA formats for display)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
