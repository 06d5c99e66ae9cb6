"""`make invoke`: every function runs on its sample events, and on the events `sam local
generate-event` produces, with the handler, code and environment that template.yaml gives it.

Behind the JWT authorizer a function gets verified claims, never a token: the samples of
authenticated routes carry an admin's claims (kept current by `{{NOW}}` placeholders), the
"unauthenticated" ones carry no authorizer context at all."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from devstack import invoke
from tests.ci import tool_missing

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events_schema" / "samples"
GENERATED = SAMPLES / "generated"
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """template.yaml deployed once into a moto server, described like `make dev` describes it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        info = invoke.deploy_for_samples(endpoint)
        invoke.seed(
            endpoint, info.tables["PaymentsTable"], info.functions["NotifierFunction"].environment
        )
        assert info.cognito is not None
        path = tmp_path_factory.mktemp("stack") / "stack.json"
        functions = {k: v.name for k, v in info.functions.items()}
        path.write_text(
            json.dumps(
                {
                    "moto_endpoint": endpoint,
                    "functions": functions,
                    "user_pool_id": info.cognito.user_pool_id,
                    "user_pool_client_id": info.cognito.user_pool_client_id,
                }
            )
        )
        yield path
    finally:
        server.stop()


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@pytest.mark.parametrize(
    ("function", "sample", "status"),
    [
        ("QueryFunction", "query-health.json", 200),
        ("QueryFunction", "query-openapi.json", 200),
        ("QueryFunction", "query-list-events.json", 200),
        ("QueryFunction", "query-get-event.json", 200),
        ("QueryFunction", "query-list-payments.json", 200),
        ("QueryFunction", "query-list-payments-unauthenticated.json", 401),
        ("PeopleFunction", "people-login.json", 401),
        ("PeopleFunction", "people-list-people.json", 200),
        ("IngestFunction", "ingest-create-event.json", 201),
        ("IngestFunction", "ingest-log-payment.json", 201),
        ("IngestFunction", "ingest-log-payment-by-body.json", 201),
        ("IngestFunction", "ingest-log-payment-unauthenticated.json", 401),
        ("IngestFunction", "ingest-void-payment.json", 201),
    ],
)
def test_each_http_sample_gets_its_expected_status(
    stack_file: Path, function: str, sample: str, status: int
) -> None:
    # Given a sample HTTP API v2 event, when the function runs on it
    ok, response = invoke.run(function, json.loads((SAMPLES / sample).read_text()), stack_file)
    # Then it answers (never raises) with the status the route promises
    assert ok, response
    assert response["statusCode"] == status, response
    assert isinstance(body(response), dict)


@pytest.mark.parametrize("function", ["ProjectorFunction", "NotifierFunction"])
@pytest.mark.parametrize(
    "sample",
    ["stream-payment-insert.json", "stream-void-insert.json", "stream-ignored-summary-modify.json"],
)
def test_stream_consumers_process_ledger_inserts_and_ignore_the_rest(
    stack_file: Path, function: str, sample: str
) -> None:
    ok, response = invoke.run(function, json.loads((SAMPLES / sample).read_text()), stack_file)
    assert ok, response
    assert response == {"batchItemFailures": []}


def generated_event(kind: str) -> Any:
    """From `sam local generate-event` when SAM is installed, else the committed copy."""
    args = {
        "dynamodb-update": ["dynamodb", "update"],
        "apigateway-http-api-proxy": ["apigateway", "http-api-proxy"],
    }[kind]
    if SAM.exists():
        out = subprocess.run(
            [str(SAM), "local", "generate-event", *args],
            check=True,
            capture_output=True,
            text=True,
            env={"SAM_CLI_TELEMETRY": "0", "PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".tools")},
            timeout=60,
        ).stdout
        return json.loads(out)
    return json.loads((GENERATED / f"{kind}.json").read_text())


@pytest.mark.parametrize("function", ["ProjectorFunction", "NotifierFunction"])
def test_sam_generated_stream_events_are_not_payments_and_are_ignored(
    stack_file: Path, function: str
) -> None:
    # Given SAM's generic stream event (keys `Id`, INSERT/MODIFY/REMOVE of other items)
    event = generated_event("dynamodb-update")
    # When a consumer gets it, Then nothing fails and nothing is retried
    ok, response = invoke.run(function, event, stack_file)
    assert ok, response
    assert response == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("function", "method", "path"),
    [
        ("IngestFunction", "POST", "/api/events"),
        ("QueryFunction", "GET", "/api/events"),
        ("PeopleFunction", "GET", "/api/people"),
    ],
)
def test_sam_generated_http_event_is_refused_without_the_claims_of_a_person(
    stack_file: Path, function: str, method: str, path: str
) -> None:
    # Given SAM's generic event aimed at one of the function's authenticated routes: its
    # authorizer context holds made-up claims (claim1, claim2): no sub, no e-mail, nobody
    event = generated_event("apigateway-http-api-proxy")
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["body"] = json.dumps({"event_name": "Nobody's", "date": "2026-07-01"})
    event["isBase64Encoded"] = False
    # When the function runs on it, Then it answers 401
    ok, response = invoke.run(function, event, stack_file)
    assert ok, response
    assert response["statusCode"] == 401, response


def test_make_invoke_command_prints_the_response_as_json() -> None:
    # The whole path: a fresh in-process moto with the template deployed, no stack file.
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack.invoke",
            "--function",
            "QueryFunction",
            "--event",
            str(SAMPLES / "query-health.json"),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    ).stdout
    assert json.loads(json.loads(out)["body"]) == {"status": "ok"}


def test_placeholders_keep_the_claims_current_and_true_to_the_stack() -> None:
    event = json.loads((SAMPLES / "ingest-create-event.json").read_text())
    values = invoke.Placeholders("us-east-1_Pool", "client-1", "sub-1")

    resolved = invoke.with_placeholders(event, values, now=1_800_000_000)

    claims = resolved["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["iat"] == "1800000000"
    assert claims["exp"] == "1800000900"
    assert claims["sub"] == "sub-1"
    assert claims["aud"] == "client-1"
    assert claims["iss"] == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool"
    assert claims["cognito:groups"] == "[admin]"
    assert "{{" not in json.dumps(resolved)


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_samples_never_carry_a_token_for_the_function_to_check(sample: str) -> None:
    event = json.loads((SAMPLES / sample).read_text())
    if "requestContext" not in event:
        return  # a stream event
    headers = {k.lower() for k in event.get("headers", {})}
    authorizer = event["requestContext"].get("authorizer")

    assert "authorization" not in headers
    if authorizer is not None:
        claims = authorizer["jwt"]["claims"]
        assert all(isinstance(v, str) for v in claims.values()), "API Gateway passes strings"
        assert claims["token_use"] == "id"


def test_committed_generated_events_match_sam() -> None:
    if not SAM.exists() or shutil.which("make") is None:
        tool_missing("SAM CLI not installed (.tools/sam): `make test` installs it")
    for kind in ("dynamodb-update", "apigateway-http-api-proxy"):
        assert generated_event(kind) == json.loads((GENERATED / f"{kind}.json").read_text())
