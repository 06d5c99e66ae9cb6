"""`make bench`: the performance budget (README), measured in one run and reported as
counts and ratios (never asserted as times: these machines are shared and noisy).

1. DynamoDB requests per new payment and per replay at ingest (counted with a botocore hook).
2. Projector: write requests per projected payment, transactions per (event, <=99 records),
   and records per second on moto.
3. Growth: writes and time per payment when the ledger holds N vs 10*N payments (O(1) means
   the write count is identical and the time ratio stays near 1).
4. Cold start: import time of each handler module relative to `import boto3` alone.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from devstack.template import create_table, load_template, translate  # noqa: E402
from services.ingest import logic as ingest  # noqa: E402
from services.projector.logic import project_batch  # noqa: E402
from shared.auth import Caller  # noqa: E402
from shared.config import IngestConfig  # noqa: E402
from shared.ids import new_payment_id  # noqa: E402
from shared.models import CreateEventRequest, LogPaymentRequest, Payment  # noqa: E402
from shared.projection_store import ProjectionStore  # noqa: E402
from shared.repository import LedgerTable, payment_item, to_ddb  # noqa: E402
from tests.builders import a_payment  # noqa: E402

TABLE = "bench-PaymentsTable"
NOW = datetime(2026, 5, 23, 20, 0, tzinfo=UTC)
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READS = {"GetItem", "BatchGetItem", "Query", "Scan"}


class Counter:
    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def take(self) -> tuple[int, int]:
        writes = sum(1 for c in self.calls if c in WRITES)
        reads = sum(1 for c in self.calls if c in READS)
        self.calls.clear()
        return writes, reads


def _translated() -> dict[str, Any]:
    parameters = {"AdminEmail": "admin@scc.example"}
    return translate(load_template(ROOT / "template.yaml"), parameters, region="us-east-1")


def _record(item: dict[str, Any], sequence: int) -> dict[str, Any]:
    image = to_ddb(item)
    return {
        "eventID": str(sequence),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/b/stream/x",
        "dynamodb": {
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": 300,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def _payment(event_id: str, n: int) -> Payment:
    moment = NOW + timedelta(seconds=n)
    return a_payment(
        payment_id=new_payment_id(int(moment.timestamp() * 1000)),
        event_id=event_id,
        patron_name=f"Patron {n}",
        amount_cents=1000 + n,
        received_at=moment,
        timestamp=moment,
    )


def bench_ingest(client: Any) -> None:
    config = IngestConfig.model_validate(
        {
            "TABLE_NAME": TABLE,
            "ALLOWED_ORIGIN": "http://localhost",
            "REVOCATIONS_TABLE_NAME": "bench-revocations",
        }
    )
    ledger = LedgerTable(client, TABLE)
    admin = Caller(
        sub="00000000-0000-4000-8000-00000000a0a0",
        email="admin@scc.example",
        groups=frozenset({"admin"}),
        issued_at=int(NOW.timestamp()),
    )
    event = ingest.create_event(
        ledger,
        CreateEventRequest.model_validate({"event_name": "Bench", "date": "2026-05-23"}),
        admin,
        NOW,
    )
    counter = Counter(client)
    request = LogPaymentRequest.model_validate(
        {
            "patron_name": "John Smith",
            "amount": "150.00",
            "payment_method": "card",
            "payment_id": new_payment_id(),
        }
    )
    ingest.log_payment(ledger, config, event.event_id, request, admin, NOW)
    new_writes, new_reads = counter.take()
    ingest.log_payment(ledger, config, event.event_id, request, admin, NOW)
    replay_writes, replay_reads = counter.take()
    print("ingest")
    print(f"  new payment: {new_writes} write(s) ({new_reads} read: the event's existence check)")
    print(f"  replay:      {replay_writes} failed conditional write(s), {replay_reads} read(s)")


def bench_projector(client: Any, records_per_event: int = 500) -> None:
    store = ProjectionStore(client, TABLE)
    counter = Counter(client)
    events = ["2026-05-23-bench-a", "2026-05-23-bench-b"]
    payments = [_payment(e, n) for n in range(records_per_event) for e in events]
    records = [_record(payment_item(p), n) for n, p in enumerate(payments)]
    started = time.perf_counter()
    transactions = 0
    for start in range(0, len(records), 100):  # the template's BatchSize
        transactions += project_batch(store, records[start : start + 100], NOW).transactions
    elapsed = time.perf_counter() - started
    writes, _reads = counter.take()
    print("projector (batches of 100, two events interleaved)")
    print(
        f"  {len(records)} payments -> {writes} write requests: {writes / len(records):.3f} per payment"
    )
    print(f"  {transactions} transactions = one per (event, batch)")
    print(f"  throughput on moto: {len(records) / elapsed:.0f} records/s")


def bench_growth(client: Any, small: int = 300, factor: int = 10) -> None:
    """Project 100 new payments into an event whose ledger already holds N, then 10*N."""
    store = ProjectionStore(client, TABLE)
    counter = Counter(client)
    results = []
    for size in (small, small * factor):
        event_id = f"2026-05-23-growth-{size}"
        history = [_payment(event_id, n) for n in range(size)]
        # Pre-load the ledger and its summary cheaply (not what we measure).
        for start in range(0, size, 25):
            client.batch_write_item(
                RequestItems={
                    TABLE: [
                        {"PutRequest": {"Item": to_ddb(payment_item(p))}}
                        for p in history[start : start + 25]
                    ]
                }
            )
        counter.take()
        fresh = [_payment(event_id, size + n) for n in range(100)]
        records = [_record(payment_item(p), size + n) for n, p in enumerate(fresh)]
        started = time.perf_counter()
        project_batch(store, records, NOW)
        elapsed = time.perf_counter() - started
        writes, reads = counter.take()
        results.append((size, writes / 100, reads / 100, elapsed / 100))
    print("growth (100 new payments into a ledger of N payments)")
    for size, writes, reads, seconds in results:
        print(
            f"  N={size:>6}: {writes:.3f} writes, {reads:.3f} reads, {seconds * 1000:.2f} ms per payment"
        )
    (_, w1, _, t1), (_, w2, _, t2) = results
    print(f"  ratio {factor}x ledger: writes x{w2 / w1:.2f}, time x{t2 / t1:.2f}")
    print(
        "  (the write count is the budget; moto's time grows because its TransactWriteItems "
        "deep-copies the whole table for rollback, which DynamoDB does not do)"
    )


def _import_seconds(module: str, env: dict[str, str], runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=env, cwd=ROOT)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_cold_start() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TABLE_NAME": TABLE,
        "ALLOWED_ORIGIN": "http://localhost",
        "REVOCATIONS_TABLE_NAME": "bench-revocations",
        "USER_POOL_ID": "us-east-1_bench",
        "USER_POOL_CLIENT_ID": "benchclient",
        "SES_SENDER_EMAIL": "payments@scc.example",
        "ADMIN_NOTIFY_EMAILS": "admin@scc.example",
        "IDEMPOTENCY_TABLE_NAME": "bench-idempotency",
        "POWERTOOLS_SERVICE_NAME": "bench",
    }
    floor = _import_seconds("boto3", env)
    bare = _import_seconds("sys", env)
    print(
        f"cold start (median of 7 fresh interpreters; floor `import boto3` = {floor * 1000:.0f} ms, bare python {bare * 1000:.0f} ms)"
    )
    for module in (
        "services.ingest.handler",
        "services.query.handler",
        "services.people.handler",
        "services.projector.handler",
        "services.notifier.handler",
    ):
        try:
            seconds = _import_seconds(module, env)
        except subprocess.CalledProcessError:
            print(f"  {module}: failed to import (see stderr)")
            continue
        print(f"  {module}: {seconds * 1000:.0f} ms = {seconds / floor:.2f}x the boto3 floor")


def main() -> None:
    translated = _translated()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, translated, "PaymentsTable", TABLE)
        bench_ingest(client)
        bench_projector(client)
        bench_growth(client)
    bench_cold_start()


if __name__ == "__main__":
    main()
