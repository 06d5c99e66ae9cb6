"""Domain events: the ledger items as the table's stream carries them (NEW_IMAGE).

Each model is exactly the item shared.repository writes (`payment_item`, `void_item`,
`put_event`), so `make schemas` can publish their JSON Schemas for downstream consumers and a
contract test can check that what the repository writes validates against them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.timeutil import ISO_Z_PATTERN
from shared.validators import DAY_PATTERN

_ISO_Z = ISO_Z_PATTERN
_CURRENCY = r"^[A-Z]{3}$"  # ISO 4217


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pk: str = Field(pattern=r"^EVENT#.+$", description="EVENT#<event_id>")
    event_id: str


class PaymentLogged(_Item):
    """A payment was logged: an immutable PAYMENT# item was inserted."""

    sk: str = Field(pattern=r"^PAYMENT#.+$", description="PAYMENT#<payment_id>")
    type: Literal["PAYMENT"]
    payment_id: str
    patron_name: str
    amount_cents: int = Field(gt=0, description="integer minor units")
    currency: str = Field(pattern=_CURRENCY)
    payment_method: Literal["cash", "card", "check", "venmo", "other"]
    notes: str | None = None
    reference: str | None = None
    received_at: str = Field(pattern=_ISO_Z)
    logged_by: str = Field(description="e-mail of the signed-in person who logged it")
    logged_by_sub: str | None = Field(default=None, description="their Cognito sub")
    timestamp: str = Field(pattern=_ISO_Z, description="server UTC time of logging")
    patron_email: str | None = None
    request_fingerprint: str


class PaymentVoided(_Item):
    """A payment was voided: an immutable VOID# item pointing at the payment was inserted."""

    sk: str = Field(pattern=r"^VOID#.+$", description="VOID#<payment_id>")
    type: Literal["VOID"]
    payment_id: str
    reason: str
    voided_by: str
    voided_by_sub: str | None = None
    timestamp: str = Field(pattern=_ISO_Z)
    amount_cents: int = Field(gt=0)
    currency: str = Field(pattern=_CURRENCY)
    payment_method: Literal["cash", "card", "check", "venmo", "other"]
    patron_name: str


class EventCreated(_Item):
    """An event was created: its META item was inserted."""

    sk: Literal["META"]
    type: Literal["EVENT"]
    gsi1pk: str
    gsi1sk: str
    event_name: str
    date: str = Field(pattern=DAY_PATTERN)
    location: str | None = None
    currency: str = Field(pattern=_CURRENCY)
    expected_total_cents: int | None = None
    created_at: str = Field(pattern=_ISO_Z)
    created_by: str
    created_by_sub: str | None = None


class EventClosedOut(_Item):
    """An event was closed out: an immutable CLOSEOUT# item (the newest one is current)."""

    sk: str = Field(pattern=r"^CLOSEOUT#.+$", description="CLOSEOUT#<closeout_id>")
    type: Literal["CLOSEOUT"]
    closeout_id: str
    currency: str = Field(pattern=_CURRENCY)
    closed_by: str = Field(description="e-mail of the admin who closed out")
    closed_by_sub: str | None = None
    closed_at: str = Field(pattern=_ISO_Z)
    counted_cents: dict[str, int] = Field(description="what was counted, per method")
    recorded_cents: dict[str, int] = Field(description="the ledger's net per method")
    note: str | None = None
    payment_count: int = Field(ge=0)
    void_count: int = Field(ge=0)
    request_fingerprint: str


DOMAIN_EVENTS: tuple[type[BaseModel], ...] = (
    PaymentLogged,
    PaymentVoided,
    EventCreated,
    EventClosedOut,
)
