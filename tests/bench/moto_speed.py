"""moto's TransactWriteItems backs up every table it names with a deep copy of the whole table
(to roll back a cancelled transaction): O(table) per transaction, so a 10,000-record backlog on
a growing projection table would take hours and measure only that copy. While
`cheap_transaction_backups()` is active the backup holds shallow copies of the table's
partitions plus deep copies of just the items the transaction names, which restores exactly the
same state (a transaction changes no other item). Tables with a stream keep moto's own backup,
which also rolls the stream back. The bench's raw transactions and the projector both run under
it, so their ratio compares like with like; tests/verify's stream-fault runs use it too.
"""

from __future__ import annotations

import contextlib
import copy
import types
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

_TOUCHED: ContextVar[Mapping[str, set[tuple[Any, Any]]] | None] = ContextVar(
    "bench_touched", default=None
)


@contextlib.contextmanager
def cheap_transaction_backups() -> Iterator[None]:
    from moto.dynamodb import models as moto_models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    dynamodb_models: Any = moto_models  # patched below, then restored
    backend_class: Any = dynamodb_models.DynamoDBBackend
    original_transact = backend_class.transact_write_items
    original_copy_module = dynamodb_models.copy

    def touched(backend: Any, actions: list[dict[str, Any]]) -> dict[str, set[Any]]:
        found: dict[str, set[Any]] = {}
        for action in actions:
            if len(action) != 1:
                continue
            ((kind, body),) = action.items()
            table = backend.tables.get(body.get("TableName"))
            if table is None:
                continue
            key = body.get("Item") if kind == "Put" else body.get("Key")
            if not isinstance(key, dict) or table.hash_key_attr not in key:
                continue
            range_attr = table.range_key_attr
            if range_attr is not None and range_attr not in key:
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = None if range_attr is None else DynamoType(key[range_attr])
            found.setdefault(table.name, set()).add((hash_value, range_value))
        return found

    def snapshot(table: Any, keys: set[tuple[Any, Any]]) -> Any:
        clone = copy.copy(table)
        items = type(table.items)(table.items.default_factory)
        items.update(table.items)
        for hash_value, range_value in keys:
            if range_value is None:
                if hash_value in table.items:
                    items[hash_value] = copy.deepcopy(table.items[hash_value])
                continue
            partition = table.items.get(hash_value)
            if partition is None:
                continue
            if items[hash_value] is partition:
                items[hash_value] = dict(partition)
            if range_value in partition:
                items[hash_value][range_value] = copy.deepcopy(partition[range_value])
        clone.items = items
        return clone

    def deepcopy(value: Any, memo: Any = None) -> Any:
        keys = _TOUCHED.get()
        if (
            keys is not None
            and isinstance(value, Table)
            and value.stream_shard is None
            and value.name in keys
        ):
            return snapshot(value, keys[value.name])
        return copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        token = _TOUCHED.set(touched(self, transact_items))
        try:
            original_transact(self, transact_items)
        finally:
            _TOUCHED.reset(token)

    backend_class.transact_write_items = transact_write_items
    dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    try:
        yield
    finally:
        backend_class.transact_write_items = original_transact
        dynamodb_models.copy = original_copy_module
