"""Pure arithmetic of the per-event summary: the same function serves the projector (a batch's
delta) and reconcile (the whole ledger), so both always agree on what "the total" means."""

from __future__ import annotations

from collections.abc import Iterable

from shared.models import PAYMENT_METHODS, Payment, Summary, Void


def summarize(payments: Iterable[Payment], voids: Iterable[Void]) -> Summary:
    """Totals of a set of ledger entries, in integer cents. ``by_method_cents`` is net
    (payments minus their voids); ``last_payment_at`` is the latest ``received_at``."""
    by_method = dict.fromkeys(PAYMENT_METHODS, 0)
    payment_count = gross = 0
    last = None
    for payment in payments:
        payment_count += 1
        gross += payment.amount_cents
        by_method[payment.payment_method] += payment.amount_cents
        if last is None or payment.received_at > last:
            last = payment.received_at
    void_count = voided = 0
    for void in voids:
        void_count += 1
        voided += void.amount_cents
        by_method[void.payment_method] -= void.amount_cents
    return Summary(
        payment_count=payment_count,
        void_count=void_count,
        gross_cents=gross,
        voided_cents=voided,
        by_method_cents=by_method,
        last_payment_at=last,
    )


def drift(expected: Summary, actual: Summary) -> dict[str, int]:
    """Per-figure difference actual - expected (cents or counts); empty when they agree."""
    figures = {
        "payment_count": actual.payment_count - expected.payment_count,
        "void_count": actual.void_count - expected.void_count,
        "gross_cents": actual.gross_cents - expected.gross_cents,
        "voided_cents": actual.voided_cents - expected.voided_cents,
        "net_cents": actual.net_cents - expected.net_cents,
    }
    for method in PAYMENT_METHODS:
        figures[f"{method}_cents"] = actual.by_method_cents.get(
            method, 0
        ) - expected.by_method_cents.get(method, 0)
    return {name: diff for name, diff in figures.items() if diff != 0}
