"""Projector: a batch of stream records -> per-event summary deltas, exactly once; and any
change to a ledger item (never legitimate) reported as tampering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from services.projector.store import ProjectionRetryExhausted, ProjectionStore, group_by_event
from services.projector.tamper import LedgerChange, ledger_change
from shared.observability import get_logger
from shared.stream import LedgerEntry, MalformedRecord, parse_record, sequence_number

logger = get_logger()


@dataclass
class BatchOutcome:
    failed: set[str] = field(default_factory=set)  # sequence numbers to report as failures
    applied: int = 0
    already_applied: int = 0
    ignored: int = 0
    transactions: int = 0
    tampered: list[LedgerChange] = field(default_factory=list)


def project_batch(
    store: ProjectionStore, records: Iterable[Mapping[str, Any]], now: datetime
) -> BatchOutcome:
    """Apply every ledger insert in the batch; report the records that must be redelivered.

    Records of one event go into one transaction (per 99); a failure of one event's
    transaction fails only that event's records, so the other events still move forward.
    """
    outcome = BatchOutcome()
    entries: list[LedgerEntry] = []
    for record in records:
        change = ledger_change(record)
        if change is not None:
            # Reported, not retried: redelivering a change cannot undo it.
            outcome.tampered.append(change)
            continue
        try:
            entry = parse_record(record)
        except MalformedRecord as exc:
            logger.error("poison record", extra={"reason": str(exc)})
            outcome.failed.add(sequence_number(record))
            continue
        if entry is None:
            outcome.ignored += 1
            continue
        entries.append(entry)
    for event_id, group in group_by_event(entries).items():
        try:
            result = store.apply(event_id, group, now)
        except (ProjectionRetryExhausted, ClientError, BotoCoreError) as exc:
            logger.warning(
                "projection deferred", extra={"event_id": event_id, "error": type(exc).__name__}
            )
            outcome.failed.update(entry.sequence_number for entry in group)
            continue
        outcome.applied += result.applied
        outcome.already_applied += result.already_applied
        outcome.transactions += result.transactions
    return outcome
