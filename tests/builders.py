"""Domain objects for tests: one place that knows every field of a Payment, a Void and a
close-out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.ids import new_payment_id
from shared.models import PAYMENT_METHODS, Closeout, Payment, Void

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


def a_closeout(**changes: Any) -> Closeout:
    """The mixer closed out exactly at 23:00 (everything zero); `changes` override any field."""
    zero = dict.fromkeys(PAYMENT_METHODS, 0)
    closed_at = changes.get("closed_at", WHEN + timedelta(hours=4, minutes=30))
    fields: dict[str, Any] = {
        "closeout_id": new_payment_id(int(closed_at.timestamp() * 1000)),
        "event_id": EVENT_ID,
        "currency": "USD",
        "closed_by": "admin@scc.example",
        "closed_at": closed_at,
        "counted_cents": dict(zero),
        "recorded_cents": dict(zero),
        "note": None,
        "payment_count": 0,
        "void_count": 0,
        "request_fingerprint": uuid.uuid4().hex,
    }
    fields.update(changes)
    return Closeout(**fields)
