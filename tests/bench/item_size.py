"""DynamoDB's item-size and capacity-unit rules, applied to items in DynamoDB JSON
(``{"pk": {"S": "EVENT#..."}, "amount_cents": {"N": "15000"}}``) as requests and responses carry
them.

Sizes:

* an attribute is the UTF-8 length of its name plus the size of its value;
* a string is its UTF-8 length, a binary value its raw length;
* a number is 1 byte per two significant digits (leading and trailing zeroes trimmed) + 1 byte;
* a Boolean or a null is 1 byte;
* a set is the sum of its elements;
* a list or a map is 3 bytes + its elements, each element 1 byte of overhead + its size (a map
  element also counts its key's UTF-8 length).

Capacity:

* a write is 1 write unit per 1 KB of the larger of the item before and after, rounded up per
  item (a failed conditional write too); a transactional write counts twice;
* a read is 1 read unit per 4 KB strongly consistent, half that eventually consistent; a Query
  rounds the summed size of the items it reads up once per request, a BatchGetItem rounds each
  item (a key that finds nothing still costs one read).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

KB = 1024
WRITE_UNIT_BYTES = KB
READ_UNIT_BYTES = 4 * KB
MAX_ITEM_BYTES = 400 * KB
QUERY_PAGE_BYTES = 1024 * KB  # a Query reads at most 1 MB per request

Item = Mapping[str, Mapping[str, Any]]


def number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1 byte."""
    mantissa = text.strip().lstrip("+-").lower().partition("e")[0]
    significant = mantissa.replace(".", "").strip("0")
    return math.ceil(len(significant) / 2) + 1


def _raw_length(value: Any) -> int:
    return len(value) if isinstance(value, bytes | bytearray) else len(str(value).encode("utf-8"))


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB JSON ({"S": ...}, {"M": {...}}, ...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        return number_size(str(data))
    if kind == "B":
        return _raw_length(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(element).encode("utf-8")) for element in data)
    if kind == "NS":
        return sum(number_size(str(element)) for element in data)
    if kind == "BS":
        return sum(_raw_length(element) for element in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + value_size(element) for name, element in data.items()
        )
    raise ValueError(f"not a DynamoDB attribute value: {kind!r}")


def item_size(item: Item | None) -> int:
    """Bytes of an item by DynamoDB's rules (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size_bytes: int) -> int:
    """Write units of one non-transactional write of an item this large (at least 1)."""
    return max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))


def read_units(size_bytes: int, *, consistent: bool) -> float:
    """Read units of one read of this many bytes (at least one 4 KB unit)."""
    units = max(1, math.ceil(size_bytes / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def query_read_units(sizes: Iterable[int], *, consistent: bool) -> float:
    """Read units of reading items of these sizes with Query, one request per 1 MB page."""
    total = 0.0
    page = 0
    started = False
    for size in sizes:
        if started and page + size > QUERY_PAGE_BYTES:
            total += read_units(page, consistent=consistent)
            page = 0
        page += size
        started = True
    return total + read_units(page, consistent=consistent)
