"""Throughput (section 4), always as a ratio to what moto itself does in the same run.

* The projector: records per second through `project_batch` for a backlog (batches of 100 over
  5 events), against replaying the very requests it sent (captured in an untimed run) straight
  to moto, batch by batch in alternation.
* The local gateway: payments per second and latency with 20 concurrent clients through
  `python -m devstack` (gateway, authorizer, ingest workers, stream pollers), against PutItem
  of the same items from 20 threads straight to the same moto server, in alternating rounds of
  100 (the stream consumers keep working on what earlier rounds wrote, for both alike).
* Submit -> confirmed totals in headless Chromium: tests/e2e/browser/measure_confirm.py.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bench import environment as env
from tests.bench.moto_speed import cheap_transaction_backups
from tests.bench.ours import TYPICAL_PAYMENT, stream_record, uuid7

BATCH = 100
EVENTS = 5
CLIENTS = 20
START = datetime(2026, 6, 14, 18, 0, tzinfo=UTC)


def _backlog(records: int) -> list[dict[str, Any]]:
    """`records` stream records of typical payments, 5 events interleaved."""
    from shared.repository import payment_item, to_ddb
    from tests.builders import a_payment

    events = [f"2026-06-14-backlog-{n}" for n in range(EVENTS)]
    backlog = []
    for n in range(records):
        moment = START + timedelta(milliseconds=n)
        payment = a_payment(
            payment_id=uuid7(int(moment.timestamp() * 1000)),
            event_id=events[n % EVENTS],
            patron_name=TYPICAL_PAYMENT["patron_name"],
            amount_cents=15000,
            payment_method="card",
            notes=TYPICAL_PAYMENT["notes"],
            received_at=moment,
            timestamp=moment,
        )
        backlog.append(stream_record(to_ddb(payment_item(payment)), n + 1))
    return backlog


def _projection_table(client: Any, name: str) -> None:
    from devstack.template import create_table

    create_table(client, env.translated_template(), "ProjectionTable", name)


def _project_one(store: Any, batch: list[dict[str, Any]]) -> float:
    from services.projector.logic import project_batch

    started = time.perf_counter()
    outcome = project_batch(store, batch, datetime.now(UTC))
    elapsed = time.perf_counter() - started
    assert not outcome.failed
    assert outcome.applied == len(batch)
    return elapsed


def _retarget(
    requests: Iterable[tuple[str, dict[str, Any]]], table: str
) -> list[tuple[str, dict[str, Any]]]:
    moved = []
    for operation, params in requests:
        params = copy.deepcopy(params)
        if operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                next(iter(action.values()))["TableName"] = table
        else:
            params["TableName"] = table
        moved.append((operation, params))
    return moved


def _replay(client: Any, requests: list[tuple[str, dict[str, Any]]]) -> float:
    calls: dict[str, Callable[..., Any]] = {
        "TransactWriteItems": client.transact_write_items,
        "UpdateItem": client.update_item,
    }
    started = time.perf_counter()
    for operation, params in requests:
        calls[operation](**params)
    return time.perf_counter() - started


def projector_throughput(records: int) -> dict[str, Any]:
    """Batch by batch, alternating which goes first: the projector on one table, then the
    requests it sent for that batch (captured in an untimed run) replayed on another; both
    tables grow alike, and a burst of noise hits both."""
    from services.projector.store import ProjectionStore

    backlog = _backlog(records)
    batches = [backlog[start : start + BATCH] for start in range(0, len(backlog), BATCH)]
    with cheap_transaction_backups(), env.moto_tables(("ProjectionTable",)) as client:
        for name in ("bench-capture", "bench-raw", "bench-projector"):
            _projection_table(client, name)
        captured: list[tuple[str, dict[str, Any]]] = []

        def capture(params: dict[str, Any], model: Any, **_: Any) -> None:
            captured.append((model.name, copy.deepcopy(params)))

        recorder = env.plain_client(client)
        recorder.meta.events.register("before-parameter-build.dynamodb", capture)
        capture_store = ProjectionStore(recorder, "bench-capture")
        replays: list[list[tuple[str, dict[str, Any]]]] = []
        for batch in batches:
            first = len(captured)
            _project_one(capture_store, batch)
            replays.append(_retarget(captured[first:], "bench-raw"))

        worker = env.plain_client(client)
        store = ProjectionStore(worker, "bench-projector")
        projector_s = raw_s = 0.0
        # The cyclic garbage collector would walk moto's tables and the captured requests at
        # whichever moment it fires: it runs between batches instead, untimed, for both alike.
        gc.collect()
        gc.disable()
        try:
            for index, (batch, replay) in enumerate(zip(batches, replays, strict=True)):
                if index % 2:
                    raw_s += _replay(worker, replay)
                    projector_s += _project_one(store, batch)
                else:
                    projector_s += _project_one(store, batch)
                    raw_s += _replay(worker, replay)
                if index % 10 == 9:
                    gc.collect()
        finally:
            gc.enable()
    projector_rate = records / projector_s
    raw_rate = records / raw_s
    return {
        "projector_records_per_s": projector_rate,
        "projector_raw_records_per_s": raw_rate,
        "projector_vs_raw_ratio": projector_rate / raw_rate,
        "details": {
            "backlog_records": records,
            "batches": len(batches),
            "requests_replayed": len(captured),
            "transactions": sum(1 for op, _ in captured if op == "TransactWriteItems"),
            "most_common_request": statistics.mode(op for op, _ in captured),
            "projector_seconds": round(projector_s, 3),
            "raw_seconds": round(raw_s, 3),
        },
    }


# --- the local gateway ----------------------------------------------------------------------


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _run_concurrently(
    jobs: list[Any], work: Callable[[Any], float], clients: int
) -> tuple[float, list[float]]:
    """Run `work` on every job from `clients` threads; wall seconds and each job's seconds."""
    pending: queue.Queue[Any] = queue.Queue()
    for job in jobs:
        pending.put(job)
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def loop() -> None:
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            try:
                seconds = work(job)
            except Exception as exc:  # noqa: BLE001 - reported below, after every thread ends
                with lock:
                    errors.append(exc)
                return
            with lock:
                latencies.append(seconds)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed; first: {errors[0]!r}")
    return wall, latencies


def _summary_count(ddb: Any, table: str, event_id: str) -> int:
    item = ddb.get_item(
        TableName=table,
        Key={"pk": {"S": f"EVENT#{event_id}"}, "sk": {"S": "SUMMARY"}},
        ConsistentRead=True,
    ).get("Item")
    return 0 if item is None else int(item.get("payment_count", {}).get("N", "0"))


def _wait_projected(
    ddb: Any, table: str, event_id: str, expected: int, timeout: float = 600.0
) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if _summary_count(ddb, table, event_id) >= expected:
            return time.perf_counter() - started
        time.sleep(0.25)
    raise RuntimeError(
        f"{event_id}: the projection did not reach {expected} payments in {timeout} s"
    )


def _rounds(payments: int, size: int = 100) -> list[int]:
    return [min(size, payments - start) for start in range(0, payments, size)]


def gateway_throughput(payments: int, clients: int = CLIENTS) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    from shared.repository import payment_item, to_ddb
    from tests.builders import a_payment
    from tests.e2e.api_client import http, moto_client, sign_in_as
    from tests.e2e.stack_process import start_stack_process

    workdir = Path(tempfile.mkdtemp(prefix="scc-bench-gateway-"))
    stack = start_stack_process(workdir, SEED="0")
    try:
        details = stack.details()
        tables = details["tables"]
        ledger, projection = tables["PaymentsTable"], tables["ProjectionTable"]
        token = sign_in_as(stack, stack.admin_email, stack.admin_password).token
        ddb = moto_client(stack, "dynamodb")

        def new_event(name: str) -> str:
            reply = http(
                stack.url + "/api/events",
                "POST",
                body={"event_name": name, "date": "2026-06-14"},
                token=token,
            )
            assert reply.status == 201, reply.raw
            return str(reply.json["event_id"])

        def post(event_id: str) -> float:
            body = {**TYPICAL_PAYMENT, "payment_id": uuid7()}
            started = time.perf_counter()
            reply = http(f"{stack.url}/api/g/{event_id}/payment", "POST", body=body, token=token)
            elapsed = time.perf_counter() - started
            if reply.status != 201:
                raise RuntimeError(f"{reply.status}: {reply.raw[:200]!r}")
            return elapsed

        local = threading.local()

        def put(item: dict[str, Any]) -> float:
            if not hasattr(local, "client"):
                local.client = boto3.client(
                    "dynamodb",
                    endpoint_url=details["moto_endpoint"],
                    region_name=details.get("region") or env.REGION,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(
                        account_id_endpoint_mode="disabled", max_pool_connections=clients
                    ),
                )
            started = time.perf_counter()
            local.client.put_item(
                TableName=ledger, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
            return time.perf_counter() - started

        def item_for(event_id: str) -> dict[str, Any]:
            payment = a_payment(
                payment_id=uuid7(),
                event_id=event_id,
                patron_name=TYPICAL_PAYMENT["patron_name"],
                amount_cents=15000,
                payment_method="card",
                notes=TYPICAL_PAYMENT["notes"],
                received_at=START,
                timestamp=START,
            )
            return to_ddb(payment_item(payment))

        # Warm-up (not timed): every ingest worker started, connections open.
        warm_event = new_event("Bench Warm Up")
        _run_concurrently([warm_event] * clients, post, clients)
        _run_concurrently([item_for(warm_event) for _ in range(clients)], put, clients)
        _wait_projected(ddb, projection, warm_event, 2 * clients)

        # Alternating rounds: the stream consumers (and moto under them) work on whatever the
        # previous rounds wrote, so both kinds see the same background on average.
        gateway_event, raw_event = new_event("Bench Gateway"), new_event("Bench Raw Put")
        wall = raw_wall = 0.0
        latencies: list[float] = []
        raw_latencies: list[float] = []
        for round_size in _rounds(payments):
            seconds, each = _run_concurrently([gateway_event] * round_size, post, clients)
            wall += seconds
            latencies += each
            items = [item_for(raw_event) for _ in range(round_size)]
            seconds, each = _run_concurrently(items, put, clients)
            raw_wall += seconds
            raw_latencies += each
        projected = sum(_summary_count(ddb, projection, e) for e in (gateway_event, raw_event))
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):  # killed after the grace period
            stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)  # its log and thousands of .eml files
    gateway_rate = payments / wall
    raw_rate = payments / raw_wall
    return {
        "gateway_payments_per_s": gateway_rate,
        "gateway_p50_ms": statistics.median(latencies) * 1000,
        "gateway_p99_ms": _percentile(latencies, 0.99) * 1000,
        "raw_put_per_s": raw_rate,
        "gateway_vs_raw_put_ratio": gateway_rate / raw_rate,
        "details": {
            "payments": payments,
            "clients": clients,
            "raw_put_p50_ms": round(statistics.median(raw_latencies) * 1000, 1),
            "raw_put_p99_ms": round(_percentile(raw_latencies, 0.99) * 1000, 1),
            "rounds": len(_rounds(payments)),
            # How far the stream consumers had got when the last round ended.
            "projected_share_at_end": round(projected / (2 * payments), 3),
        },
    }


def confirm_in_browser(runs: int) -> dict[str, Any]:
    """Reuses tests/e2e/browser/measure_confirm.py (its own stack, headless Chromium)."""
    script = env.ROOT / "tests" / "e2e" / "browser" / "measure_confirm.py"
    result = subprocess.run(
        [sys.executable, str(script), str(runs)],
        cwd=env.ROOT,
        env={**_without_aws(), "PYTHONPATH": str(env.ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = re.search(r"median (\d+) ms, min (\d+) ms, max (\d+) ms", result.stdout)
    if result.returncode != 0 or found is None:
        raise RuntimeError(
            f"measure_confirm.py failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-3000:]}"
        )
    median, low, high = (int(value) for value in found.groups())
    return {"confirm_ms_p50": median, "details": {"runs": runs, "min_ms": low, "max_ms": high}}


def _without_aws() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
