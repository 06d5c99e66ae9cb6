"""What the load, tamper and restart suites ask of a running local stack: its events' summaries
compared with their ledgers (the same comparison `make reconcile` makes), waited for until the
stream consumers have caught up, and the admin mails the notifier spooled."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.reconcile import read_snapshot
from services.projector.store import ProjectionStore
from shared.projection import drift, summarize
from shared.repository import LedgerTable
from shared.timeutil import iso_z
from tests.e2e.api_client import http, moto_client, uuid7
from tests.e2e.stack_process import StackProcess

CATCH_UP_SECONDS = 240.0
# Drift figures in cents (counts and the last-payment time are reported separately).
_CENT_FIGURES = ("gross_cents", "voided_cents")


@dataclass(frozen=True)
class EventCheck:
    event_id: str
    ledger_payments: int
    summary_payments: int
    drift: dict[str, int]  # figure -> summary minus ledger (reconcile's figures)
    stale_last_payment_at: bool

    @property
    def drift_cents(self) -> int:
        return sum(abs(self.drift.get(figure, 0)) for figure in _CENT_FIGURES)

    @property
    def settled(self) -> bool:
        return not self.drift and not self.stale_last_payment_at


class StackProjection:
    """The stack's ledger and projection tables, read through the product's own adapters."""

    def __init__(self, stack: StackProcess) -> None:
        tables = stack.details()["tables"]
        client = moto_client(stack, "dynamodb")
        self.client = client
        self.ledger_table = str(tables["PaymentsTable"])
        self.ledger = LedgerTable(client, self.ledger_table)
        self.store = ProjectionStore(client, str(tables["ProjectionTable"]))

    def check(self, event_id: str) -> EventCheck:
        snapshot = read_snapshot(self.ledger, self.store, event_id)
        expected = summarize(snapshot.payments, snapshot.voids)
        last = expected.last_payment_at
        shown = snapshot.summary.last_payment_at
        return EventCheck(
            event_id,
            ledger_payments=len(snapshot.payments),
            summary_payments=snapshot.summary.payment_count,
            drift=drift(expected, snapshot.summary),
            stale_last_payment_at=(None if last is None else iso_z(last))
            != (None if shown is None else iso_z(shown)),
        )

    def wait_until_settled(
        self, event_ids: Iterable[str], *, timeout: float = CATCH_UP_SECONDS
    ) -> list[EventCheck]:
        """Poll until every event's summary equals its ledger, or the deadline passes; the last
        checks either way (a drift that never went away is the suite's finding)."""
        ids = list(event_ids)
        deadline = time.monotonic() + timeout
        while True:
            checks = [self.check(event_id) for event_id in ids]
            if all(check.settled for check in checks) or time.monotonic() > deadline:
                return checks
            time.sleep(0.5)

    def payment_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Every payment id in these events' ledgers."""
        return {
            payment.payment_id
            for event_id in event_ids
            for payment in self.ledger.ledger(event_id)[0]
        }


def create_event(stack: StackProcess, token: str, name: str) -> str:
    reply = http(
        f"{stack.url}/api/events",
        "POST",
        token=token,
        body={"event_name": f"{name} {uuid7()[-8:]}", "date": "2026-08-01"},
    )
    if reply.status != 201:
        raise RuntimeError(f"creating an event answered {reply.status}: {reply.raw[:300]!r}")
    return str(reply.json["event_id"])


_PAYMENT_ID_LINE = re.compile(r"^Payment id:\s+(\S+)\s*$", re.MULTILINE)


def admin_mails(mail_dir: Path, payment_ids: set[str]) -> Counter[tuple[str, str]]:
    """(subject kind, payment id) -> how many mails the notifier spooled for it."""
    found: Counter[tuple[str, str]] = Counter()
    for path in mail_dir.glob("*.eml"):
        message: Any = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",))
        if text is None:
            continue
        match = _PAYMENT_ID_LINE.search(text.get_content())
        if match is None or match.group(1) not in payment_ids:
            continue
        kind = "voided" if str(message["Subject"]).startswith("Payment voided") else "logged"
        found[kind, match.group(1)] += 1
    return found


def wait_for_mails(
    mail_dir: Path, payment_ids: set[str], *, timeout: float = CATCH_UP_SECONDS
) -> Counter[tuple[str, str]]:
    """Poll until every payment has its "logged" mail (or the deadline), then once more after
    the notifier's batch window so that a late duplicate would show."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = admin_mails(mail_dir, payment_ids)
        if all(found["logged", payment_id] for payment_id in payment_ids):
            break
        time.sleep(0.5)
    time.sleep(2.0)  # a duplicate would be written within the notifier's next batches
    return admin_mails(mail_dir, payment_ids)
