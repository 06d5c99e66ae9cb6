"""Sessions ended early: the DynamoDB adapter of the RevocationsTable.

API Gateway's JWT authorizer checks a token's signature and expiry, not whether Cognito has
revoked it. When an admin disables a person or changes their role, the people function signs
them out in Cognito (their refresh tokens stop working) and records here that every token
issued to them up to now is void; the API functions refuse such a token on its next request.
An item lives one day, the longest a Cognito ID token can be valid, and then expires by TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.clients import DynamoTable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

# Cognito's longest ID/access token validity: after this, no token the item refuses is alive.
KEEP_SECONDS = 24 * 60 * 60


class Revocations(DynamoTable):
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(client, table_name)
        self._clock = clock
        self._sleep = sleep

    def revoked_before(self, sub: str) -> int | None:
        """Epoch second up to which this person's tokens are void, or None.

        A strongly consistent read: a person disabled a moment ago is refused on the very next
        request, whichever function serves it."""
        response = self._client.get_item(
            TableName=self._table,
            Key={"sub": {"S": sub}},
            ConsistentRead=True,
            ProjectionExpression="revoked_before",
        )
        item = response.get("Item")
        if item is None or "N" not in item.get("revoked_before", {}):
            return None
        return int(item["revoked_before"]["N"])

    def revoke(self, sub: str, *, now_epoch: int) -> None:
        """Void every token issued to `sub` up to the second `now_epoch` (never moves the mark
        back), and return only once that second is over. Tokens carry `iat` in whole seconds:
        waiting out the second means a token issued after this call (a sign-in with the new
        role, or after being enabled again) is never mistaken for a revoked one."""
        self._record(sub, now_epoch)
        remaining = now_epoch + 1 - self._clock()
        if remaining > 0:
            self._sleep(remaining)

    def _record(self, sub: str, now_epoch: int) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "sub": {"S": sub},
                    "revoked_before": {"N": str(now_epoch)},
                    "expires_at": {"N": str(now_epoch + KEEP_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(#sub) OR revoked_before < :now",
                ExpressionAttributeNames={"#sub": "sub"},
                ExpressionAttributeValues={":now": {"N": str(now_epoch)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # A later (or same-second) revocation is already recorded: nothing to move.


def is_revoked(issued_at: int, revoked_before: int | None) -> bool:
    return revoked_before is not None and issued_at <= revoked_before
