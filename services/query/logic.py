"""Read side: events with their projected summaries and pages of the ledger."""

from __future__ import annotations

from shared.auth import Admin
from shared.errors import EventNotFound, ValidationFailed
from shared.ids import is_event_id
from shared.models import EventList, EventView, PaymentPage, PaymentView, SummaryView
from shared.repository import LedgerTable


def _require_event_id(event_id: str) -> str:
    if not is_event_id(event_id):
        raise ValidationFailed.field("event_id", "must look like 2026-05-23-corporate-mixer")
    return event_id


def list_events(table: LedgerTable, admin: Admin | None) -> EventList:
    """Everyone sees the events; only admins see the money."""
    events = table.list_events()
    if admin is None:
        return EventList(events=[EventView.of(event) for event in events])
    summaries = table.summaries(event.event_id for event in events)
    return EventList(events=[EventView.of(e, summaries[e.event_id]) for e in events])


def get_event(table: LedgerTable, event_id: str, admin: Admin | None) -> EventView:
    event = table.get_event(_require_event_id(event_id))
    if event is None:
        raise EventNotFound(event_id)
    return EventView.of(event, table.get_summary(event_id) if admin is not None else None)


def payment_page(
    table: LedgerTable, event_id: str, *, limit: int, cursor: str | None
) -> PaymentPage:
    event = table.get_event(_require_event_id(event_id))
    if event is None:
        raise EventNotFound(event_id)
    page = table.payment_page(event_id, limit=limit, cursor=cursor)
    summary = table.get_summary(event_id)
    return PaymentPage(
        event=EventView.of(event, summary),
        payments=[PaymentView.of(p, page.voids.get(p.payment_id)) for p in page.payments],
        summary=SummaryView.of(summary, event.expected_total_cents),
        next_cursor=page.next_cursor,
    )
