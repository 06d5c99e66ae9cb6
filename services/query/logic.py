"""Read side: events with their projected summaries and pages of the ledger."""

from __future__ import annotations

from datetime import date

from services.query import export
from shared import validators
from shared.errors import EventNotFound, ValidationFailed
from shared.models import (
    PATRON_NAME_MAX,
    PAYMENT_METHODS,
    CloseoutList,
    CloseoutView,
    EventList,
    EventView,
    PaymentPage,
    PaymentView,
    SummaryView,
)
from shared.repository import LedgerTable, PaymentFilter, SummaryTable
from shared.text import clean_text
from shared.timeutil import parse_iso_z


def list_events(table: LedgerTable, summaries: SummaryTable) -> EventList:
    """The events with their totals (only signed-in people reach this: the routes need a role)."""
    events = table.list_events()
    totals = summaries.many(event.event_id for event in events)
    return EventList(events=[EventView.of(e, totals[e.event_id]) for e in events])


def get_event(table: LedgerTable, summaries: SummaryTable, event_id: str) -> EventView:
    event = table.get_event(validators.require_event_id(event_id))
    if event is None:
        raise EventNotFound(event_id)
    return EventView.of(event, summaries.get(event_id))


def _day(name: str, value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    return validators.check(name, validators.calendar_date, value.strip())


def payment_filter(
    *, method: str | None, received_from: str | None, received_to: str | None, q: str | None
) -> PaymentFilter:
    """Validate the payment-list query parameters (`method`, `from`, `to`, `q`) like any input:
    a bad value is a 400 naming its parameter. Empty values mean "no filter"."""
    wanted_method = None
    if method is not None and method.strip():
        wanted_method = method.strip().lower()
        if wanted_method not in PAYMENT_METHODS:
            raise ValidationFailed.field("method", f"must be one of {', '.join(PAYMENT_METHODS)}")
    start = _day("from", received_from)
    end = _day("to", received_to)
    if start is not None and end is not None and start > end:
        raise ValidationFailed.field("to", "must be on or after from")
    needle = None
    if q is not None:
        try:
            needle = clean_text(q, max_length=PATRON_NAME_MAX).casefold() or None
        except ValueError as exc:
            raise ValidationFailed.field("q", str(exc)) from None
    return PaymentFilter(
        method=wanted_method, received_from=start, received_to=end, patron_contains=needle
    )


def payment_page(
    table: LedgerTable,
    summaries: SummaryTable,
    event_id: str,
    *,
    limit: int,
    cursor: str | None,
    filters: PaymentFilter | None = None,
) -> PaymentPage:
    event = table.get_event(validators.require_event_id(event_id))
    if event is None:
        raise EventNotFound(event_id)
    page = table.payment_page(event_id, limit=limit, cursor=cursor, filters=filters)
    summary = summaries.get(event_id)
    closed_at = None if summary.closeout is None else parse_iso_z(summary.closeout.closed_at)
    return PaymentPage(
        event=EventView.of(event, summary),
        payments=[
            PaymentView.of(p, page.voids.get(p.payment_id), closed_at=closed_at)
            for p in page.payments
        ],
        summary=SummaryView.of(summary, event.expected_total_cents),
        next_cursor=page.next_cursor,
    )


def closeouts(table: LedgerTable, event_id: str) -> CloseoutList:
    if table.get_event(validators.require_event_id(event_id)) is None:
        raise EventNotFound(event_id)
    return CloseoutList(closeouts=[CloseoutView.of(c) for c in table.closeouts(event_id)])


def event_export(table: LedgerTable, event_id: str) -> export.Export:
    return export.event_export(table, validators.require_event_id(event_id))


def export_range(received_from: str | None, received_to: str | None) -> tuple[date, date]:
    """The export's `from`/`to`: both required, real days, from <= to, at most two years."""
    start, end = _day("from", received_from), _day("to", received_to)
    if start is None:
        raise ValidationFailed.field("from", "is required (YYYY-MM-DD)")
    if end is None:
        raise ValidationFailed.field("to", "is required (YYYY-MM-DD)")
    if start > end:
        raise ValidationFailed.field("to", "must be on or after from")
    if (end - start).days > 731:
        raise ValidationFailed.field("to", "must be at most two years after from")
    return start, end


def range_export(
    table: LedgerTable, received_from: str | None, received_to: str | None
) -> export.Export:
    return export.range_export(table, *export_range(received_from, received_to))
