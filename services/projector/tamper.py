"""Ledger tampering as seen on the stream: the ledger is insert-only, so a MODIFY or REMOVE of
any of its items (a compromised role's UpdateItem or DeleteItem, a console edit) is never
legitimate. The projector reports each one with the item as it was (the stream carries old
images); template.yaml alarms on the count."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from shared.stream import sequence_number

TAMPER_EVENTS = frozenset({"MODIFY", "REMOVE"})
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class LedgerChange:
    """One change to a ledger item after it was written."""

    event_name: str  # MODIFY or REMOVE
    sequence_number: str
    keys: dict[str, Any]
    old_image: dict[str, Any] | None
    new_image: dict[str, Any] | None
    changed_by: str | None  # the stream's userIdentity (only AWS services are named there)

    def log_fields(self) -> dict[str, Any]:
        return {
            "change": self.event_name,
            "sequence_number": self.sequence_number,
            "keys": self.keys,
            "old_image": self.old_image,
            "new_image": self.new_image,
            "changed_by": self.changed_by,
        }


def ledger_change(record: Mapping[str, Any]) -> LedgerChange | None:
    """The change a stream record reports, or None for an insert (the ledger's normal write)."""
    event_name = str(record.get("eventName", ""))
    if event_name not in TAMPER_EVENTS:
        return None
    body = record.get("dynamodb") or {}
    identity = record.get("userIdentity") or {}
    return LedgerChange(
        event_name=event_name,
        sequence_number=sequence_number(record),
        keys=_plain(body.get("Keys")) or {},
        old_image=_plain(body.get("OldImage")),
        new_image=_plain(body.get("NewImage")),
        changed_by=identity.get("principalId") if isinstance(identity, Mapping) else None,
    )


def _plain(image: Any) -> dict[str, Any] | None:
    """A DynamoDB-JSON image as log-friendly values (numbers as int or exact decimal text)."""
    if not isinstance(image, Mapping):
        return None
    try:
        data = {str(k): _deserializer.deserialize(v) for k, v in image.items()}
    except (TypeError, ValueError, AttributeError):
        return {"unreadable": str(dict(image))[:2000]}
    return {k: _loggable(v) for k, v in data.items()}


def _loggable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, Mapping):
        return {str(k): _loggable(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_loggable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return value
