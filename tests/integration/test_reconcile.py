"""Reconcile finds summaries that disagree with the ledger and repairs them safely."""

from __future__ import annotations

import io
from typing import Any

from ops.reconcile import main, reconcile
from services.projector.logic import project_batch
from services.projector.store import ProjectionStore
from shared import keys
from shared.models import Event
from shared.projection import summarize
from shared.repository import LedgerTable, payment_item, void_item
from tests.integration.support import PROJECTION_TABLE_NAME, TABLE_NAME
from tests.integration.test_projector import (
    EVENTS,
    NOW,
    ledger_records,
    make_payment,
    make_void,
)


def seed(ddb: Any) -> tuple[LedgerTable, ProjectionStore, list[Any], list[Any]]:
    ledger = LedgerTable(ddb, TABLE_NAME)
    for event_id in EVENTS[:2]:
        ledger.put_event(
            Event(
                event_id=event_id,
                event_name=event_id,
                date=event_id[:10],  # type: ignore[arg-type]
                currency="USD",
                created_at=NOW,
                created_by="admin@scc.example",
            )
        )
    payments = [make_payment(EVENTS[n % 2], 1000 * (n + 1), "cash", n) for n in range(4)]
    voids = [make_void(payments[0])]
    for payment in payments:
        ledger.put_payment(payment)
    ledger.put_void(voids[0])
    return ledger, ProjectionStore(ddb, PROJECTION_TABLE_NAME), payments, voids


def test_a_fully_projected_ledger_has_no_drift(ddb: Any) -> None:
    ledger, store, payments, voids = seed(ddb)
    project_batch(store, ledger_records(payments, voids), NOW)
    reports = reconcile(ledger, store, repair=False)
    assert [r.drift for r in reports] == [{}, {}]


def test_unprojected_payments_show_as_drift_and_repair_fixes_them_once(ddb: Any) -> None:
    # Given a ledger whose last payment never reached the projector (its record was lost)
    ledger, store, payments, voids = seed(ddb)
    records = ledger_records(payments, voids)
    project_batch(store, records[:-2] + records[-1:], NOW)  # payments[3] missing
    # When reconcile runs without --repair
    reports = {r.event_id: r for r in reconcile(ledger, store, repair=False)}
    # Then it reports the missing 4000 cents on that event only
    assert reports[EVENTS[1]].drift["gross_cents"] == -4000
    assert reports[EVENTS[0]].drift == {}
    # And after --repair the totals equal the ledger
    reconcile(ledger, store, repair=True)
    assert [r.drift for r in reconcile(ledger, store, repair=False)] == [{}, {}]
    # And the lost record arriving late is not counted twice
    project_batch(store, records, NOW)
    summary = store.projection(EVENTS[1]).summary
    want = summarize([p for p in payments if p.event_id == EVENTS[1]], [])
    assert summary.gross_cents == want.gross_cents


def test_a_tampered_summary_is_reported_with_a_nonzero_exit_and_repaired(ddb: Any) -> None:
    _ledger, store, payments, voids = seed(ddb)
    project_batch(store, ledger_records(payments, voids), NOW)
    ddb.update_item(
        TableName=PROJECTION_TABLE_NAME,
        Key={"pk": {"S": keys.event_pk(EVENTS[0])}, "sk": {"S": keys.SUMMARY_SK}},
        UpdateExpression="ADD gross_cents :x",
        ExpressionAttributeValues={":x": {"N": "1"}},
    )
    out = io.StringIO()
    endpoint_args = ["--table", TABLE_NAME, "--projection-table", PROJECTION_TABLE_NAME]
    # moto's in-process mock intercepts the default endpoint, so the CLI reaches the same table
    assert main(endpoint_args, out=out) == 1
    assert f"{EVENTS[0]}: DRIFT" in out.getvalue()
    assert "gross_cents +1" in out.getvalue()
    assert main([*endpoint_args, "--repair"], out=io.StringIO()) == 0
    assert main(endpoint_args, out=io.StringIO()) == 0


def test_ledger_items_are_untouched_by_repair(ddb: Any) -> None:
    ledger, store, payments, voids = seed(ddb)
    before = {
        (i["pk"]["S"], i["sk"]["S"]): i
        for i in ddb.scan(TableName=TABLE_NAME)["Items"]
        if i["sk"]["S"].startswith(("PAYMENT#", "VOID#"))
    }
    reconcile(ledger, store, repair=True)
    after = {
        (i["pk"]["S"], i["sk"]["S"]): i
        for i in ddb.scan(TableName=TABLE_NAME)["Items"]
        if i["sk"]["S"].startswith(("PAYMENT#", "VOID#"))
    }
    assert after == before
    assert len(before) == len(payments) + len(voids)
    assert {payment_item(p)["sk"] for p in payments} | {void_item(v)["sk"] for v in voids} == {
        k[1] for k in before
    }


def test_a_stale_last_payment_time_is_reported_and_repaired(ddb: Any) -> None:
    # Given a fully projected ledger whose summary shows an older "last payment" time
    ledger, store, payments, voids = seed(ddb)
    project_batch(store, ledger_records(payments, voids), NOW)
    ddb.update_item(
        TableName=PROJECTION_TABLE_NAME,
        Key={"pk": {"S": keys.event_pk(EVENTS[1])}, "sk": {"S": keys.SUMMARY_SK}},
        UpdateExpression="SET last_payment_at = :t",
        ExpressionAttributeValues={":t": {"S": "2026-01-01T00:00:00.000Z"}},
    )
    # When reconcile runs
    reports = {r.event_id: r for r in reconcile(ledger, store, repair=False)}
    # Then exactly that figure of that event is reported
    assert reports[EVENTS[1]].drift == {"last_payment_at": 1}
    assert reports[EVENTS[0]].drift == {}
    # And --repair sets it to the latest payment of that event
    reconcile(ledger, store, repair=True)
    latest = max(p.received_at for p in payments if p.event_id == EVENTS[1])
    assert store.projection(EVENTS[1]).summary.last_payment_at == latest
    assert [r.drift for r in reconcile(ledger, store, repair=False)] == [{}, {}]
