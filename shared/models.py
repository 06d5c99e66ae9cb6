"""Pydantic models: API request bodies, stored records and response views.

Request models are strict about shape (unknown fields are refused) and clean user text; every
amount becomes integer cents on the way in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date as Date
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from shared import validators
from shared.money import MoneyError, format_cents, parse_amount_cents
from shared.text import clean_text, has_visible
from shared.timeutil import iso_z
from shared.validators import EMAIL_MAX

# `other`: Zelle, PayPal, a bank transfer... (what it was goes in `reference`). A client that
# sends no method (the first logging form sent only patron, amount and notes) records `other`.
PAYMENT_METHODS = ("cash", "card", "check", "venmo", "other")
PaymentMethod = Literal["cash", "card", "check", "venmo", "other"]

# Currencies with two minor-unit digits: the only ones integer cents describe correctly.
SUPPORTED_CURRENCIES = ("USD", "CAD", "EUR", "GBP", "AUD", "NZD", "MXN", "CHF")

PATRON_NAME_MAX = 120
NOTES_MAX = 1000
REFERENCE_MAX = 100
EVENT_NAME_MAX = 120
LOCATION_MAX = 200


def _cents(*, allow_zero: bool) -> Callable[[object], int]:
    def parse(value: object) -> int:
        try:
            return parse_amount_cents(value, allow_zero=allow_zero)
        except MoneyError as exc:
            raise ValueError(str(exc)) from exc

    return parse


def _money_schema(*, allow_zero: bool, description: str, example: str) -> WithJsonSchema:
    bound = {"minimum": 0} if allow_zero else {"exclusiveMinimum": 0}
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", **bound, "multipleOf": 0.01},
                {"type": "string", "pattern": r"^\d{1,15}(\.\d{1,2})?$"},
            ],
            "description": description,
            "examples": [example],
        }
    )


# Money on the wire (a JSON number or a decimal string), held as integer cents once validated.
AmountCents = Annotated[
    int,
    BeforeValidator(_cents(allow_zero=False)),
    _money_schema(
        allow_zero=False,
        description="Money: a JSON number or decimal string, > 0, at most 2 decimals.",
        example="150.00",
    ),
]
# What was counted for one method at a close-out: zero is a real answer ("no checks").
CountedCents = Annotated[
    int,
    BeforeValidator(_cents(allow_zero=True)),
    _money_schema(
        allow_zero=True,
        description="Money counted: a JSON number or decimal string, >= 0, at most 2 decimals.",
        example="1200.00",
    ),
]


def visible_text(max_length: int, *, multiline: bool = False, required: bool = True) -> Any:
    """The one rule for user-supplied text: cleaned, capped, and not empty when required."""

    def check(value: str) -> str:
        cleaned = clean_text(value, max_length=max_length, multiline=multiline)
        if required and not cleaned:
            raise ValueError("must not be empty")
        if cleaned and not has_visible(cleaned):
            raise ValueError("must contain something visible")
        return cleaned

    return AfterValidator(check)


PatronName = Annotated[str, Field(max_length=4 * PATRON_NAME_MAX), visible_text(PATRON_NAME_MAX)]
Notes = Annotated[
    str, Field(max_length=4 * NOTES_MAX), visible_text(NOTES_MAX, multiline=True, required=False)
]
Reference = Annotated[
    str, Field(max_length=4 * REFERENCE_MAX), visible_text(REFERENCE_MAX, required=False)
]
EventName = Annotated[str, Field(max_length=4 * EVENT_NAME_MAX), visible_text(EVENT_NAME_MAX)]
Location = Annotated[
    str, Field(max_length=4 * LOCATION_MAX), visible_text(LOCATION_MAX, required=False)
]


# The value types every request model uses; the rules themselves are in shared.validators.
Email = Annotated[
    str,
    Field(
        max_length=4 * EMAIL_MAX,
        json_schema_extra={"format": "email"},
        description=(
            "An e-mail address like name@example.com. Only ASCII before the @: mail cannot be "
            "sent to internationalised addresses. Stored with the domain in lower case (an "
            "internationalised domain in its xn-- form), the part before the @ as given."
        ),
        examples=["ada@example.org"],
    ),
    AfterValidator(validators.email_address),
]
PaymentId = Annotated[str, Field(max_length=36), AfterValidator(validators.payment_id)]
EventId = Annotated[str, Field(max_length=200), AfterValidator(validators.event_id)]
CalendarDate = Annotated[Date, BeforeValidator(validators.calendar_date)]
Moment = Annotated[datetime, BeforeValidator(validators.moment)]


def _method(value: object) -> object:
    # Accept "Venmo"/"CASH" from hand-typed clients; the stored value is always lower case.
    return value.strip().lower() if isinstance(value, str) else value


class Model(BaseModel):
    """The base of every model here. Each is built (its validator and serializer compiled) the
    first time it is used rather than when this module is imported: a cold start pays only for
    the models its own request needs, not for all of them."""

    model_config = ConfigDict(defer_build=True)


class Request(Model):
    # Unknown fields are an error, not silently dropped: a typo must not lose data.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class CreateEventRequest(Request):
    event_name: EventName
    date: CalendarDate
    location: Location | None = None
    currency: str = "USD"
    expected_total: AmountCents | None = None

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> object:
        if not isinstance(value, str) or value.strip().upper() not in SUPPORTED_CURRENCIES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_CURRENCIES)}")
        return value.strip().upper()


class LogPaymentRequest(Request):
    patron_name: PatronName
    amount: AmountCents
    payment_method: Annotated[PaymentMethod, BeforeValidator(_method)] = "other"
    notes: Notes | None = None
    reference: Reference | None = None
    received_at: Moment | None = None
    patron_email: Annotated[
        Email | None, Field(description="Where the patron's receipt goes (optional).")
    ] = None
    payment_id: PaymentId | None = None

    def fingerprint_fields(self, event_id: str) -> dict[str, Any]:
        """What makes two submissions "the same payment" for idempotent replay."""
        return {
            "event_id": event_id,
            "patron_name": self.patron_name,
            "amount_cents": self.amount,
            "payment_method": self.payment_method,
            "notes": self.notes or None,
            "reference": self.reference or None,
            "received_at": None if self.received_at is None else iso_z(self.received_at),
            "patron_email": self.patron_email,
        }


class LogPaymentByBodyRequest(LogPaymentRequest):
    """The seed's `POST /api/payment/log`: same command, event id in the body."""

    event_id: EventId


class LogPaymentResponse(Model):
    status: Literal["success"] = "success"
    payment_id: str
    timestamp: str


class CountedByMethod(Request):
    """What was counted at the end of the event, per method (every method must be given)."""

    cash: CountedCents
    card: CountedCents
    check: CountedCents
    venmo: CountedCents
    other: CountedCents

    def cents(self) -> dict[str, int]:
        return {method: int(getattr(self, method)) for method in PAYMENT_METHODS}


class CloseoutRequest(Request):
    counted: CountedByMethod
    note: Notes | None = None
    closeout_id: PaymentId | None = None  # the client's idempotency key (a UUIDv7), like payments


# --- stored records -------------------------------------------------------------------------


class Event(Model):
    event_id: str
    event_name: str
    date: Date
    location: str | None = None
    currency: str
    expected_total_cents: int | None = None
    created_at: datetime
    created_by: str
    created_by_sub: str | None = None  # the Cognito sub beside the e-mail (older items: none)


class Payment(Model):
    payment_id: str
    event_id: str
    patron_name: str
    amount_cents: int
    currency: str
    payment_method: PaymentMethod
    notes: str | None = None
    reference: str | None = None
    received_at: datetime
    logged_by: str
    logged_by_sub: str | None = None
    timestamp: datetime
    patron_email: str | None = None
    request_fingerprint: str


class VoidView(Model):
    reason: str
    voided_by: str
    timestamp: str


class Void(Model):
    """A correction: points at the payment it cancels and carries what the projector and the
    notifier need (amount, method, patron), so neither has to read the payment back."""

    payment_id: str
    event_id: str
    reason: str
    voided_by: str
    voided_by_sub: str | None = None
    timestamp: datetime
    amount_cents: int
    currency: str
    payment_method: PaymentMethod
    patron_name: str


class Closeout(Model):
    """The books of an event checked against what was counted: immutable, like every ledger
    record; a later close-out supersedes it (the newest is current), history is kept."""

    closeout_id: str
    event_id: str
    currency: str
    closed_by: str
    closed_by_sub: str | None = None
    closed_at: datetime
    counted_cents: dict[str, int]
    recorded_cents: dict[str, int]
    note: str | None = None
    payment_count: int
    void_count: int
    request_fingerprint: str

    @property
    def difference_cents(self) -> dict[str, int]:
        """Counted minus recorded per method: positive is over, negative is short."""
        return {
            m: self.counted_cents.get(m, 0) - self.recorded_cents.get(m, 0) for m in PAYMENT_METHODS
        }

    @property
    def over_short_cents(self) -> int:
        return sum(self.difference_cents.values())


VOID_REASON_MAX = 500
VoidReason = Annotated[str, Field(max_length=4 * VOID_REASON_MAX), visible_text(VOID_REASON_MAX)]


class VoidRequest(Request):
    reason: VoidReason


class VoidResponse(Model):
    status: Literal["success"] = "success"
    payment_id: str
    void: VoidView


class Summary(Model):
    """Per-event totals projected from the ledger (all money in cents)."""

    payment_count: int = 0
    void_count: int = 0
    gross_cents: int = 0
    voided_cents: int = 0
    by_method_cents: dict[str, int] = Field(
        default_factory=lambda: dict.fromkeys(PAYMENT_METHODS, 0)
    )
    last_payment_at: datetime | None = None
    closeout: CloseoutStatus | None = None  # the newest close-out

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.voided_cents


class CloseoutStatus(Model):
    """What an event card shows of its current close-out (kept in the SUMMARY projection)."""

    closeout_id: str
    closed_by: str
    closed_at: str
    over_short_cents: int

    @classmethod
    def of(cls, closeout: Closeout) -> CloseoutStatus:
        return cls(
            closeout_id=closeout.closeout_id,
            closed_by=closeout.closed_by,
            closed_at=iso_z(closeout.closed_at),
            over_short_cents=closeout.over_short_cents,
        )


# --- response views -------------------------------------------------------------------------


class PaymentView(Model):
    payment_id: str
    event_id: str
    patron_name: str
    amount: str
    amount_cents: int
    currency: str
    payment_method: str
    notes: str | None
    reference: str | None
    received_at: str
    logged_by: str
    timestamp: str
    patron_email: str | None = None
    void: VoidView | None = None
    after_closeout: bool = False  # logged after the event's newest close-out

    @classmethod
    def of(
        cls, payment: Payment, void: Void | None = None, *, closed_at: datetime | None = None
    ) -> PaymentView:
        return cls(
            payment_id=payment.payment_id,
            event_id=payment.event_id,
            patron_name=payment.patron_name,
            amount=format_cents(payment.amount_cents),
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            payment_method=payment.payment_method,
            notes=payment.notes,
            reference=payment.reference,
            received_at=iso_z(payment.received_at),
            logged_by=payment.logged_by,
            timestamp=iso_z(payment.timestamp),
            patron_email=payment.patron_email,
            void=None
            if void is None
            else VoidView(
                reason=void.reason, voided_by=void.voided_by, timestamp=iso_z(void.timestamp)
            ),
            after_closeout=closed_at is not None and payment.timestamp > closed_at,
        )


class SummaryView(Model):
    payment_count: int
    void_count: int
    gross_cents: int
    voided_cents: int
    net_cents: int
    by_method_cents: dict[str, int]
    outstanding_cents: int | None
    last_payment_at: str | None
    closeout: CloseoutStatus | None = None

    @classmethod
    def of(cls, summary: Summary, expected_total_cents: int | None) -> SummaryView:
        net = summary.net_cents
        return cls(
            payment_count=summary.payment_count,
            void_count=summary.void_count,
            gross_cents=summary.gross_cents,
            voided_cents=summary.voided_cents,
            net_cents=net,
            by_method_cents={m: summary.by_method_cents.get(m, 0) for m in PAYMENT_METHODS},
            outstanding_cents=None if expected_total_cents is None else expected_total_cents - net,
            last_payment_at=None
            if summary.last_payment_at is None
            else iso_z(summary.last_payment_at),
            closeout=summary.closeout,
        )


class CloseoutView(Model):
    closeout_id: str
    event_id: str
    currency: str
    closed_by: str
    closed_at: str
    counted_cents: dict[str, int]
    recorded_cents: dict[str, int]
    difference_cents: dict[str, int]
    over_short_cents: int
    note: str | None
    payment_count: int
    void_count: int

    @classmethod
    def of(cls, closeout: Closeout) -> CloseoutView:
        return cls(
            closeout_id=closeout.closeout_id,
            event_id=closeout.event_id,
            currency=closeout.currency,
            closed_by=closeout.closed_by,
            closed_at=iso_z(closeout.closed_at),
            counted_cents={m: closeout.counted_cents.get(m, 0) for m in PAYMENT_METHODS},
            recorded_cents={m: closeout.recorded_cents.get(m, 0) for m in PAYMENT_METHODS},
            difference_cents=closeout.difference_cents,
            over_short_cents=closeout.over_short_cents,
            note=closeout.note,
            payment_count=closeout.payment_count,
            void_count=closeout.void_count,
        )


class CloseoutList(Model):
    closeouts: list[CloseoutView]


class EventView(Model):
    event_id: str
    event_name: str
    date: str
    location: str | None
    currency: str
    expected_total_cents: int | None
    expected_total: str | None
    summary: SummaryView | None = None

    @classmethod
    def of(cls, event: Event, summary: Summary | None = None) -> EventView:
        expected = event.expected_total_cents
        return cls(
            event_id=event.event_id,
            event_name=event.event_name,
            date=event.date.isoformat(),
            location=event.location,
            currency=event.currency,
            expected_total_cents=expected,
            expected_total=None if expected is None else format_cents(expected),
            summary=None if summary is None else SummaryView.of(summary, expected),
        )


class EventList(Model):
    events: list[EventView]


class PaymentPage(Model):
    event: EventView
    payments: list[PaymentView]
    summary: SummaryView
    next_cursor: str | None


class Health(Model):
    status: Literal["ok"] = "ok"


def decimal_to_int(value: Any) -> int:
    """DynamoDB numbers come back as Decimal; ledger numbers are always whole cents."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"expected whole minor units, got {value!r}")
