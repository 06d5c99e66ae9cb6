"""DynamoDB's item-size and capacity-unit rules as tests/bench/item_size.py applies them, on
DynamoDB's own worked examples where it gives one."""

from __future__ import annotations

import pytest

from tests.bench.item_size import (
    KB,
    MAX_ITEM_BYTES,
    item_size,
    number_size,
    query_read_units,
    read_units,
    value_size,
    write_units,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 1),
        ("7", 2),
        ("15000", 2),  # significant digits "15": trailing zeroes are trimmed
        ("15001", 4),
        ("123.45", 4),
        ("0.001", 2),  # leading zeroes are trimmed too
        ("-12", 2),
        ("1780000000", 3),
        ("1E+3", 2),
    ],
)
def test_a_number_is_one_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


def test_scalars() -> None:
    assert value_size({"S": "John Smith"}) == 10
    assert value_size({"S": "Zoë"}) == 4  # UTF-8 bytes, not characters
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1
    assert value_size({"SS": ["ab", "cde"]}) == 5
    assert value_size({"NS": ["10", "123"]}) == 2 + 3


def test_lists_and_maps_cost_three_bytes_plus_one_per_element() -> None:
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    # A map element also counts its key.
    assert value_size({"M": {"cash": {"N": "15000"}}}) == 3 + 1 + 4 + 2
    nested = {"L": [{"M": {"a": {"S": "xy"}}}]}
    assert value_size(nested) == 3 + 1 + (3 + 1 + 1 + 2)


def test_an_item_is_its_names_and_values() -> None:
    item = {"pk": {"S": "EVENT#x"}, "sk": {"S": "META"}, "n": {"N": "42"}}
    assert item_size(item) == (2 + 7) + (2 + 4) + (1 + 2)
    assert item_size(None) == 0
    with pytest.raises(ValueError, match="not a DynamoDB attribute value"):
        value_size({"X": "?"})


def test_writes_are_one_unit_per_started_kilobyte() -> None:
    assert write_units(0) == 1  # a write of nothing (a failed put of a new item) still costs 1
    assert write_units(500) == 1
    assert write_units(KB) == 1
    assert write_units(KB + 1) == 2
    assert write_units(int(1.6 * KB)) == 2  # 1.6 KB is rounded up to 2 KB
    assert write_units(MAX_ITEM_BYTES) == 400


def test_reads_are_one_unit_per_started_4_kb_and_half_that_eventually_consistent() -> None:
    assert read_units(0, consistent=True) == 1.0  # an item that does not exist still costs
    assert read_units(0, consistent=False) == 0.5
    assert read_units(3_500, consistent=True) == 1.0
    assert read_units(10 * KB, consistent=True) == 3.0  # 10 KB is read as 12 KB
    assert read_units(8 * KB, consistent=False) == 1.0


def test_a_query_rounds_the_sum_of_its_items_once_per_request() -> None:
    # 10 items of 40.8 KB in all are read as 44 KB; 1,500 items of 64 bytes as 96 KB.
    assert query_read_units([int(40.8 * KB / 10)] * 10, consistent=True) == 11.0
    assert query_read_units([64] * 1_500, consistent=True) == 24.0
    assert query_read_units([], consistent=False) == 0.5


def test_a_query_over_1_mb_is_several_requests() -> None:
    # Items just over 4 KB: a request holds 255 of them and rounds its sum up on its own.
    item = 4 * KB + 1
    per_page = (1024 * KB) // item
    sizes = [item] * (3 * per_page)
    expected = 3 * read_units(per_page * item, consistent=False)
    assert query_read_units(sizes, consistent=False) == expected
    assert expected > read_units(sum(sizes), consistent=False)  # rounding per request adds up
