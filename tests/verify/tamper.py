"""Tampering with the ledger as a compromised role could: a direct UpdateItem (an amount
raised) and a DeleteItem (a payment gone) on the stack's ledger table, bypassing the API.
Each must be detected from the stream (logged with the old image, counted as the metric the
template alarms on), and reconcile must report the event whose totals no longer match."""

from __future__ import annotations

import json
import time
from typing import Any

from shared import keys
from tests.e2e.api_client import http, sign_in_as, uuid7
from tests.e2e.stack_process import StackProcess
from tests.verify.projection_checks import StackProjection, create_event

DETECT_SECONDS = 60.0
_TAMPER_MESSAGE = "ledger item changed after it was written"


def run(stack: StackProcess) -> dict[str, int]:
    """Keys: tamper_writes, tamper_detected, tamper_metric_count, reconcile_events_reported."""
    admin = sign_in_as(stack, stack.admin_email, stack.admin_password).token
    event_id = create_event(stack, admin, "Tamper")
    payment_ids = []
    for n in range(3):
        payment_id = uuid7()
        reply = http(
            f"{stack.url}/api/g/{event_id}/payment",
            "POST",
            token=admin,
            body={
                "payment_id": payment_id,
                "patron_name": f"Honest patron {n}",
                "amount": "25.00",
                "payment_method": "cash",
            },
        )
        if reply.status != 201:
            raise RuntimeError(f"logging a payment answered {reply.status}: {reply.raw[:300]!r}")
        payment_ids.append(payment_id)
    projection = StackProjection(stack)
    (settled,) = projection.wait_until_settled([event_id])
    if not settled.settled or settled.summary_payments != 3:
        raise RuntimeError(f"the payments were not projected: {settled}")
    before = _tamper_reports(stack)

    # When a compromised role changes one payment and deletes another, bypassing the API
    def key(payment_id: str) -> dict[str, Any]:
        return {"pk": {"S": keys.event_pk(event_id)}, "sk": {"S": keys.payment_sk(payment_id)}}

    projection.client.update_item(
        TableName=projection.ledger_table,
        Key=key(payment_ids[0]),
        UpdateExpression="SET amount_cents = :a",
        ExpressionAttributeValues={":a": {"N": "2500000"}},
    )
    projection.client.delete_item(TableName=projection.ledger_table, Key=key(payment_ids[1]))
    writes = 2

    deadline = time.monotonic() + DETECT_SECONDS
    reports: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        reports = _tamper_reports(stack)[len(before) :]
        if len(reports) >= writes:
            break
        time.sleep(0.25)
    detected = {
        (report.get("change"), (report.get("keys") or {}).get("sk"))
        for report in reports
        if (report.get("old_image") or {}).get("amount_cents") == 2500
    }
    check = projection.check(event_id)
    return {
        "tamper_writes": writes,
        # each tamper write, seen with the item as it was before
        "tamper_detected": len(
            detected
            & {
                ("MODIFY", keys.payment_sk(payment_ids[0])),
                ("REMOVE", keys.payment_sk(payment_ids[1])),
            }
        ),
        "tamper_metric_count": _metric_total(stack),
        # reconcile compares the untouched totals with the changed ledger
        "reconcile_events_reported": int(bool(check.drift)),
    }


def _log_objects(stack: StackProcess) -> list[dict[str, Any]]:
    """Every JSON object the stack's functions logged (Powertools log lines and EMF blobs)."""
    found = []
    for line in stack.output().splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            value = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _tamper_reports(stack: StackProcess) -> list[dict[str, Any]]:
    return [line for line in _log_objects(stack) if line.get("message") == _TAMPER_MESSAGE]


def _metric_total(stack: StackProcess) -> int:
    total = 0.0
    for blob in _log_objects(stack):
        values = blob.get("LedgerTamperDetected")
        if "_aws" in blob and values is not None:
            total += sum(values) if isinstance(values, list) else float(values)
    return int(total)
