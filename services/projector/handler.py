"""ProjectorFunction (template.yaml): the ledger's stream -> per-event summaries in the
projection table, exactly once per ledger item (services/projector/logic.py over the projection
store, services/projector/store.py).

A batch is grouped per event (one transaction per event, with a marker per record so a
redelivered record changes nothing); the records that did not make it are reported as batch
item failures, and Lambda retries from the first of them. Ledger tampering (a MODIFY or REMOVE
on the ledger) is logged with both images and counted (LedgerTamperDetected, alarmed on).
"""

from __future__ import annotations

from shared.coldstart import cold_start

with cold_start():
    from datetime import datetime
    from typing import Any

    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from services.projector.config import ProjectorConfig
    from services.projector.logic import project_batch
    from services.projector.store import ProjectionStore
    from shared import clients
    from shared.config import load_config
    from shared.observability import MetricUnit, get_logger, get_metrics
    from shared.timeutil import utc_now

    logger = get_logger()
    metrics = get_metrics()
    config = load_config(ProjectorConfig)
    store = ProjectionStore(clients.dynamodb_client(), config.projection_table_name)
    # A batch in which every record failed is reported like any partial failure (Lambda
    # retries from the first failed record) rather than as an invocation error.
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )


class RecordNotProjected(RuntimeError):
    """Marks a record for redelivery (Lambda retries from the first failed sequence number)."""


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The whole batch is grouped per event first (one transaction per event), then the
    # processor reports the records that did not make it as batch item failures.
    records = event.get("Records") or []
    now = utc_now()
    outcome = project_batch(store, records, now)
    for change in outcome.tampered:
        logger.error("ledger item changed after it was written", extra=change.log_fields())
    metrics.add_metric(
        name="LedgerTamperDetected", unit=MetricUnit.Count, value=len(outcome.tampered)
    )
    metrics.add_metric(name="RecordsProjected", unit=MetricUnit.Count, value=outcome.applied)
    lag = projection_lag_ms(records, now)
    if lag is not None:
        metrics.add_metric(name="ProjectionLag", unit=MetricUnit.Milliseconds, value=lag)
    logger.info(
        "batch projected",
        extra={
            "applied": outcome.applied,
            "already_applied": outcome.already_applied,
            "ignored": outcome.ignored,
            "failed": len(outcome.failed),
            "transactions": outcome.transactions,
            "tampered": len(outcome.tampered),
        },
    )

    def check(record: DynamoDBRecord) -> None:
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        if sequence in outcome.failed:
            raise RecordNotProjected(sequence)

    response = process_partial_response(
        event=event, record_handler=check, processor=processor, context=context
    )
    return dict(response)


def projection_lag_ms(records: list[dict[str, Any]], now: datetime) -> int | None:
    """How long the batch's oldest record waited on the stream (ApproximateCreationDateTime is
    in whole seconds), or None when no record carries the time."""
    seconds = [
        int(stamp)
        for record in records
        if (stamp := (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")) is not None
    ]
    if not seconds:
        return None
    return max(0, int(now.timestamp() * 1000) - min(seconds) * 1000)
