"""Integration fixtures: the handlers on moto, with the table, routes and environment taken from
template.yaml.

The template is translated once per session (SAM's translator); each test gets a fresh
in-process moto with the ledger, projection and revocations tables created exactly as the
template declares them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import jwt
import pytest
from moto import mock_aws

from devstack import authorizer as jwt_authorizer
from devstack.cognito import add_person, cognito_rules, provision_cognito
from devstack.intrinsics import Resolver, ResourceValues
from devstack.template import create_table, load_template, translate
from shared.repository import LedgerTable
from tests.integration.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ALLOWED_ORIGIN,
    CREW_EMAIL,
    CREW_PASSWORD,
    PROJECTION_LOGICAL_ID,
    PROJECTION_TABLE_NAME,
    REVOCATIONS_LOGICAL_ID,
    REVOCATIONS_TABLE_NAME,
    TABLE_LOGICAL_ID,
    TABLE_NAME,
    Adapters,
    Api,
    Denied,
    DynamoCalls,
    LambdaContext,
    People,
    function_environment,
    handler_path,
    load_api_handler,
    routes_from_events,
)

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"
EXPORT_BUCKET = "scc-it-exports"
ACCOUNT_ID = "123456789012"

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
        # What every function gets from the template's Globals, for handlers built in-process.
        for name, value in _global_environment().items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        yield


def _global_environment() -> dict[str, str]:
    """The template's Globals variables that are plain strings (the Powertools settings)."""
    variables = load_template(TEMPLATE_PATH)["Globals"]["Function"]["Environment"]["Variables"]
    return {name: value for name, value in variables.items() if isinstance(value, str)}


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
def stack_parameters() -> dict[str, str]:
    """Template parameters for the test stack."""
    return {"Stage": "dev", "AdminEmail": ADMIN_EMAIL, "AllowedOrigin": ALLOWED_ORIGIN}


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
    """A DynamoDB client on a fresh in-process moto holding the template's tables."""
    with mock_aws():
        client = _boto_session.client("dynamodb", region_name=REGION)
        create_table(client, translated_template, TABLE_LOGICAL_ID, TABLE_NAME)
        create_table(client, translated_template, PROJECTION_LOGICAL_ID, PROJECTION_TABLE_NAME)
        create_table(client, translated_template, REVOCATIONS_LOGICAL_ID, REVOCATIONS_TABLE_NAME)
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
def mail_dir(tmp_path: Path) -> Path:
    """Where the local Cognito writes the invitation and reset mails AWS would send."""
    path = tmp_path / "mail"
    path.mkdir()
    return path


def _moto_jwks(name: str) -> dict[str, Any]:
    """moto's Cognito key set (the same for every pool); its own loader unpacks the .gz."""
    from moto.utilities.utils import load_resource

    return dict(load_resource(f"cognitoidp/resources/{name}"))


def _pool_key() -> Any:
    """The private key moto signs every pool's tokens with."""
    from jwt.algorithms import RSAAlgorithm

    return RSAAlgorithm.from_jwk(json.dumps(_moto_jwks("jwks-private.json")))


@pytest.fixture
def people(
    ddb: Any,
    translated_template: dict[str, Any],
    stack_parameters: dict[str, str],
    _boto_session: boto3.Session,
    mail_dir: Path,
) -> Iterator[People]:
    """The template's user pool, client and groups in the test's moto (created from the
    template's own properties, as the local stack does), with the first admin and one crew
    member who both have permanent passwords."""
    cognito = _boto_session.client("cognito-idp", region_name=REGION)
    with cognito_rules(mail_dir):
        provisioned = provision_cognito(
            cognito,
            translated_template,
            stack_parameters,
            REGION,
            ACCOUNT_ID,
            user_passwords={ADMIN_EMAIL: ADMIN_PASSWORD},
        )
        pool_id = provisioned["UserPool"].ref
        client_id = provisioned["UserPoolClient"].ref
        add_person(cognito, pool_id, CREW_EMAIL, CREW_PASSWORD, group="crew")
        key = _pool_key()

        def sign(claims: dict[str, Any]) -> str:
            return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})

        def other_pool_token() -> str:
            other = cognito.create_user_pool(
                PoolName="someone-elses",
                UsernameAttributes=["email"],
                Policies={
                    "PasswordPolicy": {
                        "MinimumLength": 8,
                        "RequireUppercase": False,
                        "RequireLowercase": False,
                        "RequireNumbers": False,
                        "RequireSymbols": False,
                    }
                },
            )
            other_id = other["UserPool"]["Id"]
            other_client = cognito.create_user_pool_client(
                UserPoolId=other_id,
                ClientName="theirs",
                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            )["UserPoolClient"]["ClientId"]
            add_person(cognito, other_id, ADMIN_EMAIL, ADMIN_PASSWORD)
            result = cognito.initiate_auth(
                ClientId=other_client,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": ADMIN_EMAIL, "PASSWORD": ADMIN_PASSWORD},
            )
            return str(result["AuthenticationResult"]["IdToken"])

        yield People(
            cognito=cognito,
            user_pool_id=pool_id,
            client_id=client_id,
            sign_with_pool_key=sign,
            other_pool_token=other_pool_token,
        )


@pytest.fixture
def api(
    translated_template: dict[str, Any],
    stack_parameters: dict[str, str],
    template_routes: dict[tuple[str, str], str],
    ledger: LedgerTable,
    ddb: Any,
    dynamo_calls: DynamoCalls,
    env_overrides: dict[str, dict[str, str]],
    people: People,
    _boto_session: boto3.Session,
) -> Api:
    s3 = _boto_session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=EXPORT_BUCKET)
    physical_ids = {
        TABLE_LOGICAL_ID: TABLE_NAME,
        PROJECTION_LOGICAL_ID: PROJECTION_TABLE_NAME,
        REVOCATIONS_LOGICAL_ID: REVOCATIONS_TABLE_NAME,
        "UserPool": people.user_pool_id,
        "UserPoolClient": people.client_id,
        "ExportBucket": EXPORT_BUCKET,
    }
    adapters = Adapters(
        session=_boto_session,
        dynamodb=ddb,
    )
    handlers = {}
    contexts = {}
    for logical_id in sorted(set(template_routes.values())):
        environment = function_environment(
            translated_template, logical_id, stack_parameters, physical_ids=physical_ids
        )
        environment.update(env_overrides.get(logical_id, {}))
        module = handler_path(translated_template, logical_id).rpartition(".")[0]
        handlers[logical_id] = load_api_handler(module, environment, adapters)
        properties = translated_template["Resources"][logical_id]["Properties"]
        name = f"scc-it-{logical_id}"
        contexts[logical_id] = LambdaContext(
            function_name=name,
            memory_limit_in_mb=int(properties.get("MemorySize", 128)),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            aws_request_id="00000000-0000-4000-8000-000000000000",
        )
    authorize, public = _template_authorizer(
        translated_template, stack_parameters, provisioned_people(people), people
    )
    return Api(
        routes=template_routes,
        public_routes=public,
        handlers=handlers,
        contexts=contexts,
        ddb=ddb,
        table_name=TABLE_NAME,
        projection_table_name=PROJECTION_TABLE_NAME,
        revocations_table_name=REVOCATIONS_TABLE_NAME,
        calls=dynamo_calls,
        authorize=authorize,
        people=people,
        s3=s3,
    )


def provisioned_people(people: People) -> dict[str, ResourceValues]:
    return {
        "UserPool": ResourceValues(people.user_pool_id),
        "UserPoolClient": ResourceValues(people.client_id),
    }


def _template_authorizer(
    translated: dict[str, Any],
    parameters: dict[str, str],
    resources: dict[str, ResourceValues],
    people: People,
) -> tuple[Any, set[tuple[str, str]]]:
    """The template's JWT authorizer with API Gateway's rules (devstack.authorizer), the pool's
    public keys read from moto, exactly as the local gateway applies it."""
    resolve = Resolver(
        translated, parameters, region=REGION, account_id=ACCOUNT_ID, resources=resources
    )
    authorizers, route_authorizers = jwt_authorizer.authorizers_from_translated(translated, resolve)
    jwks = _moto_jwks("jwks-public.json")

    def authorize(route_key: str, headers: Any) -> dict[str, Any] | None:
        method, path = route_key.split(" ", 1)
        name = route_authorizers[(method, path)]
        if name is None:
            return None
        try:
            return jwt_authorizer.authorize(
                authorizers[name], headers, jwks=lambda issuer: jwks, now=time.time()
            )
        except jwt_authorizer.AuthorizerDenied:
            raise Denied from None

    public = {route for route, name in route_authorizers.items() if name is None}
    return authorize, public


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
