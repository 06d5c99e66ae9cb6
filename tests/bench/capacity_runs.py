"""Capacity units per payment and per read (section 2) and their growth with the event's size
for our design and the two baselines (section 3), metered from real requests on moto."""

from __future__ import annotations

import copy
from typing import Any

from tests.bench import environment as env
from tests.bench.baselines import SeedNested, SeedSumOnRead, SizeModel, nested_payment
from tests.bench.capacity import CapacityMeter
from tests.bench.item_size import item_size
from tests.bench.ours import Ours, seed_summary, uuid7

PROJECTOR_EVENTS = 5
PROJECTOR_BATCH = 100  # the template's BatchSize
PAGE_EVENT_PAYMENTS = 60
SEASON_EVENTS = 20  # 5,000 payments a month in events of 250 (the cost model's season)
GROWTH_KEYS = (100, 2_000, 20_000)
CURVE_SIZES = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000)
NESTED_TABLE = "bench-seed-nested"
SUM_TABLE = "bench-seed-sum-on-read"


def measure_capacity() -> dict[str, Any]:
    """Section 2: one new payment, one replay, a projector batch, the API's reads, the mail."""
    with env.moto_tables() as client:
        ours = Ours(client)
        event_id = ours.create_event("Harbor Lights Cruise")
        ours.take()
        payment_id = uuid7()
        logged = ours.log_payment(event_id, payment_id)
        assert logged.status == 201
        new = ours.take()
        assert ours.log_payment(event_id, payment_id).status == 200
        replay = ours.take()

        # A batch of 100 records over 5 events, interleaved as the stream delivers them.
        events = [ours.create_event(f"Projector Run {n}") for n in range(PROJECTOR_EVENTS)]
        per_event = PROJECTOR_BATCH // PROJECTOR_EVENTS
        for _ in range(per_event):
            for event in events:
                assert ours.log_payment(event).status == 201
        stored = {event: ours.ledger_items(event) for event in events}
        batch = [stored[event][n] for n in range(per_event) for event in events]
        ours.take()
        outcome = ours.project(ours.records(batch))
        projector = ours.take()
        assert outcome.applied == PROJECTOR_BATCH

        # A quiet stream: every record in a batch of its own.
        single_event = ours.create_event("Quiet Evening")
        assert ours.log_payment(single_event).status == 201
        ours.take()
        ours.project(ours.records(ours.ledger_items(single_event)))
        projector_single = ours.take()

        # The mail for one payment (admins), and for one with the patron's receipt.
        ours.notify(ours.records(ours.ledger_items(single_event)))
        notifier = ours.take()
        assert ours.log_payment(single_event, patron_email="ana@example.com").status == 201
        receipt_item = [i for i in ours.ledger_items(single_event) if "patron_email" in i]
        ours.take()
        mails_with_receipt = ours.notify(ours.records(receipt_item))
        notifier_receipt = ours.take()

        totals_reply = ours.get_event(events[0])
        totals = ours.take()
        assert totals_reply.status == 200
        assert totals_reply.body["summary"]["payment_count"] == per_event

        page_event = ours.create_event("Big Night")
        for _ in range(PAGE_EVENT_PAYMENTS):
            assert ours.log_payment(page_event).status == 201
        ours.project(ours.records(ours.ledger_items(page_event)))
        ours.take()
        page_reply = ours.payment_page(page_event)
        page = ours.take()
        assert page_reply.status == 200
        page_size = len(page_reply.body["payments"])
        assert page_size == 50, page_size

        existing = len(ours.list_events().body["events"])
        for n in range(SEASON_EVENTS - existing):
            ours.create_event(f"Season Event {n}")
        ours.take()
        listing_reply = ours.list_events()
        listing = ours.take()
        assert len(listing_reply.body["events"]) == SEASON_EVENTS

    auth = totals.by_table.get(env.REVOCATIONS, {}).get("rcu", 0.0)
    return {
        "ingest_wcu_per_payment": new.wcu,
        "ingest_rcu_per_payment": new.rcu,
        "ingest_wcu_per_replay": replay.wcu,
        "ingest_rcu_per_replay": replay.rcu,
        "projector_wcu_per_payment": projector.wcu / PROJECTOR_BATCH,
        "projector_wcu_per_payment_batch_of_1": projector_single.wcu,
        "notifier_wcu_per_payment": notifier.wcu,
        "notifier_wcu_per_payment_with_receipt": notifier_receipt.wcu,
        "mails_per_payment_with_receipt": len(mails_with_receipt.recipients),
        "totals_read_rcu": totals.rcu,
        "page_read_rcu": page.rcu,
        "events_list_rcu": listing.rcu,
        "api_auth_rcu_per_request": auth,
        "details": {
            "response_bytes": {
                "log_payment": logged.size,
                "totals": totals_reply.size,
                "page": page_reply.size,
                "events_list": listing_reply.size,
            },
            "ingest_new": new.as_dict(),
            "ingest_replay": replay.as_dict(),
            "projector_batch_of_100_over_5_events": projector.as_dict(),
            "projector_batch_of_1": projector_single.as_dict(),
            "notifier_one_payment": notifier.as_dict(),
            "notifier_one_payment_with_receipt": notifier_receipt.as_dict(),
            "totals_read": totals.as_dict(),
            "page_read": page.as_dict(),
            "events_list": {**listing.as_dict(), "events": SEASON_EVENTS},
        },
    }


def _baseline_table(client: Any, name: str) -> None:
    """The ledger table's keys, without its events index: the baselines pay no index writes."""
    from devstack.template import table_create_kwargs

    kwargs = table_create_kwargs(env.translated_template(), "PaymentsTable", name)
    kwargs.pop("GlobalSecondaryIndexes", None)
    kwargs.pop("StreamSpecification", None)
    kwargs["AttributeDefinitions"] = [
        a for a in kwargs["AttributeDefinitions"] if a["AttributeName"] in ("pk", "sk")
    ]
    client.create_table(**kwargs)


def _copy_payment(item: dict[str, Any]) -> dict[str, Any]:
    """The typical payment again under a new id (the same size: ids have one length)."""
    fresh = copy.deepcopy(item)
    payment_id = uuid7()
    fresh["payment_id"] = {"S": payment_id}
    fresh["sk"] = {"S": f"PAYMENT#{payment_id}"}
    return fresh


def measure_growth(*, quick: bool) -> dict[str, Any]:
    """Section 3: capacity per payment and per totals view at 100 .. 20,000 payments."""
    ours_sizes = GROWTH_KEYS if quick else CURVE_SIZES
    checks: list[dict[str, Any]] = []
    with env.moto_tables() as client:
        ours = Ours(client)
        typical_event = ours.create_event("Harbor Lights Cruise")
        assert ours.log_payment(typical_event).status == 201
        event_item = ours.plain.get_item(
            TableName=env.LEDGER, Key={"pk": {"S": f"EVENT#{typical_event}"}, "sk": {"S": "META"}}
        )["Item"]
        payment_item = ours.ledger_items(typical_event)[0]
        model = SizeModel(event_item=event_item, payment_item=payment_item)
        ours.take()

        ours_wcu: dict[int, float] = {}
        ours_rcu: dict[int, float] = {}
        for size in ours_sizes:
            event_id = ours.create_event(f"Growth {size:05d}")
            seed_summary(ours.plain, event_id, size - PROJECTOR_BATCH)
            ours.take()
            for _ in range(PROJECTOR_BATCH):
                assert ours.log_payment(event_id).status == 201
            ingest = ours.take()
            ours.project(ours.records(ours.ledger_items(event_id)))
            projector = ours.take()
            reply = ours.get_event(event_id)
            totals = ours.take()
            assert reply.body["summary"]["payment_count"] == size
            ours_wcu[size] = (ingest.wcu + projector.wcu) / PROJECTOR_BATCH
            ours_rcu[size] = totals.rcu

        # The baselines, for real, at the small sizes: the size arithmetic must match.
        plain = ours.plain
        meter_client = env.plain_client(client)
        meter = CapacityMeter(meter_client)
        for name in (NESTED_TABLE, SUM_TABLE):
            _baseline_table(plain, name)
        key = {"pk": event_item["pk"], "sk": event_item["sk"]}

        nested_fill, nested_metered = (
            SeedNested(plain, NESTED_TABLE),
            SeedNested(meter_client, NESTED_TABLE),
        )
        nested_fill.create_event(event_item)
        nested_check = 100
        for _ in range(nested_check - 1):
            nested_fill.log_payment(key, nested_payment(_copy_payment(payment_item)))
        meter.take()
        nested_metered.log_payment(key, nested_payment(_copy_payment(payment_item)))
        nested_write = meter.take()
        count, _cents = nested_metered.totals(key)
        nested_read = meter.take()
        stored = plain.get_item(TableName=NESTED_TABLE, Key=key)["Item"]
        assert count == nested_check
        checks.append(
            {
                "design": "seed_nested",
                "payments": nested_check,
                "item_bytes": {
                    "measured": item_size(stored),
                    "model": model.nested_item_bytes(nested_check),
                },
                "wcu": {"measured": nested_write.wcu, "model": model.nested_wcu(nested_check)},
                "totals_rcu": {
                    "measured": nested_read.rcu,
                    "model": model.nested_totals_rcu(nested_check),
                },
            }
        )
        summed_fill, summed_metered = (
            SeedSumOnRead(plain, SUM_TABLE),
            SeedSumOnRead(meter_client, SUM_TABLE),
        )
        plain.put_item(TableName=SUM_TABLE, Item=dict(event_item))
        written = 0
        for check_at in (100, 500) if quick else (100, 2_000):
            while written < check_at - 1:
                summed_fill.log_payment(_copy_payment(payment_item))
                written += 1
            meter.take()
            summed_metered.log_payment(_copy_payment(payment_item))
            written += 1
            write = meter.take()
            count, _cents = summed_metered.totals(event_item["pk"])
            read = meter.take()
            assert count == check_at
            checks.append(
                {
                    "design": "seed_sum_on_read",
                    "payments": check_at,
                    "wcu": {"measured": write.wcu, "model": model.sum_on_read_wcu(check_at)},
                    "totals_rcu": {
                        "measured": read.rcu,
                        "model": model.sum_on_read_totals_rcu(check_at),
                    },
                }
            )

    verified = all(
        check[name]["measured"] == check[name]["model"]
        for check in checks
        for name in ("item_bytes", "wcu", "totals_rcu")
        if name in check
    )
    curves = {
        "payments": list(CURVE_SIZES),
        "ours_wcu": [ours_wcu.get(n) for n in CURVE_SIZES],
        "ours_totals_rcu": [ours_rcu.get(n) for n in CURVE_SIZES],
        "seed_nested_wcu": [model.nested_wcu(n) for n in CURVE_SIZES],
        "seed_nested_totals_rcu": [model.nested_totals_rcu(n) for n in CURVE_SIZES],
        "seed_nested_fits": [model.nested_fits(n) for n in CURVE_SIZES],
        "seed_sum_on_read_wcu": [model.sum_on_read_wcu(n) for n in CURVE_SIZES],
        "seed_sum_on_read_totals_rcu": [model.sum_on_read_totals_rcu(n) for n in CURVE_SIZES],
    }
    return {
        "ours_wcu_growth_ratio": ours_wcu[20_000] / ours_wcu[100],
        "ours_wcu_at_100": ours_wcu[100],
        "ours_wcu_at_20000": ours_wcu[20_000],
        "ours_totals_rcu_at_2000": ours_rcu[2_000],
        "ours_totals_rcu_at_20000": ours_rcu[20_000],
        "seed_nested_wcu_at_100": model.nested_wcu(100),
        "seed_nested_wcu_at_2000": model.nested_wcu(2_000),
        "seed_nested_max_payments": model.nested_max_payments(),
        "seed_sum_on_read_wcu_at_2000": model.sum_on_read_wcu(2_000),
        "seed_sum_on_read_rcu_at_2000": model.sum_on_read_totals_rcu(2_000),
        "seed_sum_on_read_rcu_at_20000": model.sum_on_read_totals_rcu(20_000),
        "size_model_verified": 1 if verified else 0,
        "details": {
            "typical_payment_item_bytes": model.payment_bytes,
            "nested_payment_element_bytes": model.nested_element_bytes,
            "event_item_bytes": item_size(event_item),
            "seed_nested_item_bytes_at_2000": model.nested_item_bytes(2_000),
            "seed_nested_fits_at_2000": model.nested_fits(2_000),
            "ours_measured_sizes": list(ours_sizes),
            "checks_against_moto": checks,
            "curves": curves,
        },
    }
