"""The capacity meter (tests/bench/capacity.py) charges real requests on moto as DynamoDB's rules
say, and the baselines' size model (tests/bench/baselines.py) predicts what their real requests
cost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.bench.baselines import SeedNested, SeedSumOnRead, SizeModel, nested_payment
from tests.bench.capacity import CapacityMeter
from tests.bench.item_size import KB, item_size

TABLE = "meter-test"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("pk", "sk", "gsi1pk", "gsi1sk")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByDate",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def an_item(sk: str, size: int, **extra: Any) -> dict[str, Any]:
    """An item of exactly `size` bytes by DynamoDB's rules."""
    item: dict[str, Any] = {"pk": {"S": "P"}, "sk": {"S": sk}, **extra}
    item["blob"] = {"S": ""}
    item["blob"]["S"] = "x" * (size - item_size(item))
    assert item_size(item) == size
    return item


def test_writes_are_charged_for_the_larger_of_before_and_after(ddb: Any) -> None:
    meter = CapacityMeter(ddb)
    ddb.put_item(TableName=TABLE, Item=an_item("a", 500))
    assert meter.take().wcu == 1
    ddb.put_item(TableName=TABLE, Item=an_item("a", int(1.5 * KB)))  # replaces: 1.5 KB > 500 B
    assert meter.take().wcu == 2
    ddb.put_item(TableName=TABLE, Item=an_item("a", 300))  # the 1.5 KB item it replaces counts
    assert meter.take().wcu == 2
    ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "P"}, "sk": {"S": "a"}},
        UpdateExpression="SET more = :m",
        ExpressionAttributeValues={":m": {"S": "y" * (3 * KB)}},
    )
    assert meter.take().wcu == 4  # 300 B + 3 KB + the name


def test_a_failed_condition_is_charged_like_a_write(ddb: Any) -> None:
    meter = CapacityMeter(ddb)
    ddb.put_item(TableName=TABLE, Item=an_item("b", 3 * KB))
    meter.take()
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(
            TableName=TABLE,
            Item=an_item("b", 500),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    usage = meter.take()
    assert usage.wcu == 3
    assert usage.rcu == 0  # the old item comes back with the failure at no read cost
    assert usage.failed_conditions == 1


def test_transactions_count_twice_and_index_writes_once_more(ddb: Any) -> None:
    meter = CapacityMeter(ddb)
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": an_item("t1", 100)}},
            {"Put": {"TableName": TABLE, "Item": an_item("t2", int(1.2 * KB))}},
        ]
    )
    assert meter.take().wcu == 2 * 1 + 2 * 2
    indexed = an_item("g", 700, gsi1pk={"S": "EVENTS"}, gsi1sk={"S": "2026-06-14"})
    ddb.put_item(TableName=TABLE, Item=indexed)
    usage = meter.take()
    assert usage.wcu == 2
    assert usage.by_table[f"{TABLE}/index"]["wcu"] == 1


def test_reads(ddb: Any) -> None:
    meter = CapacityMeter(ddb)
    ddb.put_item(TableName=TABLE, Item=an_item("r1", int(1.5 * KB)))
    ddb.put_item(TableName=TABLE, Item=an_item("r2", int(6.5 * KB)))
    meter.take()

    ddb.get_item(TableName=TABLE, Key={"pk": {"S": "P"}, "sk": {"S": "nothing"}})
    assert meter.take().rcu == 0.5  # a miss costs a read too
    ddb.get_item(TableName=TABLE, Key={"pk": {"S": "P"}, "sk": {"S": "r2"}}, ConsistentRead=True)
    assert meter.take().rcu == 2

    # 1.5 KB and 6.5 KB in one BatchGetItem are read as 4 KB + 8 KB (each item rounded).
    keys = [{"pk": {"S": "P"}, "sk": {"S": sk}} for sk in ("r1", "r2", "missing")]
    ddb.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})
    assert meter.take().rcu == 1 + 2 + 1

    # A Query sums first: 8 KB in one request.
    ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "P"}},
        ConsistentRead=True,
    )
    assert meter.take().rcu == 2
    # A filter does not make the read cheaper: the items it drops were read.
    found = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        FilterExpression="sk = :none",
        ExpressionAttributeValues={":p": {"S": "P"}, ":none": {"S": "none"}},
    )
    assert found["Items"] == []
    assert meter.take().rcu == 1


def payment(n: int) -> dict[str, Any]:
    return {
        "pk": {"S": "EVENT#e"},
        "sk": {"S": f"PAYMENT#{n:036d}"},
        "type": {"S": "PAYMENT"},
        "event_id": {"S": "e"},
        "payment_id": {"S": f"{n:036d}"},
        "patron_name": {"S": "John Smith"},
        "amount_cents": {"N": "15000"},
        "payment_method": {"S": "card"},
        "notes": {"S": "CC ending 4242"},
    }


def test_the_baselines_cost_what_their_size_model_says(ddb: Any) -> None:
    event = {"pk": {"S": "EVENT#e"}, "sk": {"S": "META"}, "event_name": {"S": "Harbor Lights"}}
    model = SizeModel(event_item=event, payment_item=payment(0))
    plain = boto3.client("dynamodb", region_name="us-east-1")
    meter = CapacityMeter(ddb)
    key = {"pk": event["pk"], "sk": event["sk"]}

    nested = SeedNested(ddb, TABLE)
    nested.create_event(event)
    for n in range(1, 31):
        meter.take()
        nested.log_payment(key, nested_payment(payment(n)))
        assert meter.take().wcu == model.nested_wcu(n)
    stored = plain.get_item(TableName=TABLE, Key=key)["Item"]
    assert item_size(stored) == model.nested_item_bytes(30)
    assert nested.totals(key) == (30, 30 * 15000)
    assert meter.take().rcu == model.nested_totals_rcu(30)

    plain.delete_item(TableName=TABLE, Key=key)
    summed = SeedSumOnRead(ddb, TABLE)
    plain.put_item(TableName=TABLE, Item=event)
    for n in range(1, 121):
        summed.log_payment(payment(n))
    assert meter.take().wcu == 120 * model.sum_on_read_wcu(120)
    assert summed.totals(event["pk"]) == (120, 120 * 15000)
    assert meter.take().rcu == model.sum_on_read_totals_rcu(120)


def test_the_nested_design_stops_at_400_kb() -> None:
    event = {"pk": {"S": "EVENT#e"}, "sk": {"S": "META"}}
    model = SizeModel(event_item=event, payment_item=payment(0))
    limit = model.nested_max_payments()
    assert model.nested_fits(limit)
    assert not model.nested_fits(limit + 1)
    assert model.nested_wcu(limit) <= 400
