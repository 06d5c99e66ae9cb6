"""ProjectorFunction: stream batch -> summaries, partial batch failures via Powertools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.projector.logic import project_batch
from shared.observability import get_logger
from shared.projection_store import ProjectionStore
from shared.timeutil import utc_now

logger = get_logger()
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class RecordNotProjected(RuntimeError):
    """Marks a record for redelivery (Lambda retries from the first failed sequence number)."""


def make_handler(store: ProjectionStore) -> Handler:
    # A batch in which every record failed is reported like any partial failure (Lambda
    # retries from the first failed record) rather than as an invocation error.
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )

    @logger.inject_lambda_context(clear_state=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # The whole batch is grouped per event first (one transaction per event), then the
        # processor reports the records that did not make it as batch item failures.
        outcome = project_batch(store, event.get("Records") or [], utc_now())
        logger.info(
            "batch projected",
            extra={
                "applied": outcome.applied,
                "already_applied": outcome.already_applied,
                "ignored": outcome.ignored,
                "failed": len(outcome.failed),
                "transactions": outcome.transactions,
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

    return lambda_handler
