"""DynamoDB adapters for the API functions: the ledger table and the summaries they show.

Ledger items (events, payments, voids, close-outs) are written with a conditional PutItem that
can never overwrite; nothing here updates or deletes them. Summaries live in the projection
table, which only the projector writes (services/projector/store.py); here they are only read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from shared import keys
from shared.clients import DynamoTable
from shared.errors import EventAlreadyExists, ValidationFailed
from shared.models import (
    PAYMENT_METHODS,
    Closeout,
    CloseoutStatus,
    Event,
    Payment,
    Summary,
    Void,
    decimal_to_int,
)
from shared.timeutil import iso_z, parse_iso_z

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_NOT_EXISTS = "attribute_not_exists(pk)"


def to_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def from_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Page:
    payments: list[Payment]
    voids: dict[str, Void]
    next_cursor: str | None


@dataclass(frozen=True)
class PaymentFilter:
    """Which payments a page holds: by method, by the UTC calendar day of `received_at`
    (inclusive bounds), and by a case-insensitive substring of the patron's name."""

    method: str | None = None
    received_from: date | None = None
    received_to: date | None = None
    patron_contains: str | None = None  # already casefolded

    @property
    def is_empty(self) -> bool:
        return (
            self.method is None
            and self.received_from is None
            and self.received_to is None
            and not self.patron_contains
        )

    def expression(self) -> tuple[str, dict[str, str], dict[str, Any]] | None:
        """The DynamoDB FilterExpression for method and dates (names, values), or None.

        `received_at` is stored as 2026-05-23T18:30:00.000Z, so plain string comparison with
        "YYYY-MM-DD" bounds is date comparison: from <= received_at < the day after `to`.
        """
        clauses: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if self.method is not None:
            clauses.append("#method = :method")
            names["#method"] = "payment_method"
            values[":method"] = {"S": self.method}
        if self.received_from is not None:
            clauses.append("#received >= :from")
            names["#received"] = "received_at"
            values[":from"] = {"S": self.received_from.isoformat()}
        if self.received_to is not None:
            clauses.append("#received < :until")
            names["#received"] = "received_at"
            values[":until"] = {"S": (self.received_to + timedelta(days=1)).isoformat()}
        if not clauses:
            return None
        return " AND ".join(clauses), names, values

    def matches_name(self, payment: Payment) -> bool:
        # DynamoDB's contains() is case-sensitive, so the name search runs here.
        return not self.patron_contains or self.patron_contains in payment.patron_name.casefold()


# A filtered page reads at most this many DynamoDB pages before it answers with what it found
# (possibly fewer than `limit` payments) and a cursor to carry on from.
MAX_FILTERED_READS = 10


class LedgerTable(DynamoTable):
    """Typed access to the ledger table; construct once per cold start and pass it to the logic."""

    # --- events ---------------------------------------------------------------------------

    def put_event(self, event: Event) -> None:
        item = {
            "pk": keys.event_pk(event.event_id),
            "sk": keys.META_SK,
            "type": "EVENT",
            "gsi1pk": keys.EVENTS_GSI_PK,
            "gsi1sk": keys.events_gsi_sk(event.date.isoformat(), event.event_id),
            "event_id": event.event_id,
            "event_name": event.event_name,
            "date": event.date.isoformat(),
            "location": event.location,
            "currency": event.currency,
            "expected_total_cents": event.expected_total_cents,
            "created_at": iso_z(event.created_at),
            "created_by": event.created_by,
            "created_by_sub": event.created_by_sub,
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=to_ddb(item), ConditionExpression=_NOT_EXISTS
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                raise EventAlreadyExists(
                    f"An event named like this already exists on {event.date.isoformat()}",
                    {"event_name": "an event with this name already exists on that date"},
                ) from None
            raise

    def get_event(self, event_id: str) -> Event | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_ddb({"pk": keys.event_pk(event_id), "sk": keys.META_SK}),
        )
        item = response.get("Item")
        return None if item is None else _event(from_ddb(item))

    def list_events(self) -> list[Event]:
        events: list[Event] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.EVENTS_GSI,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.EVENTS_GSI_PK}},
        }
        while True:
            response = self._client.query(**kwargs)
            events.extend(_event(from_ddb(item)) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return events
            kwargs["ExclusiveStartKey"] = last

    # --- payments -------------------------------------------------------------------------

    def _put_once(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Write an immutable item that must not exist yet; if it does, return the stored one.

        One conditional write either way: DynamoDB returns the existing item with the condition
        failure, so a replay costs one failed write and no read.
        """
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_ddb(item),
                ConditionExpression=_NOT_EXISTS,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            old: Any = error.response.get("Item")
            if not isinstance(old, dict):  # an endpoint without ALL_OLD support: read it
                old = self._client.get_item(
                    TableName=self._table,
                    Key=to_ddb({"pk": item["pk"], "sk": item["sk"]}),
                    ConsistentRead=True,
                ).get("Item")
                if old is None:
                    raise
            return from_ddb(old)
        return None

    def put_payment(self, payment: Payment) -> Payment | None:
        """Write a new payment; if its id already exists return the stored one instead."""
        stored = self._put_once(payment_item(payment))
        return None if stored is None else payment_from_item(stored)

    def get_payment(self, event_id: str, payment_id: str) -> Payment | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_ddb({"pk": keys.event_pk(event_id), "sk": keys.payment_sk(payment_id)}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else payment_from_item(from_ddb(item))

    def put_void(self, void: Void) -> Void | None:
        """Write the void; if the payment was already voided return that earlier void."""
        stored = self._put_once(void_item(void))
        return None if stored is None else void_from_item(stored)

    def put_closeout(self, closeout: Closeout) -> Closeout | None:
        """Write the close-out; if its id already exists return the stored one instead."""
        stored = self._put_once(closeout_item(closeout))
        return None if stored is None else closeout_from_item(stored)

    def closeouts(self, event_id: str) -> list[Closeout]:
        """Every close-out of the event, newest first (ids are UUIDv7: time-ordered)."""
        return [
            closeout_from_item(item)
            for item in self._partition(event_id, keys.CLOSEOUT_PREFIX, newest_first=True)
        ]

    def ledger(self, event_id: str) -> tuple[list[Payment], list[Void]]:
        """Every payment and void of the event, read strongly consistent (close-out sums)."""
        payments = [payment_from_item(i) for i in self._partition(event_id, keys.PAYMENT_PREFIX)]
        voids = [void_from_item(i) for i in self._partition(event_id, keys.VOID_PREFIX)]
        return payments, voids

    def _partition(
        self, event_id: str, prefix: str, *, newest_first: bool = False
    ) -> Iterable[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_ddb(
                {":pk": keys.event_pk(event_id), ":prefix": prefix}
            ),
            "ConsistentRead": True,
            "ScanIndexForward": not newest_first,
        }
        while True:
            response = self._client.query(**kwargs)
            yield from (from_ddb(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def payment_page(
        self,
        event_id: str,
        *,
        limit: int,
        cursor: str | None,
        filters: PaymentFilter | None = None,
    ) -> Page:
        """One chronological page of an event's payments (sk order is time order: UUIDv7).

        Unfiltered, a page is one Query of `limit` items. Filtered, DynamoDB applies `Limit`
        before the FilterExpression, so this reads on (at most MAX_FILTERED_READS queries)
        until it has `limit` matches or the partition ends. A filtered page may therefore hold
        fewer than `limit` payments while `next_cursor` is still set: keep following the cursor
        until it is null. The cursor always points just after the last payment examined, so
        no payment is skipped or repeated.
        """
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.event_pk(event_id)},
                ":prefix": {"S": keys.PAYMENT_PREFIX},
            },
            "Limit": limit,
        }
        active = filters if filters is not None and not filters.is_empty else None
        expression = active.expression() if active is not None else None
        if expression is not None:
            kwargs["FilterExpression"] = expression[0]
            kwargs["ExpressionAttributeNames"] = expression[1]
            kwargs["ExpressionAttributeValues"].update(expression[2])
        start_key = None if cursor is None else decode_cursor(cursor, event_id)
        payments: list[Payment] = []
        next_cursor: str | None = None
        for read in range(1, MAX_FILTERED_READS + 1):
            if start_key is not None:
                kwargs["ExclusiveStartKey"] = start_key
            response = self._client.query(**kwargs)
            found = [payment_from_item(from_ddb(item)) for item in response.get("Items", [])]
            if active is not None:
                found = [p for p in found if active.matches_name(p)]
            room = limit - len(payments)
            if len(found) > room:
                payments.extend(found[:room])
                next_cursor = encode_cursor({"sk": keys.payment_sk(payments[-1].payment_id)})
                break
            payments.extend(found)
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                break
            if active is None or len(payments) == limit or read == MAX_FILTERED_READS:
                next_cursor = encode_cursor(from_ddb(start_key))
                break
        return Page(
            payments=payments,
            voids=self.voids_for(event_id, (p.payment_id for p in payments)),
            next_cursor=next_cursor,
        )

    def voids_for(self, event_id: str, payment_ids: Iterable[str]) -> dict[str, Void]:
        wanted = list(payment_ids)
        if not wanted:
            return {}
        found: dict[str, Void] = {}
        for start in range(0, len(wanted), 100):  # BatchGetItem takes at most 100 keys
            keys_chunk = [
                to_ddb({"pk": keys.event_pk(event_id), "sk": keys.void_sk(pid)})
                for pid in wanted[start : start + 100]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys_chunk}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    void = void_from_item(from_ddb(item))
                    found[void.payment_id] = void
                request = dict(response.get("UnprocessedKeys") or {})
        return found


class SummaryTable(DynamoTable):
    """The per-event summaries in the projection table, read-only (the projector writes them)."""

    def get(self, event_id: str) -> Summary:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_ddb({"pk": keys.event_pk(event_id), "sk": keys.SUMMARY_SK}),
        )
        item = response.get("Item")
        return Summary() if item is None else summary_from_item(from_ddb(item))

    def many(self, event_ids: Iterable[str]) -> dict[str, Summary]:
        ids = list(dict.fromkeys(event_ids))
        result = {event_id: Summary() for event_id in ids}
        for start in range(0, len(ids), 100):
            chunk = [
                to_ddb({"pk": keys.event_pk(eid), "sk": keys.SUMMARY_SK})
                for eid in ids[start : start + 100]
            ]
            request: dict[str, Any] = {self._table: {"Keys": chunk}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    data = from_ddb(item)
                    result[str(data["pk"]).removeprefix(keys.EVENT_PREFIX)] = summary_from_item(
                        data
                    )
                request = dict(response.get("UnprocessedKeys") or {})
        return result


# --- item <-> model -------------------------------------------------------------------------


def payment_item(payment: Payment) -> dict[str, Any]:
    return {
        "pk": keys.event_pk(payment.event_id),
        "sk": keys.payment_sk(payment.payment_id),
        "type": "PAYMENT",
        "payment_id": payment.payment_id,
        "event_id": payment.event_id,
        "patron_name": payment.patron_name,
        "amount_cents": payment.amount_cents,
        "currency": payment.currency,
        "payment_method": payment.payment_method,
        "notes": payment.notes,
        "reference": payment.reference,
        "received_at": iso_z(payment.received_at),
        "logged_by": payment.logged_by,
        "logged_by_sub": payment.logged_by_sub,
        "timestamp": iso_z(payment.timestamp),
        "patron_email": payment.patron_email,
        "request_fingerprint": payment.request_fingerprint,
    }


def _event(data: dict[str, Any]) -> Event:
    expected = data.get("expected_total_cents")
    return Event(
        event_id=data["event_id"],
        event_name=data["event_name"],
        date=data["date"],
        location=data.get("location"),
        currency=data["currency"],
        expected_total_cents=None if expected is None else decimal_to_int(expected),
        created_at=parse_iso_z(data["created_at"]),
        created_by=data["created_by"],
        created_by_sub=data.get("created_by_sub"),
    )


def payment_from_item(data: dict[str, Any]) -> Payment:
    # Item attributes are the model's fields; pydantic parses the ISO times and refuses a
    # fractional amount_cents (Decimal("150.5") is not an int).
    return Payment.model_validate(data)


def void_from_item(data: dict[str, Any]) -> Void:
    return Void.model_validate(data)


def void_item(void: Void) -> dict[str, Any]:
    return {
        "pk": keys.event_pk(void.event_id),
        "sk": keys.void_sk(void.payment_id),
        "type": "VOID",
        "payment_id": void.payment_id,
        "event_id": void.event_id,
        "reason": void.reason,
        "voided_by": void.voided_by,
        "voided_by_sub": void.voided_by_sub,
        "timestamp": iso_z(void.timestamp),
        "amount_cents": void.amount_cents,
        "currency": void.currency,
        "payment_method": void.payment_method,
        "patron_name": void.patron_name,
    }


def closeout_item(closeout: Closeout) -> dict[str, Any]:
    return {
        "pk": keys.event_pk(closeout.event_id),
        "sk": keys.closeout_sk(closeout.closeout_id),
        "type": "CLOSEOUT",
        "closeout_id": closeout.closeout_id,
        "event_id": closeout.event_id,
        "currency": closeout.currency,
        "closed_by": closeout.closed_by,
        "closed_by_sub": closeout.closed_by_sub,
        "closed_at": iso_z(closeout.closed_at),
        "counted_cents": dict(closeout.counted_cents),
        "recorded_cents": dict(closeout.recorded_cents),
        "note": closeout.note,
        "payment_count": closeout.payment_count,
        "void_count": closeout.void_count,
        "request_fingerprint": closeout.request_fingerprint,
    }


def closeout_from_item(data: dict[str, Any]) -> Closeout:
    return Closeout.model_validate(data)


def summary_from_item(data: dict[str, Any]) -> Summary:
    """SUMMARY items keep per-method totals as flat attributes (method_cash_cents, ...):
    DynamoDB can ADD to a top-level number atomically, not to a key of a missing map."""
    last = data.get("last_payment_at")
    return Summary(
        payment_count=decimal_to_int(data.get("payment_count", 0)),
        void_count=decimal_to_int(data.get("void_count", 0)),
        gross_cents=decimal_to_int(data.get("gross_cents", 0)),
        voided_cents=decimal_to_int(data.get("voided_cents", 0)),
        by_method_cents={
            method: decimal_to_int(data.get(f"method_{method}_cents", 0))
            for method in PAYMENT_METHODS
        },
        last_payment_at=None if not last else parse_iso_z(str(last)),
        closeout=None
        if not data.get("closeout_id")
        else CloseoutStatus(
            closeout_id=str(data["closeout_id"]),
            closed_by=str(data.get("closeout_by", "")),
            closed_at=str(data.get("closeout_at", "")),
            over_short_cents=decimal_to_int(data.get("closeout_over_short_cents", 0)),
        ),
    )


# --- cursors --------------------------------------------------------------------------------


def encode_cursor(last_key: Mapping[str, Any]) -> str:
    raw = json.dumps({"sk": str(last_key["sk"])}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, event_id: str) -> dict[str, Any]:
    """Opaque to clients; checked here so a forged cursor cannot read another partition."""
    invalid = ValidationFailed.field("cursor", "is not a cursor this API returned")
    if len(cursor) > 200:
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(data, dict) or set(data) != {"sk"}:
        raise invalid
    sort_key = data["sk"]
    if not isinstance(sort_key, str) or not sort_key.startswith(keys.PAYMENT_PREFIX):
        raise invalid
    return to_ddb({"pk": keys.event_pk(event_id), "sk": sort_key})


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())
