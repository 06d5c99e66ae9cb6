"""Domain objects for tests: one place that knows every field of a Payment and a Void."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.ids import new_payment_id
from shared.models import Payment, Void

WHEN = datetime(2026, 5, 23, 18, 30, tzinfo=UTC)
EVENT_ID = "2026-05-23-corporate-mixer"


def a_payment(**changes: Any) -> Payment:
    """John Smith paid $150.00 cash at the corporate mixer; `changes` override any field."""
    fields: dict[str, Any] = {
        "payment_id": new_payment_id(),
        "event_id": EVENT_ID,
        "patron_name": "John Smith",
        "amount_cents": 15000,
        "currency": "USD",
        "payment_method": "cash",
        "notes": None,
        "reference": None,
        "received_at": WHEN,
        "logged_by": "admin@scc.example",
        "timestamp": WHEN + timedelta(seconds=5),
        "patron_email": None,
        "request_fingerprint": uuid.uuid4().hex,
    }
    fields.update(changes)
    return Payment(**fields)


def a_void(payment: Payment | None = None, **changes: Any) -> Void:
    """The void of `payment` (default: a_payment()), ten minutes later; `changes` override."""
    voided = payment or a_payment()
    fields: dict[str, Any] = {
        "payment_id": voided.payment_id,
        "event_id": voided.event_id,
        "reason": "Entered twice",
        "voided_by": "admin@scc.example",
        "timestamp": voided.timestamp + timedelta(minutes=10),
        "amount_cents": voided.amount_cents,
        "currency": voided.currency,
        "payment_method": voided.payment_method,
        "patron_name": voided.patron_name,
    }
    fields.update(changes)
    return Void(**fields)
