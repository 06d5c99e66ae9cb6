"""How long the bookkeeper's export of one big event takes (`make bench`, or run directly).

An event holding N payments (every 50th voided) is written straight into an in-process moto
table built from template.yaml; the query function's handler, built as its handler module
builds it, then answers `GET /api/g/{event_id}/payments.csv` with an admin's verified claims.
Reported, never asserted: rows, CSV bytes, whether it went inline or as a presigned link, and
seconds (moto's Query is slower than DynamoDB's; the figure is an upper bound of our own work).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# First: fake credentials and quiet Powertools settings before any module reads them.
from tests.bench import environment as env  # noqa: E402

# isort: split
import boto3  # noqa: E402

from shared.ids import new_payment_id  # noqa: E402
from shared.models import PAYMENT_METHODS, Event  # noqa: E402
from shared.repository import (  # noqa: E402
    LedgerTable,
    payment_item,
    to_ddb,
    void_item,
)
from tests.builders import a_payment, a_void  # noqa: E402
from tests.handlers import load_handler  # noqa: E402

TABLE, BUCKET = env.LEDGER, env.PHYSICAL_IDS["ExportBucket"]
EVENT_ID = "2026-05-23-corporate-mixer"
START = datetime(2026, 5, 23, 18, 0, tzinfo=UTC)


class _Context:
    function_name = "bench-query"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-query"
    aws_request_id = "00000000-0000-4000-8000-0000000000be"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _fill(client: Any, payments: int) -> None:
    ledger = LedgerTable(client, TABLE)
    ledger.put_event(
        Event(
            event_id=EVENT_ID,
            event_name="Corporate Mixer",
            date=START.date(),
            currency="USD",
            created_at=START,
            created_by="admin@scc.example",
        )
    )
    items = []
    for n in range(payments):
        moment = START + timedelta(seconds=n)
        payment = a_payment(
            payment_id=new_payment_id(int(moment.timestamp() * 1000)),
            patron_name=f"Patron {n}, party of {n % 7 + 1}",
            amount_cents=1000 + n,
            payment_method=PAYMENT_METHODS[n % len(PAYMENT_METHODS)],
            received_at=moment,
            timestamp=moment,
            notes="paid at the gangway" if n % 3 == 0 else None,
        )
        items.append(payment_item(payment))
        if n % 50 == 0:
            items.append(void_item(a_void(payment)))
    for start in range(0, len(items), 25):
        chunk = [{"PutRequest": {"Item": to_ddb(i)}} for i in items[start : start + 25]]
        client.batch_write_item(RequestItems={TABLE: chunk})


def _event() -> dict[str, Any]:
    path = f"/api/g/{EVENT_ID}/payments.csv"
    now = int(time.time())
    return {
        "version": "2.0",
        "routeKey": "GET /api/g/{event_id}/payments.csv",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "bench.local"},
        "pathParameters": {"event_id": EVENT_ID},
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
            "routeKey": "GET /api/g/{event_id}/payments.csv",
            "stage": "$default",
            "requestId": "bench",
            "authorizer": {
                "jwt": {
                    "claims": {
                        "sub": "00000000-0000-4000-8000-00000000a0a0",
                        "email": "admin@scc.example",
                        "cognito:groups": "[admin]",
                        "token_use": "id",
                        "iat": str(now),
                    },
                    "scopes": None,
                }
            },
        },
        "isBase64Encoded": False,
    }


def bench_export(payments: int) -> dict[str, Any]:
    with env.moto_tables() as client:
        boto3.client("s3", region_name=env.REGION).create_bucket(Bucket=BUCKET)
        _fill(client, payments)
        handler = load_handler(
            "services.query.handler", env.in_process_environment("QueryFunction"), dynamodb=client
        ).lambda_handler
        started = time.perf_counter()
        response = handler(_event(), cast(Any, _Context()))
        seconds = time.perf_counter() - started
    inline = response["headers"].get("Content-Type", "").startswith("text/csv")
    return {
        "payments": payments,
        "status": response["statusCode"],
        "answer": "inline CSV" if inline else "presigned link",
        "bytes": len(response["body"].encode("utf-8")) if inline else None,
        "seconds": round(seconds, 2),
    }


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [2_000, 20_000]
    print("export of one event (query handler on in-process moto)")
    for size in sizes:
        result = bench_export(size)
        size_text = "" if result["bytes"] is None else f", {result['bytes'] / 1e6:.1f} MB"
        print(
            f"  {size:>6} payments: {result['status']} {result['answer']}{size_text}"
            f" in {result['seconds']:.2f} s"
        )


if __name__ == "__main__":
    main()
