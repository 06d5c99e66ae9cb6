"""Crashes of the stream pollers: while payments keep arriving, the local stack's pollers are
killed mid-batch (with the workers running their functions) and started again from their
checkpoints (`kill -USR1`, devstack/__main__.py). The batches in flight are delivered again;
the totals must still equal the ledger to the cent and every payment is mailed once."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

from shared.models import PAYMENT_METHODS
from tests.e2e.api_client import http, sign_in_as, uuid7
from tests.e2e.stack_process import StackProcess
from tests.verify.projection_checks import StackProjection, create_event, wait_for_mails

RESTART_LOG_LINE = "stream pollers restarted after a crash"
EVENTS = 3
CLIENTS = 6
RESTART_SECONDS = 60.0


def run(stack: StackProcess, *, payments: int, restarts: int, seed: int = 5) -> dict[str, int]:
    """Keys: restarts, restart_drift_cents, restart_stale_last_payment_at, restart_lost,
    restart_duplicate_mails, restart_missing_mails."""
    rng = random.Random(seed)
    admin = sign_in_as(stack, stack.admin_email, stack.admin_password).token
    events = [create_event(stack, admin, f"Restart {n}") for n in range(EVENTS)]
    sent: dict[str, str] = {}
    sent_lock = threading.Lock()
    bodies = []
    for n in range(payments):
        bodies.append(
            (
                events[n % EVENTS],
                {
                    "payment_id": uuid7(),
                    "patron_name": f"Restart patron {n}",
                    "amount": f"{rng.randint(1, 90_000) / 100:.2f}",
                    "payment_method": rng.choice(PAYMENT_METHODS),
                },
            )
        )
    pending = list(reversed(bodies))

    def client() -> None:
        while True:
            with sent_lock:
                if not pending:
                    return
                event_id, body = pending.pop()
            reply = http(f"{stack.url}/api/g/{event_id}/payment", "POST", body=body, token=admin)
            if reply.status in (200, 201):
                with sent_lock:
                    sent[body["payment_id"]] = event_id

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    # Crash the pollers while the stream is busy: spread over the time the payments take.
    done = 0
    for number in range(restarts):
        target = (number + 1) * payments // (restarts + 1)
        while True:
            with sent_lock:
                reached = len(sent) >= target or not pending
            if reached:
                break
            time.sleep(0.05)
        done += _crash_pollers(stack)
    for thread in threads:
        thread.join()

    projection = StackProjection(stack)
    checks = projection.wait_until_settled(events)
    in_ledger = projection.payment_ids(events)
    mails = wait_for_mails(stack.mail_dir, set(sent))
    return {
        "restarts": done,
        "restart_drift_cents": sum(check.drift_cents for check in checks),
        "restart_stale_last_payment_at": sum(check.stale_last_payment_at for check in checks),
        "restart_lost": len(set(sent) - in_ledger),
        "restart_duplicate_mails": sum(count - 1 for count in mails.values() if count > 1),
        "restart_missing_mails": sum(1 for pid in sent if mails["logged", pid] == 0),
    }


def _crash_pollers(stack: StackProcess) -> int:
    """Signal the stack (a process this run started) and wait until it says it restarted."""
    before = stack.output().count(RESTART_LOG_LINE)
    os.kill(stack.pid, signal.SIGUSR1)
    deadline = time.monotonic() + RESTART_SECONDS
    while time.monotonic() < deadline:
        if stack.output().count(RESTART_LOG_LINE) > before:
            return 1
        time.sleep(0.1)
    raise RuntimeError(f"the local stack did not restart its pollers within {RESTART_SECONDS} s")
