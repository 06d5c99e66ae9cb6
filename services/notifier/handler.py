"""NotifierFunction (template.yaml): one mail per payment and per void (plus the patron's
receipt), idempotent per mail (services/notifier/compose.py writes them, mail.py sends them).

Records arrive from the ledger table's stream, at least once and in batches. Each record is
parsed (anything that is not a PAYMENT#/VOID# insert is ignored), composed into mails, and each
mail goes out through a Powertools idempotent function keyed by the ledger item (pk, sk) and
the audience: a redelivered record, whatever its eventID, finds the mail already sent, and a
retried record re-sends only the mails that failed. A record whose mail failed is reported as
a batch item failure: Lambda retries it (bisecting the batch) and finally hands it to the
on-failure queue.

A receipt that cannot go out is never dropped quietly: a patron address the e-mail rule refuses
(a ledger item older than the rule) or a permanent refusal from the relay is logged as a warning
with the payment id and the masked address, and counted in the `ReceiptsNotSent` metric (every
invocation reports it, zero included). The admins' mails are not affected.
"""

from __future__ import annotations

from shared.coldstart import cold_start

with cold_start():
    from dataclasses import dataclass, field
    from typing import Any

    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from services.notifier import compose
    from services.notifier.config import load_notifier_config
    from services.notifier.mail import (
        MailError,
        MailMessage,
        MailSender,
        PermanentMailError,
        address_of,
        masked_address,
        sender_for,
    )
    from shared import clients
    from shared.observability import MetricUnit, get_logger, get_metrics
    from shared.stream import LedgerEntry, MalformedRecord, parse_record, sequence_number

    logger = get_logger()
    metrics = get_metrics()
    config = load_notifier_config()
    sender: MailSender = sender_for(config, session=clients.aws_session())
    persistence = DynamoDBPersistenceLayer(
        table_name=config.idempotency_table_name, boto3_client=clients.dynamodb_client()
    )
    # All records failing is reported like any partial failure (same retries, bisection,
    # on-failure queue) instead of as an invocation error with a noisy aggregate trace.
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )

# Stable across deployments and function renames, unlike Powertools' default (function name).
IDEMPOTENCY_KEY_PREFIX = "scc-notifier#mail"


def _already_sent(response: Any, idempotent_data: DataRecord) -> Any:
    logger.info("mail already sent; redelivery skipped")
    return response


idempotency = IdempotencyConfig(
    expires_after_seconds=config.idempotency_ttl_seconds,
    raise_on_no_idempotency_key=True,
    response_hook=_already_sent,
)


@dataclass
class Tally:
    """What one invocation could not mail, reported as metrics when it ends (zero included)."""

    receipts_not_sent: list[str] = field(default_factory=list)  # payment ids
    unreadable: list[str] = field(default_factory=list)  # sequence numbers
    sent: int = 0
    failed: int = 0

    def reset(self) -> None:
        self.receipts_not_sent.clear()
        self.unreadable.clear()
        self.sent = self.failed = 0


tally = Tally()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Lets an in-progress idempotency record expire with this invocation if it times out.
    idempotency.register_lambda_context(context)
    tally.reset()
    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        # Zero included, so each series is continuous; flushed by log_metrics.
        metrics.add_metric(name="MailsSent", unit=MetricUnit.Count, value=tally.sent)
        metrics.add_metric(name="MailsFailed", unit=MetricUnit.Count, value=tally.failed)
        metrics.add_metric(
            name="ReceiptsNotSent", unit=MetricUnit.Count, value=len(tally.receipts_not_sent)
        )
        metrics.add_metric(
            name="LedgerRecordsUnreadable", unit=MetricUnit.Count, value=len(tally.unreadable)
        )
    return dict(response)


def record_handler(record: DynamoDBRecord) -> None:
    """One stream record: its mails, each sent at most once; raises to have it retried."""
    try:
        entry = parse_record(record.raw_event)
    except MalformedRecord as exc:
        # A poison record can never be mailed: retrying it would hold back every mail behind
        # it (the mapping retries until a record is 6 h old). Logged and counted; the
        # projector fails the same record into the on-failure queue.
        logger.error(
            "unreadable ledger record",
            extra={"sequence_number": sequence_number(record.raw_event), "reason": str(exc)},
        )
        tally.unreadable.append(sequence_number(record.raw_event))
        return
    if entry is None:
        logger.debug("record ignored", extra={"event_name": record.raw_event.get("eventName")})
        return
    item_keys = (record.raw_event.get("dynamodb") or {}).get("Keys") or {}
    pk, sk = str(item_keys["pk"]["S"]), str(item_keys["sk"]["S"])
    logger.append_keys(event_id=entry.event_id, payment_id=entry.payment_id, kind=entry.kind)
    try:
        send_all(entry, pk, sk)
    finally:
        logger.remove_keys(["event_id", "payment_id", "kind"])


def send_all(entry: LedgerEntry, pk: str, sk: str) -> None:
    """Every mail of one ledger item; the patron's receipt need not wait for the admins'."""
    mails = compose.mails_for(entry, sender=config.sender, admins=config.admin_recipients)
    for unsendable in mails.not_sendable:
        _receipt_not_sent(
            entry.payment_id, unsendable.recipient, unsendable.reason, "InvalidAddress"
        )
    first_error: MailError | None = None
    for outgoing in mails.outgoing:
        try:
            send_once(
                mail={"pk": pk, "sk": sk, "audience": outgoing.audience}, message=outgoing.message
            )
        except IdempotencyAlreadyInProgressError:
            # An earlier invocation started this mail and died (a crash or a timeout): its
            # claim lapses at that invocation's deadline, and the retry after that sends.
            logger.warning(
                "mail still claimed by an earlier invocation; retried",
                extra={"audience": outgoing.audience},
            )
            raise
        except MailError as exc:
            if outgoing.audience == "patron" and isinstance(exc, PermanentMailError):
                # Refused for good (a mailbox that does not exist): retrying cannot help, so
                # the record does not fail; the receipt is logged and counted.
                to = address_of(outgoing.message.to[0])
                _receipt_not_sent(
                    entry.payment_id,
                    masked_address(to),
                    _without(str(exc), to),
                    exc.__class__.__name__,
                )
                continue
            # Otherwise the record fails and is retried (an outage, throttling, a sender the
            # relay refuses: the admins' mail waits until it can go out).
            tally.failed += 1
            first_error = first_error or exc
            level = logger.error if isinstance(exc, PermanentMailError) else logger.warning
            level(
                "mail not sent",
                extra={
                    "audience": outgoing.audience,
                    "error": exc.__class__.__name__,
                    "reason": str(exc),
                },
            )
    if first_error is not None:
        raise first_error


@idempotent_function(
    data_keyword_argument="mail",
    persistence_store=persistence,
    config=idempotency,
    key_prefix=IDEMPOTENCY_KEY_PREFIX,
)
def send_once(*, mail: dict[str, str], message: MailMessage) -> dict[str, Any]:
    """Send one mail unless it was sent before. Only `mail` (the ledger item's pk and sk and the
    audience) is hashed into the idempotency key; the message rides along."""
    sender.send(message)
    tally.sent += 1
    logger.info("mail sent", extra={"audience": mail["audience"], "recipients": len(message.to)})
    return {"sent": True, "recipients": len(message.to)}


def _receipt_not_sent(payment_id: str, recipient: str, reason: str, error: str) -> None:
    logger.warning(
        "receipt not sent",
        extra={
            "audience": "patron",
            "payment_id": payment_id,
            "recipient": recipient,
            "error": error,
            "reason": reason,
        },
    )
    tally.receipts_not_sent.append(payment_id)


def _without(text: str, address: str) -> str:
    """`text` (a relay's refusal may quote the recipient) with `address` masked."""
    return text.replace(address, masked_address(address)) if address else text
