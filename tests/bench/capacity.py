"""Capacity units of the DynamoDB requests a client sends, counted from the real payloads.

A botocore event hook sees every request's parameters before they are sent and the parsed
answer after it; an unhooked "observer" client on the same endpoint reads the items a write
touches just before and just after it (consistently), so that a write is charged for the larger
of the item's two sizes, as DynamoDB charges it. The rules themselves are in item_size.py.

What is charged (DynamoDB on-demand):

* PutItem, UpdateItem, DeleteItem: write units of the larger of the item before and after; a
  failed condition is charged the same; an item carrying a global secondary index's keys adds
  one index write of the projected item (ALL here);
* BatchWriteItem: each put or delete on its own;
* TransactWriteItems: each action twice (a ConditionCheck too);
* GetItem, BatchGetItem (per key), Query and Scan (per request, the items the request reads
  before any filter): read units, halved unless ConsistentRead.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.bench.item_size import item_size, read_units, write_units

Item = dict[str, Any]


@dataclass(frozen=True)
class TableShape:
    key_names: tuple[str, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...]  # (index name, its key attributes)

    def key_of(self, item: Mapping[str, Any]) -> Item:
        return {name: item[name] for name in self.key_names}


@dataclass
class Usage:
    """What the requests since the last `take()` consumed."""

    wcu: float = 0.0
    rcu: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    by_table: dict[str, dict[str, float]] = field(default_factory=dict)
    failed_conditions: int = 0

    def charge(self, table: str, *, wcu: float = 0.0, rcu: float = 0.0) -> None:
        self.wcu += wcu
        self.rcu += rcu
        entry = self.by_table.setdefault(table, {"wcu": 0.0, "rcu": 0.0})
        entry["wcu"] += wcu
        entry["rcu"] += rcu

    def as_dict(self) -> dict[str, Any]:
        return {
            "wcu": self.wcu,
            "rcu": self.rcu,
            "requests": dict(self.requests),
            "by_table": {name: dict(values) for name, values in sorted(self.by_table.items())},
            "failed_conditions": self.failed_conditions,
        }


class CapacityMeter:
    """Counts the capacity units of every DynamoDB request `client` sends (attach once)."""

    def __init__(self, client: Any) -> None:
        self._observer = boto3.client(
            "dynamodb",
            region_name=client.meta.region_name,
            endpoint_url=client.meta.endpoint_url,
        )
        self._shapes: dict[str, TableShape] = {}
        self.usage = Usage()
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def take(self) -> Usage:
        """The usage since the last call, and start counting afresh."""
        usage, self.usage = self.usage, Usage()
        return usage

    # --- hooks ---------------------------------------------------------------------------

    def _before(
        self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        request = copy.deepcopy(dict(params))
        context["bench_capacity"] = (request, self._items_before(model.name, request))

    def _after(
        self, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        stashed = context.pop("bench_capacity", None)
        if stashed is None:
            return
        request, before = stashed
        operation = model.name
        self.usage.requests[operation] += 1
        error = (parsed.get("Error") or {}).get("Code")
        if error == "ConditionalCheckFailedException":
            self.usage.failed_conditions += 1
        charge = _CHARGES.get(operation)
        if charge is not None and error not in _UNCHARGED_ERRORS:
            charge(self, request, parsed, before, error)

    # --- reading what a write touches ----------------------------------------------------

    def shape(self, table: str) -> TableShape:
        if table not in self._shapes:
            description = self._observer.describe_table(TableName=table)["Table"]
            keys = tuple(k["AttributeName"] for k in description["KeySchema"])
            indexes = tuple(
                (index["IndexName"], tuple(k["AttributeName"] for k in index["KeySchema"]))
                for index in description.get("GlobalSecondaryIndexes") or []
            )
            self._shapes[table] = TableShape(keys, indexes)
        return self._shapes[table]

    def _get(self, table: str, key: Mapping[str, Any]) -> Item | None:
        item = self._observer.get_item(TableName=table, Key=dict(key), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else dict(item)

    def _items_before(self, operation: str, request: Mapping[str, Any]) -> list[Item | None]:
        if operation == "PutItem":
            table = request["TableName"]
            return [self._get(table, self.shape(table).key_of(request["Item"]))]
        if operation in ("UpdateItem", "DeleteItem"):
            return [self._get(request["TableName"], request["Key"])]
        if operation == "BatchWriteItem":
            found: list[Item | None] = []
            for table, writes in request["RequestItems"].items():
                for write in writes:
                    if "PutRequest" in write:
                        key = self.shape(table).key_of(write["PutRequest"]["Item"])
                    else:
                        key = write["DeleteRequest"]["Key"]
                    found.append(self._get(table, key))
            return found
        if operation == "TransactWriteItems":
            return [
                self._get(*_transact_target(self, action)) for action in request["TransactItems"]
            ]
        return []

    # --- charges -------------------------------------------------------------------------

    def _charge_index_writes(self, table: str, old: Item | None, new: Item | None) -> None:
        for _name, index_keys in self.shape(table).indexes:
            in_old = old is not None and all(k in old for k in index_keys)
            in_new = new is not None and all(k in new for k in index_keys)
            if not (in_old or in_new):
                continue
            moved = in_old and in_new and any(old[k] != new[k] for k in index_keys)  # type: ignore[index]
            units = write_units(max(item_size(old), item_size(new)))
            self.usage.charge(f"{table}/index", wcu=units * (2 if moved else 1))

    def _put(self, request: Any, parsed: Any, before: list[Item | None], error: str | None) -> None:
        table, new, old = request["TableName"], request["Item"], before[0]
        self.usage.charge(table, wcu=write_units(max(item_size(old), item_size(new))))
        if error is None:
            self._charge_index_writes(table, old, new)

    def _update(
        self, request: Any, parsed: Any, before: list[Item | None], error: str | None
    ) -> None:
        table, old = request["TableName"], before[0]
        new = old if error is not None else self._get(table, request["Key"])
        self.usage.charge(table, wcu=write_units(max(item_size(old), item_size(new))))
        if error is None:
            self._charge_index_writes(table, old, new)

    def _delete(
        self, request: Any, parsed: Any, before: list[Item | None], error: str | None
    ) -> None:
        table, old = request["TableName"], before[0]
        self.usage.charge(table, wcu=write_units(item_size(old)))
        if error is None:
            self._charge_index_writes(table, old, None)

    def _batch_write(
        self, request: Any, parsed: Any, before: list[Item | None], error: str | None
    ) -> None:
        unprocessed = parsed.get("UnprocessedItems") or {}
        olds = iter(before)
        for table, writes in request["RequestItems"].items():
            skipped = unprocessed.get(table) or []
            for write in writes:
                old = next(olds)
                if write in skipped:
                    continue
                new = write["PutRequest"]["Item"] if "PutRequest" in write else None
                self.usage.charge(table, wcu=write_units(max(item_size(old), item_size(new))))
                self._charge_index_writes(table, old, new)

    def _transact_write(
        self, request: Any, parsed: Any, before: list[Item | None], error: str | None
    ) -> None:
        for action, old in zip(request["TransactItems"], before, strict=True):
            ((kind, body),) = action.items()
            table = body["TableName"]
            if kind == "Put":
                new: Item | None = body["Item"]
            elif kind == "Update" and error is None:
                new = self._get(table, body["Key"])
            else:
                new = old
            self.usage.charge(table, wcu=2 * write_units(max(item_size(old), item_size(new))))

    def _get_item(
        self, request: Any, parsed: Any, before: list[Item | None], error: str | None
    ) -> None:
        size = item_size(parsed.get("Item"))
        consistent = bool(request.get("ConsistentRead"))
        self.usage.charge(request["TableName"], rcu=read_units(size, consistent=consistent))

    def _batch_get(
        self, request: Any, parsed: Any, before: list[Item | None], error: str | None
    ) -> None:
        responses = parsed.get("Responses") or {}
        unprocessed = parsed.get("UnprocessedKeys") or {}
        for table, wanted in request["RequestItems"].items():
            shape = self.shape(table)
            found = {_key_text(shape.key_of(item)): item for item in responses.get(table) or []}
            skipped = {_key_text(k) for k in (unprocessed.get(table) or {}).get("Keys") or []}
            consistent = bool(wanted.get("ConsistentRead"))
            for key in wanted["Keys"]:
                text = _key_text(key)
                if text in skipped:
                    continue
                size = item_size(found.get(text))
                self.usage.charge(table, rcu=read_units(size, consistent=consistent))

    def _query(
        self, request: Any, parsed: Any, before: list[Item | None], error: str | None
    ) -> None:
        items = parsed.get("Items") or []
        if any(k in request for k in ("FilterExpression", "ProjectionExpression", "Select")):
            items = self._evaluated_items(request, parsed)
        consistent = bool(request.get("ConsistentRead"))
        table = request["TableName"] + (
            f"/{request['IndexName']}" if "IndexName" in request else ""
        )
        size = sum(item_size(item) for item in items)
        self.usage.charge(table, rcu=read_units(size, consistent=consistent))

    def _evaluated_items(self, request: Mapping[str, Any], parsed: Mapping[str, Any]) -> list[Any]:
        """The items a filtered or projected Query/Scan read: the same request unfiltered,
        stopped where the real one stopped (its LastEvaluatedKey)."""
        unfiltered = {
            k: v
            for k, v in request.items()
            if k
            not in ("FilterExpression", "ProjectionExpression", "Select", "ReturnConsumedCapacity")
        }
        # Keep only the names and values the key condition still uses.
        condition = str(unfiltered.get("KeyConditionExpression", ""))
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in (unfiltered.pop(name, None) or {}).items() if k in condition}
            if kept:
                unfiltered[name] = kept
        operation = (
            self._observer.scan if "KeyConditionExpression" not in request else self._observer.query
        )
        answer = operation(**unfiltered)
        items = list(answer.get("Items") or [])
        last = parsed.get("LastEvaluatedKey")
        if last:
            shape = self.shape(request["TableName"])
            stop = _key_text(shape.key_of(last))
            for index, item in enumerate(items):
                if _key_text(shape.key_of(item)) == stop:
                    return items[: index + 1]
        return items


def _transact_target(meter: CapacityMeter, action: Mapping[str, Any]) -> tuple[str, Item]:
    ((kind, body),) = action.items()
    table = body["TableName"]
    key = meter.shape(table).key_of(body["Item"]) if kind == "Put" else body["Key"]
    return table, dict(key)


def _key_text(key: Mapping[str, Any]) -> str:
    return repr(sorted((name, sorted(value.items())) for name, value in key.items()))


# Requests refused before they touch any item consume nothing.
_UNCHARGED_ERRORS = frozenset(
    {"ValidationException", "ResourceNotFoundException", "ItemCollectionSizeLimitExceededException"}
)

Charge = Callable[[CapacityMeter, Any, Any, list[Item | None], str | None], None]
_CHARGES: dict[str, Charge] = {
    "PutItem": CapacityMeter._put,
    "UpdateItem": CapacityMeter._update,
    "DeleteItem": CapacityMeter._delete,
    "BatchWriteItem": CapacityMeter._batch_write,
    "TransactWriteItems": CapacityMeter._transact_write,
    "GetItem": CapacityMeter._get_item,
    "BatchGetItem": CapacityMeter._batch_get,
    "Query": CapacityMeter._query,
    "Scan": CapacityMeter._query,
}
