"""DynamoDB adapter for the projection table: exactly-once summary deltas with applied markers.

For each event, one TransactWriteItems carries a conditional ``APPLIED#<ledger sk>`` marker per
record plus one summary update with the summed delta (at most 99 markers + 1 update: the
100-item transaction limit). A marker that already exists means "already applied": the record is
dropped and the rest resubmitted. Redelivering any batch, in any order, any number of times,
therefore changes nothing. There is no sequence-number watermark (unsafe across shard splits).

``last_payment_at`` is a maximum, not a sum, so it needs no marker: it is raised (a conditional
SET that only moves forward) for every payment of every batch, already applied or not, so a
crash between the transaction and that update is healed by the redelivery.

The ledger lives in another table; this module never writes it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from shared import keys
from shared.models import PAYMENT_METHODS, Closeout, CloseoutStatus, Payment, Summary, Void
from shared.projection import summarize
from shared.repository import (
    from_ddb,
    summary_from_item,
    to_ddb,
)
from shared.stream import LedgerEntry
from shared.timeutil import iso_z

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

MAX_MARKERS_PER_TRANSACTION = 99
# Markers outlive the stream's 24 h retention by far: no redelivery can arrive after they expire.
MARKER_TTL = timedelta(days=30)
_RETRYABLE = frozenset(
    {
        "TransactionConflict",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)


class ProjectionRetryExhausted(RuntimeError):
    """Conflicts or throttling outlasted the bounded retries; the records must be redelivered."""


def applied_sk(ledger_sort_key: str) -> str:
    return f"{keys.APPLIED_PREFIX}{ledger_sort_key}"


def _method_attr(method: str) -> str:
    # The attribute names summary_from_item reads.
    return f"method_{method}_cents"


@dataclass(frozen=True)
class ApplyResult:
    applied: int  # records whose delta this call added
    already_applied: int  # records dropped because their marker existed
    transactions: int


@dataclass(frozen=True)
class ProjectionState:
    """What the projection table holds for one event."""

    markers: set[str]  # ledger sort keys that carry an APPLIED# marker
    summary: Summary
    version: int | None  # None: no SUMMARY item yet


@dataclass(frozen=True)
class LedgerSnapshot:
    """One event's ledger and its projection, as reconcile compares and repairs them."""

    payments: list[Payment]
    voids: list[Void]
    closeouts: list[Closeout]
    projection: ProjectionState

    @property
    def markers(self) -> set[str]:
        return self.projection.markers

    @property
    def summary(self) -> Summary:
        return self.projection.summary

    @property
    def version(self) -> int | None:
        return self.projection.version


class ProjectionStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._max_attempts = max_attempts
        self._sleep = sleep

    # --- projector ------------------------------------------------------------------------

    def apply(self, event_id: str, entries: Sequence[LedgerEntry], now: datetime) -> ApplyResult:
        """Apply each entry's delta to the event's summary exactly once. A close-out adds no
        money; it becomes the summary's current close-out unless a newer one already is."""
        pending = list({entry.sort_key: entry for entry in entries}.values())
        applied = skipped = transactions = 0
        attempts = 0
        stale_closeouts = False  # set once the summary holds a newer close-out than the batch's
        while pending:
            chunk = pending[:MAX_MARKERS_PER_TRANSACTION]
            try:
                transactions += 1
                self._transact(event_id, chunk, now, with_closeout=not stale_closeouts)
            except ClientError as error:
                duplicates = _already_applied(error, len(chunk))
                if duplicates:
                    skipped += len(duplicates)
                    chunk_rest = [e for i, e in enumerate(chunk) if i not in duplicates]
                    pending = chunk_rest + pending[len(chunk) :]
                    continue
                if _summary_condition_failed(error, len(chunk)):
                    # Only the close-out condition guards the summary update: an older
                    # close-out arrived after a newer one. Apply the rest without it.
                    stale_closeouts = True
                    continue
                if not _is_retryable(error):
                    raise
                attempts += 1
                if attempts >= self._max_attempts:
                    raise ProjectionRetryExhausted(
                        f"{event_id}: {len(pending)} records not applied after {attempts} attempts"
                    ) from error
                # Full jitter keeps concurrent projector invocations from colliding again.
                self._sleep(random.uniform(0, min(2.0, 0.05 * 2**attempts)))  # noqa: S311
                continue
            applied += len(chunk)
            pending = pending[len(chunk) :]
            stale_closeouts = False
        self._raise_last_payment_at(event_id, entries)
        return ApplyResult(applied=applied, already_applied=skipped, transactions=transactions)

    def _transact(
        self,
        event_id: str,
        chunk: Sequence[LedgerEntry],
        now: datetime,
        *,
        with_closeout: bool = True,
    ) -> None:
        pk = keys.event_pk(event_id)
        expires = int((now + MARKER_TTL).timestamp())
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_ddb(
                        {
                            "pk": pk,
                            "sk": applied_sk(entry.sort_key),
                            "type": "APPLIED",
                            "sequence_number": entry.sequence_number,
                            "expires_at": expires,
                        }
                    ),
                    # CancellationReasons then name the markers that existed.
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for entry in chunk
        ]
        delta = summarize(
            (e.payment for e in chunk if e.payment is not None),
            (e.void for e in chunk if e.void is not None),
        )
        closeouts = [e.closeout for e in chunk if e.closeout is not None]
        newest = newest_closeout(closeouts) if with_closeout else None
        items.append({"Update": self._summary_update(event_id, delta, newest)})
        self._client.transact_write_items(TransactItems=cast(Any, items))

    def _summary_update(
        self, event_id: str, delta: Summary, closeout: Closeout | None = None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":pc": delta.payment_count,
            ":vc": delta.void_count,
            ":g": delta.gross_cents,
            ":v": delta.voided_cents,
            ":one": 1,
            ":eid": event_id,
            ":type": "SUMMARY",
        }
        adds = [
            "payment_count :pc",
            "void_count :vc",
            "gross_cents :g",
            "voided_cents :v",
            "version :one",
        ]
        for index, method in enumerate(PAYMENT_METHODS):
            values[f":m{index}"] = delta.by_method_cents.get(method, 0)
            adds.append(f"{_method_attr(method)} :m{index}")
        sets = ["event_id = :eid", "#t = :type"]
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_ddb({"pk": keys.event_pk(event_id), "sk": keys.SUMMARY_SK}),
            "ExpressionAttributeNames": {"#t": "type"},
        }
        if closeout is not None:
            status = CloseoutStatus.of(closeout)
            values.update(
                {
                    ":cid": status.closeout_id,
                    ":cby": status.closed_by,
                    ":cat": status.closed_at,
                    ":cos": status.over_short_cents,
                }
            )
            sets += [
                "closeout_id = :cid",
                "closeout_by = :cby",
                "closeout_at = :cat",
                "closeout_over_short_cents = :cos",
            ]
            # The newest close-out is current: never replace it with an older one.
            update["ConditionExpression"] = (
                "attribute_not_exists(closeout_at) OR closeout_at < :cat"
            )
        update["UpdateExpression"] = "ADD " + ", ".join(adds) + " SET " + ", ".join(sets)
        update["ExpressionAttributeValues"] = to_ddb(values)
        return update

    def _raise_last_payment_at(self, event_id: str, entries: Sequence[LedgerEntry]) -> None:
        """A max, not a sum: a conditional SET that only moves forward, so it is idempotent too.
        Called for every entry of the batch, the already applied ones included."""
        latest_at = summarize(
            (e.payment for e in entries if e.payment is not None), ()
        ).last_payment_at
        if latest_at is None:
            return
        latest = iso_z(latest_at)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_ddb({"pk": keys.event_pk(event_id), "sk": keys.SUMMARY_SK}),
                UpdateExpression="SET last_payment_at = :t",
                ConditionExpression="attribute_not_exists(last_payment_at) OR last_payment_at < :t",
                ExpressionAttributeValues={":t": {"S": latest}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # --- reconcile ------------------------------------------------------------------------

    def projection(self, event_id: str) -> ProjectionState:
        """The event's markers and summary (strongly consistent)."""
        markers: set[str] = set()
        summary_item: dict[str, Any] | None = None
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.event_pk(event_id)}},
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**kwargs)
            for raw in response.get("Items", []):
                item = from_ddb(raw)
                sort_key = str(item["sk"])
                if sort_key.startswith(keys.APPLIED_PREFIX):
                    markers.add(sort_key.removeprefix(keys.APPLIED_PREFIX))
                elif sort_key == keys.SUMMARY_SK:
                    summary_item = item
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        if summary_item is None:
            return ProjectionState(markers, Summary(), None)
        return ProjectionState(
            markers, summary_from_item(summary_item), int(summary_item.get("version", 0))
        )

    def repair(self, event_id: str, snapshot: LedgerSnapshot, now: datetime) -> None:
        """Set the summary to the ledger's sums and mark every ledger item applied, guarded by
        the summary version read in ``snapshot``: if the projector moved in between, this
        raises and the caller re-reads and tries again. Marking the items first means a record
        still travelling on the stream is dropped by the projector instead of counted twice."""
        pk = keys.event_pk(event_id)
        expected = summarize(snapshot.payments, snapshot.voids)
        version_check = self._version_check(event_id, snapshot.version)
        sort_keys = (
            [keys.payment_sk(p.payment_id) for p in snapshot.payments]
            + [keys.void_sk(v.payment_id) for v in snapshot.voids]
            + [keys.closeout_sk(c.closeout_id) for c in snapshot.closeouts]
        )
        missing = [sk for sk in sort_keys if sk not in snapshot.markers]
        expires = int((now + MARKER_TTL).timestamp())
        for start in range(0, len(missing), MAX_MARKERS_PER_TRANSACTION):
            puts: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_ddb(
                            {
                                "pk": pk,
                                "sk": applied_sk(sk),
                                "type": "APPLIED",
                                "sequence_number": "reconcile",
                                "expires_at": expires,
                            }
                        ),
                    }
                }
                for sk in missing[start : start + MAX_MARKERS_PER_TRANSACTION]
            ]
            self._client.transact_write_items(TransactItems=cast(Any, [*puts, version_check]))
        item: dict[str, Any] = {
            "pk": pk,
            "sk": keys.SUMMARY_SK,
            "type": "SUMMARY",
            "event_id": event_id,
            "payment_count": expected.payment_count,
            "void_count": expected.void_count,
            "gross_cents": expected.gross_cents,
            "voided_cents": expected.voided_cents,
            "version": (snapshot.version or 0) + 1,
            "last_payment_at": None
            if expected.last_payment_at is None
            else iso_z(expected.last_payment_at),
        }
        for method in PAYMENT_METHODS:
            item[_method_attr(method)] = expected.by_method_cents.get(method, 0)
        current = newest_closeout(snapshot.closeouts)
        if current is not None:
            status = CloseoutStatus.of(current)
            item.update(
                closeout_id=status.closeout_id,
                closeout_by=status.closed_by,
                closeout_at=status.closed_at,
                closeout_over_short_cents=status.over_short_cents,
            )
        condition = version_check["ConditionCheck"]
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_ddb(item),
            "ConditionExpression": condition["ConditionExpression"],
        }
        if "ExpressionAttributeValues" in condition:
            put["ExpressionAttributeValues"] = condition["ExpressionAttributeValues"]
        self._client.put_item(**put)

    def _version_check(self, event_id: str, version: int | None) -> dict[str, Any]:
        check: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_ddb({"pk": keys.event_pk(event_id), "sk": keys.SUMMARY_SK}),
        }
        if version is None:
            check["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            check["ConditionExpression"] = "version = :v"
            check["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
        return {"ConditionCheck": check}


def _reasons(error: ClientError) -> list[dict[str, Any]]:
    reasons: Any = error.response.get("CancellationReasons")
    return list(reasons) if isinstance(reasons, list) else []


def _already_applied(error: ClientError, chunk_size: int) -> set[int]:
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return set()
    return {
        index
        for index, reason in enumerate(_reasons(error)[:chunk_size])
        if reason.get("Code") == "ConditionalCheckFailed"
    }


def newest_closeout(closeouts: Sequence[Closeout]) -> Closeout | None:
    return max(closeouts, key=lambda c: c.closed_at) if closeouts else None


def _summary_condition_failed(error: ClientError, chunk_size: int) -> bool:
    """The summary update (after the chunk's markers) failed its close-out condition."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = _reasons(error)
    return len(reasons) > chunk_size and reasons[chunk_size].get("Code") == "ConditionalCheckFailed"


def _is_retryable(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    if code in _RETRYABLE:
        return True
    if code == "TransactionCanceledException":
        return any(r.get("Code") in _RETRYABLE for r in _reasons(error))
    return False


def group_by_event(entries: Iterable[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    groups: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.event_id, []).append(entry)
    return groups
