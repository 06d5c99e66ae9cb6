"""The bookkeeper's export: the ledger as CSV, one row per payment (voids on their payment's row).

UTF-8, RFC 4180 (CRLF line ends, fields quoted when they hold a comma, quote or line break),
a header row. Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
`@`, tab or carriage return: OWASP's CSV-injection list) are neutralised with a leading `'`;
amounts are plain decimal strings ("150.00") a spreadsheet sums as numbers.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from shared.errors import EventNotFound
from shared.models import Event, Model, Payment, Void
from shared.money import format_cents
from shared.repository import LedgerTable
from shared.timeutil import iso_z

COLUMNS = (
    "event_id",
    "event_name",
    "event_date",
    "payment_id",
    "received_at",
    "logged_at",
    "patron_name",
    "payment_method",
    "reference",
    "amount",
    "currency",
    "status",
    "void_reason",
    "voided_by",
    "logged_by",
    "notes",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINK_SECONDS = 300


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would evaluate becomes text (OWASP: prefix a single quote)."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def _row(event: Event, payment: Payment, void: Void | None) -> list[str]:
    values = {
        "event_id": event.event_id,
        "event_name": event.event_name,
        "event_date": event.date.isoformat(),
        "payment_id": payment.payment_id,
        "received_at": iso_z(payment.received_at),
        "logged_at": iso_z(payment.timestamp),
        "patron_name": payment.patron_name,
        "payment_method": payment.payment_method,
        "reference": payment.reference or "",
        "amount": format_cents(payment.amount_cents),
        "currency": payment.currency,
        "status": "paid" if void is None else "void",
        "void_reason": "" if void is None else void.reason,
        "voided_by": "" if void is None else void.voided_by,
        "logged_by": payment.logged_by,
        "notes": payment.notes or "",
    }
    return [neutralise(values[column]) for column in COLUMNS]


def event_rows(
    table: LedgerTable, event: Event, keep: Callable[[Payment], bool] = lambda _: True
) -> Iterator[list[str]]:
    """The event's payments in ledger (time) order; the ledger is read page by page."""
    payments, voids = table.ledger(event.event_id)
    by_payment = {void.payment_id: void for void in voids}
    for payment in payments:
        if keep(payment):
            yield _row(event, payment, by_payment.get(payment.payment_id))


def render(rows: Iterable[list[str]]) -> tuple[str, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return buffer.getvalue(), count


@dataclass(frozen=True)
class Export:
    filename: str
    text: str
    rows: int


def event_export(table: LedgerTable, event_id: str) -> Export:
    event = table.get_event(event_id)
    if event is None:
        raise EventNotFound(event_id)
    text, rows = render(event_rows(table, event))
    return Export(f"{event_id}-payments.csv", text, rows)


def range_export(table: LedgerTable, start: date, end: date) -> Export:
    """Payments of every event received on the UTC days start..end (inclusive)."""

    def in_range(payment: Payment) -> bool:
        return start <= payment.received_at.date() <= end  # received_at is UTC

    rows = (row for event in table.list_events() for row in event_rows(table, event, in_range))
    text, count = render(rows)
    return Export(f"payments-{start.isoformat()}-to-{end.isoformat()}.csv", text, count)


class ExportLink(Model):
    """The answer for an export too big for a Lambda response: a presigned link to the CSV."""

    status: Literal["exported"] = "exported"
    url: str
    expires_at: str
    rows: int


def fits_inline(export: Export, max_bytes: int) -> bool:
    """Whether the CSV fits in a Lambda response body (measured as the JSON it travels in)."""
    return len(json.dumps(export.text)) <= max_bytes


class ExportBucket:
    """Large exports go to the private bucket and leave as a short-lived presigned link.
    The S3 client is made on first use: most exports fit in the response, and a cold start
    should not pay for S3."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    def _s3(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            from shared import clients

            # SigV4: S3 refuses SigV2 presigned links in newer regions and for KMS objects.
            self._client = clients.aws_session().client(
                "s3", config=Config(signature_version="s3v4")
            )
        return self._client

    def link(self, export: Export) -> str:
        key = f"exports/{uuid.uuid4()}/{export.filename}"
        self._s3().put_object(
            Bucket=self._bucket,
            Key=key,
            Body=export.text.encode("utf-8"),
            ContentType="text/csv; charset=utf-8",
            ContentDisposition=f'attachment; filename="{export.filename}"',
        )
        return str(
            self._s3().generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=LINK_SECONDS,
            )
        )
