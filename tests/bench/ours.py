"""Our design, driven through the product's own code: the ingest and query handlers built the way
their handler modules build them (configuration from the template's environment), the
projector's `project_batch` on stream records made from the ledger items as stored, and the
notifier's handler with its Powertools idempotency on the template's table.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from tests.bench import environment as env
from tests.bench.capacity import CapacityMeter, Usage

ADMIN_SUB = "00000000-0000-4000-8000-00000000a0a0"
ADMIN_EMAIL = "admin@scc.example"
# The README's walk-through payment: what a crew member types at the dock.
TYPICAL_PAYMENT = {
    "patron_name": "John Smith",
    "amount": "150.00",
    "payment_method": "card",
    "notes": "CC ending 4242",
}
STREAM_ARN = f"arn:aws:dynamodb:{env.REGION}:{env.ACCOUNT_ID}:table/{env.LEDGER}/stream/bench"


def uuid7(millis: int | None = None) -> str:
    from shared.ids import new_payment_id

    return new_payment_id(millis if millis is not None else int(time.time() * 1000))


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    size: int  # bytes of the response body


@dataclass
class MailLog:
    """A MailSender that keeps what it was asked to send (recipients per message)."""

    recipients: list[int] = field(default_factory=list)

    def send(self, message: Any) -> None:
        self.recipients.append(len(message.to) + len(getattr(message, "cc", ()) or ()))


class Ours:
    """The product on an in-process moto: every request of `client` is metered."""

    def __init__(self, client: Any) -> None:
        from services.projector.store import ProjectionStore
        from tests.handlers import load_handler

        self.client = client
        self.plain = env.plain_client(client)
        self.meter = CapacityMeter(client)
        self.ingest = load_handler(
            "services.ingest.handler", env.in_process_environment("IngestFunction"), dynamodb=client
        ).lambda_handler
        self.query = load_handler(
            "services.query.handler", env.in_process_environment("QueryFunction"), dynamodb=client
        ).lambda_handler
        self.store = ProjectionStore(client, env.PROJECTION)
        self._sequence = 0

    # --- the API, as API Gateway hands a request to the function --------------------------

    def _call(
        self,
        handler: Any,
        method: str,
        route: str,
        *,
        path: Mapping[str, str] | None = None,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        from tests.integration.support import LambdaContext, build_event

        kwargs: dict[str, Any] = {"path_params": dict(path or {}), "query": dict(query or {})}
        if body is not None:
            kwargs["body"] = body
        event = build_event(method, route, **kwargs)
        event["requestContext"]["authorizer"] = {
            "jwt": {
                "claims": {
                    "sub": ADMIN_SUB,
                    "email": ADMIN_EMAIL,
                    "cognito:groups": "[admin]",
                    "token_use": "id",
                    "iat": str(int(time.time()) - 60),
                },
                "scopes": None,
            }
        }
        context = LambdaContext(
            function_name="bench",
            memory_limit_in_mb=512,
            invoked_function_arn=f"arn:aws:lambda:{env.REGION}:{env.ACCOUNT_ID}:function:bench",
            aws_request_id=str(uuid.uuid4()),
        )
        response = handler(event, context)
        text = response.get("body") or "null"
        return Reply(int(response["statusCode"]), json.loads(text), len(text.encode("utf-8")))

    def create_event(self, name: str, date: str = "2026-06-14") -> str:
        reply = self._call(
            self.ingest, "POST", "/api/events", body={"event_name": name, "date": date}
        )
        assert reply.status == 201, reply
        return str(reply.body["event_id"])

    def log_payment(self, event_id: str, payment_id: str | None = None, **changes: Any) -> Reply:
        body = {**TYPICAL_PAYMENT, "payment_id": payment_id or uuid7(), **changes}
        return self._call(
            self.ingest,
            "POST",
            "/api/g/{event_id}/payment",
            path={"event_id": event_id},
            body=body,
        )

    def get_event(self, event_id: str) -> Reply:
        return self._call(self.query, "GET", "/api/events/{event_id}", path={"event_id": event_id})

    def list_events(self) -> Reply:
        return self._call(self.query, "GET", "/api/events")

    def payment_page(self, event_id: str) -> Reply:
        return self._call(
            self.query, "GET", "/api/g/{event_id}/payments", path={"event_id": event_id}
        )

    # --- the stream --------------------------------------------------------------------------

    def ledger_items(self, event_id: str, prefix: str = "PAYMENT#") -> list[dict[str, Any]]:
        """The event's ledger items as stored (DynamoDB JSON), in sort-key order."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": env.LEDGER,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": f"EVENT#{event_id}"}, ":p": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            page = self.plain.query(**kwargs)
            items.extend(page.get("Items") or [])
            if not page.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def records(self, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Stream INSERT records carrying these items, as Lambda delivers them."""
        return [stream_record(item, self._next_sequence()) for item in items]

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def project(self, records: Sequence[Mapping[str, Any]]) -> Any:
        from services.projector.logic import project_batch

        outcome = project_batch(self.store, records, datetime.now(UTC))
        assert not outcome.failed, outcome
        return outcome

    def notify(self, records: Sequence[Mapping[str, Any]]) -> MailLog:
        """Run the notifier's handler on these records; its idempotency records are metered."""
        from tests.handlers import load_handler
        from tests.integration.support import LambdaContext

        mails = MailLog()
        handler = load_handler(
            "services.notifier.handler",
            env.in_process_environment("NotifierFunction"),
            dynamodb=self.client,
            sender=mails,
        ).lambda_handler
        context = LambdaContext(
            function_name="bench-notifier",
            memory_limit_in_mb=512,
            invoked_function_arn=f"arn:aws:lambda:{env.REGION}:{env.ACCOUNT_ID}:function:n",
            aws_request_id=str(uuid.uuid4()),
        )
        answer = handler({"Records": list(records)}, cast(Any, context))
        assert not answer.get("batchItemFailures"), answer
        return mails

    def take(self) -> Usage:
        return self.meter.take()


def stream_record(item: Mapping[str, Any], sequence: int) -> dict[str, Any]:
    return {
        "eventID": f"bench-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": env.REGION,
        "eventSourceARN": STREAM_ARN,
        "dynamodb": {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": dict(item),
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": 300,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def seed_summary(client: Any, event_id: str, payments: int) -> None:
    """Give `event_id` the projection of `payments` typical payments without writing them: the
    summary `make reconcile REPAIR=1` would write (ProjectionStore.repair), with every ledger
    item already marked applied. Our write and read paths never touch the ledger history, so
    only the summary's size depends on how many payments the event holds."""
    from services.projector.store import LedgerSnapshot, ProjectionState, ProjectionStore
    from shared.models import Summary
    from tests.builders import a_payment

    if payments <= 0:
        return
    start = datetime(2026, 6, 14, 18, 0, tzinfo=UTC)
    history = [
        a_payment(
            payment_id=uuid7(int(start.timestamp() * 1000) + n),
            event_id=event_id,
            amount_cents=15000,
            payment_method="card",
            received_at=start,
            timestamp=start,
        )
        for n in range(payments)
    ]
    sort_keys = {f"PAYMENT#{p.payment_id}" for p in history}
    snapshot = LedgerSnapshot(
        payments=history,
        voids=[],
        closeouts=[],
        projection=ProjectionState(markers=sort_keys, summary=Summary(), version=None),
    )
    ProjectionStore(client, env.PROJECTION).repair(event_id, snapshot, datetime.now(UTC))
