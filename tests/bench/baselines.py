"""BASELINES FOR `make bench` ONLY: the two "seed" designs ours is compared with, implemented
just far enough to measure them. Nothing in the product imports this module or stores data this way.

(a) ``seed_nested``: every payment is nested in its event's item, a list attribute `payments`;
    logging a payment rewrites the whole item (UpdateItem ... list_append), so its write units
    grow with the item, and DynamoDB's 400 KB item limit caps how many payments an event holds.
(b) ``seed_sum_on_read``: payments are items of their own (one PutItem each, the same items
    our ledger writes) and the totals are summed on every read: a Query of the event's whole
    partition.

Both store the same information per payment as our ledger (the nested map is our payment item
without the keys the event item already carries), and both read eventually consistent, the
cheaper choice. Their capacity at any size follows from item sizes (`SizeModel` below); the
bench checks those formulas against real requests through moto at the small sizes. The 400 KB
limit is DynamoDB's rule applied to the same sizes: moto's own item-size rule leaves out the
list and map overheads and, on an update, counts the replaced list as well as the new one, so
moto refuses the nested item at about half the payments DynamoDB would take.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.bench.item_size import (
    MAX_ITEM_BYTES,
    item_size,
    query_read_units,
    read_units,
    value_size,
    write_units,
)

Item = Mapping[str, Mapping[str, Any]]
NESTED_LIST = "payments"
# What a payment nested in its event item leaves out: the event item already has them.
NESTED_OMITS = ("pk", "sk", "type", "event_id")


def nested_payment(payment_item: Item) -> dict[str, Any]:
    """A payment as seed_nested stores it: one map in the event item's `payments` list."""
    return {"M": {k: v for k, v in payment_item.items() if k not in NESTED_OMITS}}


class SeedNested:
    """(a) Payments nested in the event item. A baseline: never used by the product."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def create_event(self, event_item: Item) -> None:
        item = {**event_item, NESTED_LIST: {"L": []}}
        self._client.put_item(
            TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )

    def log_payment(self, key: Item, payment: Mapping[str, Any]) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=dict(key),
            UpdateExpression="SET #p = list_append(#p, :new)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#p": NESTED_LIST},
            ExpressionAttributeValues={":new": {"L": [dict(payment)]}},
        )

    def totals(self, key: Item) -> tuple[int, int]:
        item = self._client.get_item(TableName=self._table, Key=dict(key))["Item"]
        payments = item[NESTED_LIST]["L"]
        return len(payments), sum(int(p["M"]["amount_cents"]["N"]) for p in payments)


class SeedSumOnRead:
    """(b) Payment items summed on every totals read. A baseline: never used by the product."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def log_payment(self, payment_item: Item) -> None:
        self._client.put_item(TableName=self._table, Item=dict(payment_item))

    def totals(self, pk: Mapping[str, Any]) -> tuple[int, int]:
        count = cents = 0
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": dict(pk)},
        }
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items") or []:
                if item["sk"]["S"].startswith("PAYMENT#"):
                    count += 1
                    cents += int(item["amount_cents"]["N"])
            if not page.get("LastEvaluatedKey"):
                return count, cents
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- capacity from item sizes ----------------------------------------------------------------


@dataclass(frozen=True)
class SizeModel:
    """Capacity of the three designs for an event of n typical payments, from item sizes."""

    event_item: Item  # the event's META item as our ledger stores it
    payment_item: Item  # one typical payment item as our ledger stores it

    @property
    def payment_bytes(self) -> int:
        return item_size(self.payment_item)

    @property
    def nested_element_bytes(self) -> int:
        return 1 + value_size(nested_payment(self.payment_item))

    def nested_item_bytes(self, payments: int) -> int:
        base = item_size(self.event_item) + len(NESTED_LIST) + 3
        return base + payments * self.nested_element_bytes

    def nested_wcu(self, payments: int) -> int:
        """Write units of the update that appends the event's n-th payment."""
        return write_units(self.nested_item_bytes(payments))

    def nested_totals_rcu(self, payments: int) -> float:
        return read_units(self.nested_item_bytes(payments), consistent=False)

    def nested_fits(self, payments: int) -> bool:
        return self.nested_item_bytes(payments) <= MAX_ITEM_BYTES

    def nested_max_payments(self) -> int:
        room = MAX_ITEM_BYTES - self.nested_item_bytes(0)
        return room // self.nested_element_bytes

    def sum_on_read_wcu(self, payments: int) -> int:
        return write_units(self.payment_bytes)

    def sum_on_read_totals_rcu(self, payments: int) -> float:
        sizes = [item_size(self.event_item)] + [self.payment_bytes] * payments
        return query_read_units(sizes, consistent=False)
