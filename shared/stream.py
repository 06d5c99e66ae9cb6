"""DynamoDB Stream records -> ledger entries, for every stream consumer.

Consumers see only INSERTs of PAYMENT#/VOID#/CLOSEOUT# items (FilterCriteria in template.yaml); this module
checks again in code, so a record that slips through (a MODIFY, a SUMMARY write, a foreign
table's record) is ignored rather than misapplied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer

from shared import keys
from shared.models import Closeout, Payment, Void
from shared.repository import closeout_from_item, payment_from_item, void_from_item

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger insert as seen on the stream."""

    sequence_number: str
    kind: Literal["payment", "void", "closeout"]
    event_id: str
    payment_id: str  # for a close-out: its closeout_id
    sort_key: str  # PAYMENT#/VOID#/CLOSEOUT#<id>: unique per ledger item, the idempotency key
    payment: Payment | None = None
    void: Void | None = None
    closeout: Closeout | None = None

    @property
    def amount_cents(self) -> int:
        if self.payment is not None:
            return self.payment.amount_cents
        if self.void is not None:
            return self.void.amount_cents
        return 0


class MalformedRecord(ValueError):
    """A ledger insert whose image cannot be read: a poison record."""


def sequence_number(record: Mapping[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def parse_record(record: Mapping[str, Any]) -> LedgerEntry | None:
    """The ledger entry a raw Lambda stream record carries, or None when it is not one."""
    if record.get("eventName") != "INSERT":
        return None
    body = record.get("dynamodb") or {}
    sort_key = ((body.get("Keys") or {}).get("sk") or {}).get("S", "")
    partition = ((body.get("Keys") or {}).get("pk") or {}).get("S", "")
    if not isinstance(sort_key, str) or not isinstance(partition, str):
        return None
    if not partition.startswith(keys.EVENT_PREFIX):
        return None
    if sort_key.startswith(keys.PAYMENT_PREFIX):
        kind: Literal["payment", "void", "closeout"] = "payment"
    elif sort_key.startswith(keys.VOID_PREFIX):
        kind = "void"
    elif sort_key.startswith(keys.CLOSEOUT_PREFIX):
        kind = "closeout"
    else:
        return None
    image = body.get("NewImage")
    if not isinstance(image, Mapping):
        raise MalformedRecord(f"{sort_key}: the stream record has no NewImage")
    try:
        data = {k: _deserializer.deserialize(v) for k, v in image.items()}
        if kind == "payment":
            payment = payment_from_item(data)
            return LedgerEntry(
                sequence_number(record),
                kind,
                payment.event_id,
                payment.payment_id,
                sort_key,
                payment=payment,
            )
        if kind == "closeout":
            closeout = closeout_from_item(data)
            return LedgerEntry(
                sequence_number(record),
                kind,
                closeout.event_id,
                closeout.closeout_id,
                sort_key,
                closeout=closeout,
            )
        void = void_from_item(data)
        return LedgerEntry(
            sequence_number(record), kind, void.event_id, void.payment_id, sort_key, void=void
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedRecord(f"{sort_key}: unreadable image ({exc.__class__.__name__})") from exc
