"""Reconcile: recompute every event's summary from the ledger, report drift, repair on request.

    python -m ops.reconcile                 # the running `make dev` stack (.local/stack.json)
    python -m ops.reconcile --table LEDGER --projection-table PROJECTION
                                               # a deployed stack, with the usual AWS credentials
    python -m ops.reconcile --repair        # also fix what drifted

Drift is any difference between a summary and its ledger: the money and counts, the time of
the latest payment, the current close-out. A tampered ledger (an item changed or deleted) shows
here as drift too: the summary still holds what was projected before.

Exit status: 0 when every summary matches its ledger (or was repaired), 1 when drift was found
and not repaired, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from services.projector.store import LedgerSnapshot, ProjectionStore, newest_closeout
from shared.projection import drift, summarize
from shared.repository import LedgerTable
from shared.timeutil import iso_z, utc_now

STACK_FILE = Path(".local/stack.json")
_REPAIR_ATTEMPTS = 5


@dataclass(frozen=True)
class EventReport:
    event_id: str
    drift: dict[str, int]  # figure -> actual - expected (cents or counts)
    repaired: bool = False


def reconcile(ledger: LedgerTable, store: ProjectionStore, *, repair: bool) -> list[EventReport]:
    reports = []
    for event in ledger.list_events():
        snapshot = read_snapshot(ledger, store, event.event_id)
        expected = summarize(snapshot.payments, snapshot.voids)
        found = drift(expected, snapshot.summary)
        if _iso(expected.last_payment_at) != _iso(snapshot.summary.last_payment_at):
            found["last_payment_at"] = 1  # the card shows another "last payment" time
        newest = newest_closeout(snapshot.closeouts)
        shown = snapshot.summary.closeout
        if (newest and newest.closeout_id) != (shown and shown.closeout_id):
            found["current_closeout"] = 1  # the card shows another close-out than the newest
        repaired = False
        if found and repair:
            _repair(ledger, store, event.event_id)
            repaired = True
        reports.append(EventReport(event.event_id, found, repaired))
    return reports


def read_snapshot(ledger: LedgerTable, store: ProjectionStore, event_id: str) -> LedgerSnapshot:
    """The projection first, then the ledger: a record projected in between changes the
    summary's version, so a repair based on this snapshot fails its guard and reads again
    (read the other way round, it could erase that record's delta)."""
    projection = store.projection(event_id)
    payments, voids = ledger.ledger(event_id)
    return LedgerSnapshot(payments, voids, ledger.closeouts(event_id), projection)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(moment)


def _repair(ledger: LedgerTable, store: ProjectionStore, event_id: str) -> None:
    for _attempt in range(_REPAIR_ATTEMPTS):
        snapshot = read_snapshot(ledger, store, event_id)
        try:
            store.repair(event_id, snapshot, utc_now())
            return
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            # The projector moved the summary after our read: read again and retry.
            if code not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
    raise RuntimeError(f"{event_id}: the summary kept changing; run reconcile again")


def _client(endpoint_url: str | None) -> Any:
    if endpoint_url is None:
        return boto3.client("dynamodb")
    # The local stack's moto server accepts any credentials; never send real ones to it.
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's dummy credential
    )


def _print(reports: Sequence[EventReport], out: TextIO) -> None:
    for report in reports:
        if not report.drift:
            print(f"{report.event_id}: ok", file=out)
            continue
        figures = ", ".join(f"{name} {diff:+d}" for name, diff in sorted(report.drift.items()))
        status = "repaired" if report.repaired else "DRIFT"
        print(f"{report.event_id}: {status} (summary minus ledger: {figures})", file=out)
    drifted = sum(1 for r in reports if r.drift)
    print(f"{len(reports)} events checked, {drifted} with drift", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.reconcile", description=__doc__)
    parser.add_argument("--table", help="the ledger table to check (default: the local stack's)")
    parser.add_argument("--projection-table", help="its projection table (required with --table)")
    parser.add_argument(
        "--endpoint-url", help="DynamoDB endpoint (default: AWS, or the local stack)"
    )
    parser.add_argument("--repair", action="store_true", help="rewrite drifted summaries")
    parser.add_argument("--stack-file", type=Path, default=STACK_FILE)
    args = parser.parse_args(argv)
    table, projection, endpoint = args.table, args.projection_table, args.endpoint_url
    if table is not None and projection is None:
        print("--table needs --projection-table (the stack's ProjectionTable)", file=sys.stderr)
        return 2
    if table is None:
        if not args.stack_file.exists():
            print(
                f"no --table given and no local stack ({args.stack_file} is missing): "
                "start `make dev` or name a table",
                file=sys.stderr,
            )
            return 2
        stack = json.loads(args.stack_file.read_text(encoding="utf-8"))
        tables = stack["tables"]
        table, projection = tables["PaymentsTable"], tables["ProjectionTable"]
        endpoint = endpoint or stack["moto_endpoint"]
    client = _client(endpoint)
    reports = reconcile(
        LedgerTable(client, table), ProjectionStore(client, projection), repair=args.repair
    )
    _print(reports, out)
    unrepaired = [r for r in reports if r.drift and not r.repaired]
    return 1 if unrepaired else 0


if __name__ == "__main__":
    raise SystemExit(main())
