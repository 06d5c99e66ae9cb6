"""Single-table key layout (README, "Data model"). Every key string is built here."""

from __future__ import annotations

EVENT_PREFIX = "EVENT#"
META_SK = "META"
PAYMENT_PREFIX = "PAYMENT#"
VOID_PREFIX = "VOID#"
CLOSEOUT_PREFIX = "CLOSEOUT#"
SUMMARY_SK = "SUMMARY"
APPLIED_PREFIX = "APPLIED#"
EVENTS_GSI = "EventsByDate"
EVENTS_GSI_PK = "EVENTS"


def event_pk(event_id: str) -> str:
    return f"{EVENT_PREFIX}{event_id}"


def payment_sk(payment_id: str) -> str:
    return f"{PAYMENT_PREFIX}{payment_id}"


def void_sk(payment_id: str) -> str:
    return f"{VOID_PREFIX}{payment_id}"


def closeout_sk(closeout_id: str) -> str:
    return f"{CLOSEOUT_PREFIX}{closeout_id}"


def events_gsi_sk(event_date: str, event_id: str) -> str:
    # Date first so the index lists events chronologically; the id breaks ties.
    return f"{event_date}#{event_id}"
