"""The AWS SDK session and clients of one execution environment, built once and shared.

A function that reads two or three tables (ledger, summaries, revocations) needs one DynamoDB
client, not one per table: a client holds no per-table state, and each one is a service model,
an endpoint resolver and a connection pool built and kept for nothing. Likewise one session:
each new session loads and indexes the SDK's data files again.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Self

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any


@cache
def aws_session() -> boto3.session.Session:
    """The session every client of this process comes from (region, endpoint and credentials
    from the environment, as `boto3.client` reads them)."""
    return boto3.session.Session()


@cache
def dynamodb_client() -> DynamoDBClient:
    """The DynamoDB client every table adapter of this process uses."""
    return aws_session().client("dynamodb")


class DynamoTable:
    """A table adapter's common part: the process's DynamoDB client and the table's name
    (`connect` at cold start; tests construct it on their own client)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @classmethod
    def connect(cls, table_name: str) -> Self:
        return cls(dynamodb_client(), table_name)

    @property
    def table_name(self) -> str:
        return self._table
