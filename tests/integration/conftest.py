"""Integration fixtures: the handlers on moto, with the table, routes and environment taken from
template.yaml.

The template is translated once per session (SAM's translator); each test gets a fresh
in-process moto with the `PaymentsTable` created exactly as the template declares it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.template import create_table, load_template, translate
from shared.auth import hash_password
from shared.repository import LedgerTable
from tests.integration.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ALLOWED_ORIGIN,
    HANDLER_FACTORIES,
    TABLE_LOGICAL_ID,
    TABLE_NAME,
    Api,
    DynamoCalls,
    LambdaContext,
    function_environment,
    handler_path,
    routes_from_events,
)

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@pytest.fixture(scope="session", autouse=True)
def _fake_aws_credentials() -> Iterator[None]:
    # Set before any client exists, so nothing can reach a real account.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _AWS_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        yield


@pytest.fixture(scope="session")
def _boto_session(_fake_aws_credentials: None) -> boto3.Session:
    # One session for the run: clients from it share the loaded service models (mock_aws resets
    # boto3's default session, which would reload them for every test).
    return boto3.Session(region_name=REGION)


@pytest.fixture(scope="session", autouse=True)
def _reuse_moto_kms_rsa_key() -> Iterator[None]:
    """The template enables SSE, so moto creates the table's KMS key and generates a fresh RSA
    key pair for it: 40-200 ms of pure CPU per test. No test looks at that key, so every table
    gets the same pre-generated one."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto.kms import utils as kms_utils

    keys: dict[tuple[int, int], Any] = {}

    def cached(public_exponent: int, key_size: int) -> Any:
        if (public_exponent, key_size) not in keys:
            keys[public_exponent, key_size] = rsa.generate_private_key(public_exponent, key_size)
        return keys[public_exponent, key_size]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kms_utils, "rsa", SimpleNamespace(generate_private_key=cached))
        yield


@pytest.fixture(scope="session")
def signing_key() -> str:
    return secrets.token_urlsafe(32)  # 43 characters: 256 bits


@pytest.fixture(scope="session")
def stack_parameters(signing_key: str) -> dict[str, str]:
    """Template parameters for the test stack; a cheap scrypt cost keeps sign-in fast."""
    return {
        "Stage": "dev",
        "AdminEmail": ADMIN_EMAIL,
        "AdminPasswordHash": hash_password(ADMIN_PASSWORD, n=2**10),
        "TokenSigningKey": signing_key,
        "AllowedOrigin": ALLOWED_ORIGIN,
    }


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def translated_template(
    sam_template: dict[str, Any], stack_parameters: dict[str, str]
) -> dict[str, Any]:
    return translate(sam_template, stack_parameters, region=REGION)


@pytest.fixture(scope="session")
def template_routes(sam_template: dict[str, Any]) -> dict[tuple[str, str], str]:
    return routes_from_events(sam_template)


@pytest.fixture
def ddb(translated_template: dict[str, Any], _boto_session: boto3.Session) -> Iterator[Any]:
    """A DynamoDB client on a fresh in-process moto holding the template's table."""
    with mock_aws():
        client = _boto_session.client("dynamodb", region_name=REGION)
        create_table(client, translated_template, TABLE_LOGICAL_ID, TABLE_NAME)
        yield client


@pytest.fixture
def dynamo_calls(ddb: Any) -> DynamoCalls:
    """Counts the DynamoDB calls the handlers make (they share the `ddb` client)."""
    calls = DynamoCalls()
    calls.attach(ddb)
    return calls


@pytest.fixture
def ledger(ddb: Any) -> LedgerTable:
    return LedgerTable(ddb, TABLE_NAME)


@pytest.fixture
def env_overrides() -> dict[str, dict[str, str]]:
    """Per-function environment overrides (logical id -> variables); a test that needs another
    setting than the template's default overrides this fixture."""
    return {}


@pytest.fixture
def api(
    translated_template: dict[str, Any],
    stack_parameters: dict[str, str],
    template_routes: dict[tuple[str, str], str],
    ledger: LedgerTable,
    ddb: Any,
    dynamo_calls: DynamoCalls,
    env_overrides: dict[str, dict[str, str]],
) -> Api:
    handlers = {}
    contexts = {}
    for logical_id in sorted(set(template_routes.values())):
        environment = function_environment(
            translated_template,
            logical_id,
            stack_parameters,
            physical_ids={TABLE_LOGICAL_ID: TABLE_NAME},
        )
        environment.update(env_overrides.get(logical_id, {}))
        config_model, make_handler = HANDLER_FACTORIES[
            handler_path(translated_template, logical_id)
        ]
        handlers[logical_id] = make_handler(config_model.model_validate(environment), ledger)
        properties = translated_template["Resources"][logical_id]["Properties"]
        name = f"scc-it-{logical_id}"
        contexts[logical_id] = LambdaContext(
            function_name=name,
            memory_limit_in_mb=int(properties.get("MemorySize", 128)),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
            aws_request_id="00000000-0000-4000-8000-000000000000",
        )
    return Api(
        routes=template_routes,
        handlers=handlers,
        contexts=contexts,
        ddb=ddb,
        table_name=TABLE_NAME,
        calls=dynamo_calls,
    )


@pytest.fixture
def admin_token(api: Api) -> str:
    return api.login()


@pytest.fixture
def seeded_event(api: Api, admin_token: str) -> str:
    """The corporate mixer on 2026-05-23, created through the API; returns its event_id."""
    reply = api.call(
        "POST",
        "/api/events",
        body={"event_name": "Corporate Mixer", "date": "2026-05-23", "location": "Pier 39"},
        token=admin_token,
    )
    assert reply.status == 201, reply.raw
    return str(reply.body["event_id"])
