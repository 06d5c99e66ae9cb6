"""What every bench section shares: the template, each function's environment as the template
gives it, and an in-process moto holding the template's tables.

Importing this module sets fake AWS credentials and quiet Powertools settings before anything
creates a client or a logger, so no measurement can reach a real account or print its logs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARAMETERS = {
    "Stage": "dev",
    "AdminEmail": "admin@scc.example",
    "AllowedOrigin": "http://localhost:8000",
}

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
for _name, _value in FAKE_AWS.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
# The handlers run in this process: their logs and EMF metrics would drown the table.
QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
os.environ.update(QUIET)

# Physical names of the template's resources in the bench's moto.
PHYSICAL_IDS = {
    "PaymentsTable": "bench-ledger",
    "ProjectionTable": "bench-projection",
    "RevocationsTable": "bench-revocations",
    "IdempotencyTable": "bench-idempotency",
    "ExportBucket": "bench-exports",
    "UserPool": f"{REGION}_bench",
    "UserPoolClient": "benchclient",
}
LEDGER = PHYSICAL_IDS["PaymentsTable"]
PROJECTION = PHYSICAL_IDS["ProjectionTable"]
REVOCATIONS = PHYSICAL_IDS["RevocationsTable"]
IDEMPOTENCY = PHYSICAL_IDS["IdempotencyTable"]
TABLE_IDS = ("PaymentsTable", "ProjectionTable", "RevocationsTable", "IdempotencyTable")

# The functions `make bench` measures: logical id -> short name.
FUNCTIONS = {
    "IngestFunction": "ingest",
    "QueryFunction": "query",
    "ProjectorFunction": "projector",
    "NotifierFunction": "notifier",
    "PeopleFunction": "people",
}


@cache
def translated_template() -> dict[str, Any]:
    from devstack.template import load_template, translate

    return translate(load_template(ROOT / "template.yaml"), PARAMETERS, region=REGION)


def resource_properties(logical_id: str) -> dict[str, Any]:
    return dict(translated_template()["Resources"][logical_id]["Properties"])


def function_environment(logical_id: str) -> dict[str, str]:
    """The function's variables as CloudFormation would resolve them for the bench's names."""
    from devstack.intrinsics import NO_VALUE, Resolver, ResourceValues

    translated = translated_template()
    resources = {
        name: ResourceValues(
            PHYSICAL_IDS.get(name, f"bench-{name}"),
            {
                "Arn": f"arn:aws:bench:{REGION}:{ACCOUNT_ID}:{name}",
                "StreamArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}/stream/bench",
                "QueueName": f"bench-{name}",
            },
        )
        for name in translated["Resources"]
    }
    resolve = Resolver(
        translated, PARAMETERS, region=REGION, account_id=ACCOUNT_ID, resources=resources
    )
    variables = resource_properties(logical_id).get("Environment", {}).get("Variables", {})
    resolved = resolve(variables)
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in resolved.items()
        if value is not NO_VALUE
    }


def in_process_environment(logical_id: str) -> dict[str, str]:
    """The function's variables for a handler module imported into this process (quiet: the
    template's log level would print every request into the bench's table)."""
    return {**function_environment(logical_id), **QUIET}


def lambda_environment(logical_id: str) -> dict[str, str]:
    """A fresh execution environment's variables: the template's plus the runtime's (as the
    local stack's workers get them), for a process that imports the handler module."""
    from devstack.runner import lambda_environment as runtime_environment
    from devstack.template import FunctionSpec

    properties = resource_properties(logical_id)
    spec = FunctionSpec(
        logical_id=logical_id,
        name=f"bench-{logical_id}",
        handler=str(properties["Handler"]),
        environment=function_environment(logical_id),
        timeout_seconds=int(properties.get("Timeout", 3)),
        memory_mb=int(properties.get("MemorySize", 128)),
        runtime=str(properties.get("Runtime", "")),
    )
    return runtime_environment(spec, endpoint_url=None, region=REGION, repo_root=ROOT)


def handler_module(logical_id: str) -> str:
    return str(resource_properties(logical_id)["Handler"]).rpartition(".")[0]


@contextlib.contextmanager
def moto_tables(logical_ids: tuple[str, ...] = TABLE_IDS) -> Iterator[Any]:
    """A `dynamodb` client on a fresh in-process moto holding the template's tables."""
    import boto3
    from moto import mock_aws

    from devstack.template import create_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        for logical_id in logical_ids:
            create_table(client, translated_template(), logical_id, PHYSICAL_IDS[logical_id])
        yield client


def plain_client(like: Any) -> Any:
    """Another client on the same endpoint (no hooks): fills tables without being counted."""
    import boto3

    return boto3.client(
        "dynamodb", region_name=like.meta.region_name, endpoint_url=like.meta.endpoint_url
    )


def numbers_only(values: Mapping[str, Any]) -> dict[str, float | int]:
    return {
        k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
