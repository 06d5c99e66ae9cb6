"""Concurrent load through the local gateway: many clients log payments at once, some retry
with the same `payment_id` (a plain retry, or after the connection was dropped before the
answer arrived). Every payment must be in the ledger once, and the totals must equal it."""

from __future__ import annotations

import json
import queue
import random
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.models import PAYMENT_METHODS
from tests.e2e.api_client import HttpReply, http, sign_in_as, uuid7
from tests.e2e.stack_process import StackProcess
from tests.verify.projection_checks import StackProjection, create_event

EVENTS = 4
RETRY_SHARE = 0.10


@dataclass(frozen=True)
class Job:
    event_id: str
    payment_id: str
    body: dict[str, Any]
    retry: str | None  # None, "again" (a second identical request) or "dropped"


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    created: set[str] = field(default_factory=set)  # payment ids answered 201
    replays: int = 0  # 200 answers carrying the original result
    errors: list[str] = field(default_factory=list)  # anything else
    latencies_ms: list[float] = field(default_factory=list)

    def record(self, job: Job, reply: HttpReply, elapsed_ms: float) -> None:
        with self.lock:
            self.latencies_ms.append(elapsed_ms)
            if reply.status in (200, 201) and reply.json.get("payment_id") == job.payment_id:
                if reply.status == 201:
                    if job.payment_id in self.created:
                        self.errors.append(f"{job.payment_id}: created twice")
                    self.created.add(job.payment_id)
                else:
                    self.replays += 1
            else:
                self.errors.append(f"{job.payment_id}: {reply.status} {reply.raw[:200]!r}")


def run(stack: StackProcess, *, payments: int, clients: int, seed: int = 11) -> dict[str, float]:
    """Keys: accepted, replayed, lost, double_counted, drift_cents, failed_requests,
    latency_p50_ms, latency_p99_ms, clients, payments."""
    rng = random.Random(seed)
    admin = sign_in_as(stack, stack.admin_email, stack.admin_password).token
    crew = sign_in_as(stack, stack.crew_email, stack.crew_password).token
    events = [create_event(stack, admin, f"Load {n}") for n in range(EVENTS)]
    jobs: queue.Queue[Job] = queue.Queue()
    sent: dict[str, str] = {}  # payment id -> event id
    for n in range(payments):
        event_id = events[n % EVENTS]
        payment_id = uuid7()
        sent[payment_id] = event_id
        body = {
            "payment_id": payment_id,
            "patron_name": f"Load patron {n}",
            "amount": f"{rng.randint(1, 50_000) / 100:.2f}",
            "payment_method": rng.choice(PAYMENT_METHODS),
        }
        retry = None
        if rng.random() < RETRY_SHARE:
            retry = rng.choice(("again", "dropped"))
        jobs.put(Job(event_id, payment_id, body, retry))
    tally = Tally()
    tokens = (admin, crew)

    def client(number: int) -> None:
        token = tokens[number % 2]  # both roles may log payments
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                return
            url = f"{stack.url}/api/g/{job.event_id}/payment"
            if job.retry == "dropped":
                _send_and_hang_up(url, job.body, token)
            started = time.perf_counter()
            reply = http(url, "POST", body=job.body, token=token)
            tally.record(job, reply, (time.perf_counter() - started) * 1000)
            if job.retry == "again":
                started = time.perf_counter()
                again = http(url, "POST", body=job.body, token=token)
                tally.record(job, again, (time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    projection = StackProjection(stack)
    checks = projection.wait_until_settled(events)
    in_ledger = projection.payment_ids(events)
    summary_count = sum(check.summary_payments for check in checks)
    latencies = sorted(tally.latencies_ms)
    return {
        "payments": payments,
        "clients": clients,
        "accepted": len(tally.created),
        "replayed": tally.replays,
        "failed_requests": len(tally.errors),
        # sent, retried as a client would, and still not in the ledger
        "lost": len(set(sent) - in_ledger),
        # in the totals more often than in the ledger
        "double_counted": max(0, summary_count - len(in_ledger)),
        "drift_cents": sum(check.drift_cents for check in checks),
        "latency_p50_ms": round(statistics.median(latencies), 1),
        "latency_p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
    }


def _send_and_hang_up(url: str, body: dict[str, Any], token: str) -> None:
    """Send the whole request, then close the connection without reading the answer: what a
    phone losing its signal mid-request does. The gateway may or may not have stored it."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        sock.sendall(head + payload)
        sock.shutdown(socket.SHUT_RDWR)
