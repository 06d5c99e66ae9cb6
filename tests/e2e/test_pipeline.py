"""The whole event-driven pipeline on the local stack, over HTTP: ingest writes the ledger, the
stream pollers feed the projector and the notifier, the query API shows the totals, MAIL_DIR
holds the mail, and reconcile agrees with all of it.

Totals and mail are asynchronous (DynamoDB stream -> poller -> function), so the tests poll
until the figures are exact, with a deadline; "exact" is computed here from what was logged.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.api_client import HttpReply, http, sign_in, uuid7
from tests.e2e.stack_process import REPO_ROOT, StackProcess

pytestmark = pytest.mark.e2e

CONVERGE_SECONDS = 20.0
# After the expected mails are there, how long to keep watching for a duplicate. The notifier's
# poller polls every 0.25 s, so a redelivery would show well within this.
MAIL_SETTLE_SECONDS = 0.6
METHODS = ("cash", "card", "check", "venmo", "other")
HOSTILE_NAME = "<script>alert(1)</script>"


# --- what was logged, and what the totals must be --------------------------------------------


@dataclass(frozen=True)
class Logged:
    payment_id: str
    payment_method: str
    amount_cents: int
    received_at: str


@dataclass(frozen=True)
class EventLedger:
    event_id: str
    expected_total_cents: int
    payments: tuple[Logged, ...]
    voided: tuple[str, ...]  # payment ids
    last_write: float  # time.monotonic() when the last write was acknowledged

    def expected_summary(self) -> dict[str, Any]:
        """The summary the ledger implies, computed without the system under test."""
        by_method = dict.fromkeys(METHODS, 0)
        gross = voided = 0
        for payment in self.payments:
            gross += payment.amount_cents
            by_method[payment.payment_method] += payment.amount_cents
            if payment.payment_id in self.voided:
                voided += payment.amount_cents
                by_method[payment.payment_method] -= payment.amount_cents
        net = gross - voided
        return {
            "payment_count": len(self.payments),
            "void_count": len(self.voided),
            "gross_cents": gross,
            "voided_cents": voided,
            "net_cents": net,
            "by_method_cents": by_method,
            "outstanding_cents": self.expected_total_cents - net,
            "last_payment_at": max(p.received_at for p in self.payments),
        }


def cents(amount: str | int) -> int:
    return int(Decimal(str(amount)) * 100)


def same_instant(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def summary_matches(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    figures = {k: v for k, v in expected.items() if k != "last_payment_at"}
    return all(actual.get(k) == v for k, v in figures.items()) and same_instant(
        actual.get("last_payment_at"), expected["last_payment_at"]
    )


def wait_for_totals(
    stack: StackProcess, token: str, ledger: EventLedger
) -> tuple[dict[str, Any], float]:
    """Poll GET /api/g/{id}/payments until its summary is exact; (summary, seconds after the
    last write)."""
    expected = ledger.expected_summary()
    deadline = time.monotonic() + CONVERGE_SECONDS
    summary: dict[str, Any] = {}
    while time.monotonic() < deadline:
        reply = http(f"{stack.url}/api/g/{ledger.event_id}/payments?limit=500", token=token)
        assert reply.status == 200, reply.raw
        summary = reply.json["summary"]
        if summary_matches(summary, expected):
            return summary, time.monotonic() - ledger.last_write
        time.sleep(0.1)
    raise AssertionError(
        f"totals did not converge in {CONVERGE_SECONDS} s: {summary} != {expected}"
    )


# --- the API moves ----------------------------------------------------------------------------


def create_event(stack: StackProcess, token: str, name: str, expected_total: str) -> str:
    reply = http(
        f"{stack.url}/api/events",
        "POST",
        token=token,
        body={
            "event_name": f"{name} {uuid7()[-8:]}",
            "date": "2026-07-04",
            "expected_total": expected_total,
        },
    )
    assert reply.status == 201, reply.raw
    return str(reply.json["event_id"])


def payment_body(
    payment_id: str, patron: str, amount: str | int, method: str, minute: int
) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "patron_name": patron,
        "amount": amount,
        "payment_method": method,
        "received_at": f"2026-07-04T18:{minute:02d}:00Z",
    }


def log_payment(stack: StackProcess, token: str, event_id: str, body: dict[str, Any]) -> HttpReply:
    return http(f"{stack.url}/api/g/{event_id}/payment", "POST", token=token, body=body)


def logged(body: dict[str, Any]) -> Logged:
    return Logged(
        body["payment_id"], body["payment_method"], cents(body["amount"]), body["received_at"]
    )


# --- the mail the notifier spooled ---------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    kind: str  # "logged" | "voided"
    payment_id: str
    html: str
    file: Path


_PAYMENT_ID_LINE = re.compile(r"^Payment id:\s+(\S+)\s*$", re.MULTILINE)


def read_mail(path: Path) -> Mail | None:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    subject = str(message["Subject"])
    kind = "voided" if subject.startswith("Payment voided") else "logged"
    text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    if text_part is None or html_part is None:
        return None
    found = _PAYMENT_ID_LINE.search(text_part.get_content())
    if found is None:
        return None
    return Mail(kind, found.group(1), html_part.get_content(), path)


def mails_for(mail_dir: Path, payment_ids: set[str]) -> list[Mail]:
    mails = (read_mail(path) for path in sorted(mail_dir.glob("*.eml")))
    return [m for m in mails if m is not None and m.payment_id in payment_ids]


def wait_for_mail(
    mail_dir: Path, expected: Counter[tuple[str, str]], *, settle: float = MAIL_SETTLE_SECONDS
) -> list[Mail]:
    """Wait until every expected (kind, payment id) has a mail, then `settle` seconds longer,
    so that a duplicate would have time to show."""
    ids = {payment_id for _, payment_id in expected}
    deadline = time.monotonic() + CONVERGE_SECONDS
    while time.monotonic() < deadline:
        found = Counter((m.kind, m.payment_id) for m in mails_for(mail_dir, ids))
        if all(found[key] >= count for key, count in expected.items()):
            time.sleep(settle)
            return mails_for(mail_dir, ids)
        time.sleep(0.1)
    raise AssertionError(f"mail missing after {CONVERGE_SECONDS} s: {expected - found}")


# --- one event: payments, a replay, a void ----------------------------------------------------------


@pytest.fixture(scope="module")
def token(local_stack: StackProcess) -> str:
    return sign_in(local_stack)


@pytest.fixture(scope="module")
def mixer(local_stack: StackProcess, token: str) -> EventLedger:
    """Five payments (decimal strings and a JSON number, several methods), one replay, one void."""
    event_id = create_event(local_stack, token, "Pipeline Mixer", "1000.00")
    bodies = [
        payment_body(uuid7(), HOSTILE_NAME, "150.10", "cash", 1),
        payment_body(uuid7(), "Ana Lima", 99, "card", 2),
        payment_body(uuid7(), "Bo Chen", "20.05", "card", 3),
        payment_body(uuid7(), "Cy Diaz", "300", "venmo", 4),
        payment_body(uuid7(), "Di Ekwe", "0.01", "cash", 5),
    ]
    for body in bodies:
        reply = log_payment(local_stack, token, event_id, body)
        assert reply.status == 201, reply.raw
    replay = log_payment(local_stack, token, event_id, bodies[1])
    assert replay.status == 200, replay.raw
    voided = bodies[2]["payment_id"]
    void = http(
        f"{local_stack.url}/api/g/{event_id}/payments/{voided}/void",
        "POST",
        token=token,
        body={"reason": "card terminal charged twice"},
    )
    assert void.status == 201, void.raw
    return EventLedger(
        event_id=event_id,
        expected_total_cents=100000,
        payments=tuple(logged(b) for b in bodies),
        voided=(voided,),
        last_write=time.monotonic(),
    )


def test_totals_converge_to_the_sums_of_what_was_logged(
    local_stack: StackProcess, token: str, mixer: EventLedger, record_property: Any
) -> None:
    summary, seconds = wait_for_totals(local_stack, token, mixer)

    record_property("convergence_seconds", round(seconds, 2))
    print(f"mixer totals exact {seconds:.2f} s after the last write")
    assert summary["gross_cents"] == 15010 + 9900 + 2005 + 30000 + 1
    assert summary["net_cents"] == summary["gross_cents"] - 2005
    assert summary["outstanding_cents"] == 100000 - summary["net_cents"]


def test_the_event_and_the_event_list_show_the_same_totals(
    local_stack: StackProcess, token: str, mixer: EventLedger
) -> None:
    wait_for_totals(local_stack, token, mixer)
    expected = mixer.expected_summary()

    one = http(f"{local_stack.url}/api/events/{mixer.event_id}", token=token)
    listed = http(f"{local_stack.url}/api/events", token=token)

    assert one.status == 200, one.raw
    assert summary_matches(one.json["summary"], expected)
    ours = [e for e in listed.json["events"] if e["event_id"] == mixer.event_id]
    assert len(ours) == 1
    assert summary_matches(ours[0]["summary"], expected)


def emf_lines(output: str, function: str) -> list[dict[str, Any]]:
    """The EMF metric lines (Powertools Metrics) in one function's log, as the local stack
    prints them: `[<LogicalId> <pid>] {json}`."""
    blobs = []
    for line in output.splitlines():
        prefix, _, text = line.partition("] ")
        if prefix.startswith(f"[{function} ") and text.startswith('{"_aws"'):
            blobs.append(json.loads(text))
    return blobs


def test_the_function_logs_carry_the_business_metrics_as_emf(
    local_stack: StackProcess, token: str, mixer: EventLedger
) -> None:
    # Given the mixer's payments, replay and void, projected
    wait_for_totals(local_stack, token, mixer)
    # Then the ingest function's log has one EMF line per payment: namespace, service, count
    # and amount in cents, with the payment id beside them
    ingest = emf_lines(local_stack.output(), "IngestFunction")
    by_payment: dict[str, list[dict[str, Any]]] = {}
    for blob in ingest:
        by_payment.setdefault(str(blob.get("payment_id")), []).append(blob)
    for payment in mixer.payments:
        blobs = by_payment[payment.payment_id]
        created = [b for b in blobs if "PaymentsLogged" in b]
        assert len(created) == 1, blobs
        assert _values(created[0], "PaymentsLoggedCents") == [payment.amount_cents]
        assert created[0]["service"] == "scc-ingest"
        assert created[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "scc-payments"
    assert any("PaymentsReplayed" in b for b in by_payment[mixer.payments[1].payment_id])
    assert any("PaymentsVoided" in b for b in by_payment[mixer.voided[0]])
    # And the stream functions report theirs: records projected, mails sent
    projected = emf_lines(local_stack.output(), "ProjectorFunction")
    assert sum(sum(_values(b, "RecordsProjected")) for b in projected) >= len(mixer.payments) + 1
    mailed = emf_lines(local_stack.output(), "NotifierFunction")
    assert sum(sum(_values(b, "MailsSent")) for b in mailed) >= len(mixer.payments) + 1


def _values(blob: dict[str, Any], metric: str) -> list[float]:
    value = blob.get(metric, [])
    return [float(v) for v in (value if isinstance(value, list) else [value])]


def test_every_payment_and_void_is_mailed_exactly_once(
    local_stack: StackProcess, mixer: EventLedger
) -> None:
    expected = Counter(("logged", p.payment_id) for p in mixer.payments)
    expected.update(("voided", payment_id) for payment_id in mixer.voided)

    mails = wait_for_mail(local_stack.mail_dir, expected)

    # The replay of the second payment wrote nothing, so it mailed nothing.
    assert Counter((m.kind, m.payment_id) for m in mails) == expected


def test_a_hostile_patron_name_is_escaped_in_the_html_mail(
    local_stack: StackProcess, mixer: EventLedger
) -> None:
    hostile = mixer.payments[0].payment_id
    mails = wait_for_mail(local_stack.mail_dir, Counter({("logged", hostile): 1}), settle=0)

    (mail,) = [m for m in mails if m.kind == "logged"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert HOSTILE_NAME not in mail.html


# --- many admins at once, with retries ---------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    ledger: EventLedger
    statuses: dict[str, list[int]]  # payment id -> status of each submission


@pytest.fixture(scope="module")
def burst(local_stack: StackProcess, token: str) -> Burst:
    """20 payments from 8 threads; every third one is also sent again (a client retry after a
    lost response), racing the original."""
    event_id = create_event(local_stack, token, "Pipeline Regatta", "5000.00")
    bodies = [
        payment_body(uuid7(), f"Guest {i}", f"{17 * i + 3}.{i:02d}" if i % 2 else 25 + i, m, i)
        for i, m in zip(range(20), METHODS * 4, strict=True)
    ]
    submissions = bodies + bodies[::3]
    random.Random(7).shuffle(submissions)

    def submit(body: dict[str, Any]) -> tuple[str, int]:
        return body["payment_id"], log_payment(local_stack, token, event_id, body).status

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(submit, submissions))
    last_write = time.monotonic()
    statuses: dict[str, list[int]] = {}
    for payment_id, status in results:
        statuses.setdefault(payment_id, []).append(status)
    ledger = EventLedger(event_id, 500000, tuple(logged(b) for b in bodies), (), last_write)
    return Burst(ledger, statuses)


def test_concurrent_submissions_are_each_created_once(burst: Burst) -> None:
    assert len(burst.statuses) == 20
    for payment_id, statuses in burst.statuses.items():
        # One submission created it; a racing retry got the original result back.
        assert statuses.count(201) == 1, (payment_id, statuses)
        assert set(statuses) <= {200, 201}, (payment_id, statuses)


def test_concurrent_submissions_converge_to_exact_totals(
    local_stack: StackProcess, token: str, burst: Burst, record_property: Any
) -> None:
    summary, seconds = wait_for_totals(local_stack, token, burst.ledger)

    record_property("convergence_seconds", round(seconds, 2))
    print(f"burst totals exact {seconds:.2f} s after the last write")
    assert summary["payment_count"] == 20


def test_concurrent_submissions_are_mailed_exactly_once(
    local_stack: StackProcess, burst: Burst
) -> None:
    expected = Counter(("logged", p.payment_id) for p in burst.ledger.payments)

    mails = wait_for_mail(local_stack.mail_dir, expected)

    assert Counter((m.kind, m.payment_id) for m in mails) == expected


# --- reconcile ------------------------------------------------------------------------------------


def run_reconcile(stack_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "ops.reconcile", "--stack-file", str(stack_file)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_reconcile_finds_no_drift_on_the_local_stack(
    local_stack: StackProcess, token: str, mixer: EventLedger, burst: Burst
) -> None:
    for ledger in (mixer, burst.ledger):
        wait_for_totals(local_stack, token, ledger)

    # Reconcile checks every event, including other tests' (the browser suite's, say), whose
    # last payments may still be on their way through the projector: allow it to settle.
    deadline = time.monotonic() + CONVERGE_SECONDS
    result = run_reconcile(local_stack.stack_file)
    while result.returncode == 1 and time.monotonic() < deadline:
        time.sleep(0.5)
        result = run_reconcile(local_stack.stack_file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 with drift" in result.stdout
    assert f"{mixer.event_id}: ok" in result.stdout
    assert f"{burst.ledger.event_id}: ok" in result.stdout
