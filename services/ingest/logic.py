"""Ingest commands as plain functions over models; the handler only parses and calls these."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.ingest.config import IngestConfig
from shared import validators
from shared.auth import Caller
from shared.errors import (
    Conflict,
    EventNotFound,
    IdempotencyConflict,
    PaymentNotFound,
    ValidationFailed,
)
from shared.ids import make_event_id, new_payment_id
from shared.models import (
    Closeout,
    CloseoutRequest,
    CreateEventRequest,
    Event,
    LogPaymentRequest,
    LogPaymentResponse,
    Payment,
    Void,
    VoidRequest,
)
from shared.money import format_cents
from shared.projection import summarize
from shared.repository import LedgerTable
from shared.timeutil import iso_z

# A payment may be recorded a little ahead of the server clock (phones drift), not days ahead.
_MAX_CLOCK_SKEW = timedelta(minutes=5)


def create_event(
    table: LedgerTable, request: CreateEventRequest, caller: Caller, now: datetime
) -> Event:
    event = Event(
        event_id=make_event_id(request.date, request.event_name),
        event_name=request.event_name,
        date=request.date,
        location=request.location or None,
        currency=request.currency,
        expected_total_cents=request.expected_total,
        created_at=now,
        created_by=caller.email,
        created_by_sub=caller.sub,
    )
    table.put_event(event)
    return event


def _digest(fields: dict[str, Any]) -> str:
    """What makes two submissions of one idempotency key "the same request"."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fingerprint(request: LogPaymentRequest, event_id: str) -> str:
    return _digest(request.fingerprint_fields(event_id))


@dataclass(frozen=True)
class Logged:
    response: LogPaymentResponse
    created: bool  # False: an idempotent replay of an earlier request


def log_payment(
    table: LedgerTable,
    config: IngestConfig,
    event_id: str,
    request: LogPaymentRequest,
    caller: Caller,
    now: datetime,
) -> Logged:
    """Record one payment. The client's payment_id makes retries safe: the same id and body
    return the original result, the same id with another body is a conflict."""
    validators.require_event_id(event_id)
    if request.amount > config.max_payment_cents:
        raise ValidationFailed.field(
            "amount", f"must be at most {format_cents(config.max_payment_cents)}"
        )
    if request.received_at is not None and request.received_at > now + _MAX_CLOCK_SKEW:
        raise ValidationFailed.field("received_at", "must not be in the future")
    event = table.get_event(event_id)
    if event is None:
        raise EventNotFound(event_id)
    request_fingerprint = fingerprint(request, event_id)
    payment = Payment(
        payment_id=request.payment_id or new_payment_id(),
        event_id=event_id,
        patron_name=request.patron_name,
        amount_cents=request.amount,
        currency=event.currency,
        payment_method=request.payment_method,
        notes=request.notes or None,
        reference=request.reference or None,
        received_at=request.received_at or now,
        logged_by=caller.email,
        logged_by_sub=caller.sub,
        timestamp=now,
        patron_email=request.patron_email,
        request_fingerprint=request_fingerprint,
    )
    existing = table.put_payment(payment)
    if existing is None:
        return Logged(LogPaymentResponse(payment_id=payment.payment_id, timestamp=iso_z(now)), True)
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyConflict(
            "This payment_id was already used for a different payment",
            {"payment_id": "already used for a different payment"},
        )
    return Logged(
        LogPaymentResponse(payment_id=existing.payment_id, timestamp=iso_z(existing.timestamp)),
        False,
    )


def void_payment(
    table: LedgerTable,
    event_id: str,
    payment_id: str,
    request: VoidRequest,
    caller: Caller,
    now: datetime,
) -> Void:
    """Cancel a payment with a new immutable VOID# record; the payment itself stays as it was."""
    validators.require_event_id(event_id)
    validators.check("payment_id", validators.payment_id, payment_id)
    payment = table.get_payment(event_id, payment_id)
    if payment is None:
        raise PaymentNotFound(payment_id)
    void = Void(
        payment_id=payment.payment_id,
        event_id=event_id,
        reason=request.reason,
        voided_by=caller.email,
        voided_by_sub=caller.sub,
        timestamp=now,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        payment_method=payment.payment_method,
        patron_name=payment.patron_name,
    )
    earlier = table.put_void(void)
    if earlier is not None:
        raise Conflict(
            f"This payment was already voided by {earlier.voided_by}",
            {"payment_id": "already voided"},
        )
    return void


@dataclass(frozen=True)
class ClosedOut:
    closeout: Closeout
    created: bool  # False: an idempotent replay of an earlier request


def close_out(
    table: LedgerTable,
    event_id: str,
    request: CloseoutRequest,
    caller: Caller,
    now: datetime,
) -> ClosedOut:
    """Check the books: what the ledger recorded per method (net of voids) against what was
    counted, written as an immutable CLOSEOUT# record. A difference needs a note."""
    validators.require_event_id(event_id)
    counted = request.counted.cents()
    event = table.get_event(event_id)
    if event is None:
        raise EventNotFound(event_id)
    payments, voids = table.ledger(event_id)
    # Items logged after `now` (while this read ran) belong to the next close-out.
    included_payments = [p for p in payments if p.timestamp <= now]
    included_voids = [v for v in voids if v.timestamp <= now]
    recorded = summarize(included_payments, included_voids).by_method_cents
    closeout = Closeout(
        closeout_id=request.closeout_id or new_payment_id(),
        event_id=event_id,
        currency=event.currency,
        closed_by=caller.email,
        closed_by_sub=caller.sub,
        closed_at=now,
        counted_cents=counted,
        recorded_cents=dict(recorded),
        note=request.note or None,
        payment_count=len(included_payments),
        void_count=len(included_voids),
        request_fingerprint=_digest(
            {"event_id": event_id, "counted": counted, "note": request.note or None}
        ),
    )
    if any(closeout.difference_cents.values()) and not closeout.note:
        raise ValidationFailed.field(
            "note", "is required when what was counted differs from what was recorded"
        )
    existing = table.put_closeout(closeout)
    if existing is None:
        return ClosedOut(closeout, True)
    if existing.request_fingerprint != closeout.request_fingerprint:
        raise IdempotencyConflict(
            "This closeout_id was already used for a different close-out",
            {"closeout_id": "already used for a different close-out"},
        )
    return ClosedOut(existing, False)
