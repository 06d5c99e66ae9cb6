"""devstack's gateway and worker processes with throwaway handlers (tests/e2e/fake_functions.py):
how requests become invocations in separate, Lambda-like processes, without moto or services/."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from devstack.authorizer import JwtAuthorizer
from devstack.gateway import Api, FunctionFailed, GatewayServer, RouteTable
from devstack.runner import FunctionRunner, InvokeError
from devstack.template import CorsConfig, FunctionSpec, Route

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKES = "tests.e2e.fake_functions"


def spec(logical_id: str, handler: str, timeout: int = 5, **environment: str) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        name=f"local-{logical_id}",
        handler=handler,
        environment={"TABLE_NAME": "scc-test-table", **environment},
        timeout_seconds=timeout,
        memory_mb=256,
        runtime="python3.11",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:local-{logical_id}",
    )


FUNCTIONS = {
    "Echo": spec("Echo", f"{FAKES}.echo", GREETING="hello"),
    "Slow": spec("Slow", f"{FAKES}.slow", timeout=2),
    "Boom": spec("Boom", f"{FAKES}.boom"),
    "NotJson": spec("NotJson", f"{FAKES}.not_json"),
    "Cookies": spec("Cookies", f"{FAKES}.with_cookies"),
    "Missing": spec("Missing", "tests.e2e.no_such_module.handler"),
}
ROUTES = [
    Route("GET", "/api/echo/{thing}", "Echo"),
    Route("POST", "/api/echo/{thing}", "Echo"),
    Route("GET", "/api/slow", "Slow"),
    Route("GET", "/api/boom", "Boom"),
    Route("GET", "/api/not-json", "NotJson"),
    Route("GET", "/api/cookies", "Cookies"),
    Route("GET", "/api/missing", "Missing"),
    Route("GET", "/api/private/{thing}", "Echo", "Jwt"),
]
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Workers"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1"}]}
AUTHORIZERS = {"Jwt": JwtAuthorizer("Jwt", ISSUER, ("client-1",))}


def token(**claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "s-1",
        "iss": ISSUER,
        "aud": "client-1",
        "iat": now,
        "exp": now + 300,
        "cognito:groups": ["crew"],
        **claims,
    }
    return jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": "k1"})


def invoker(runner: FunctionRunner) -> Any:
    def invoke(logical_id: str, event: dict[str, Any]) -> Any:
        try:
            result = runner.invoke(logical_id, event)
        except InvokeError as exc:
            raise FunctionFailed(500, "internal", str(exc)) from exc
        if not result.ok:
            raise FunctionFailed(500, "internal", str(result.error.get("errorType")))
        return result.payload

    return invoke


@pytest.fixture
def secret_in_parent(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_PROFILE", "my-real-account")
    monkeypatch.setenv("DEVSTACK_PARENT_ONLY", "must-not-leak")
    return "DEVSTACK_PARENT_ONLY"


@pytest.fixture
def runner(secret_in_parent: str) -> Iterator[FunctionRunner]:
    functions = FunctionRunner.for_functions(
        FUNCTIONS,
        endpoint_url="http://127.0.0.1:5999",
        region="us-east-1",
        repo_root=REPO_ROOT,
        max_workers=4,
        log_sink=lambda _line: None,
    )
    try:
        yield functions
    finally:
        functions.stop()


@pytest.fixture
def gateway(runner: FunctionRunner, tmp_path: Path) -> Iterator[GatewayServer]:
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    server = GatewayServer(("127.0.0.1", 0), static_root=tmp_path)
    server.api = Api(
        routes=RouteTable(ROUTES),
        cors=CorsConfig(allow_origins=("http://127.0.0.1:1",), allow_methods=("GET",)),
        invoke=invoker(runner),
        authorizers=AUTHORIZERS,
        jwks=lambda _issuer: JWKS,
    )
    server.ready.set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def get(
    url: str,
    method: str = "GET",
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes, list[str]]:
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            cookies = response.headers.get_all("Set-Cookie") or []
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
                cookies,
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read(), []


def test_a_request_reaches_the_handler_as_a_v2_event(gateway: GatewayServer) -> None:
    status, _, body, _ = get(
        gateway.url + "/api/echo/a%20b?x=1&x=2",
        "POST",
        data=b'{"hello": "world"}',
        headers={"Content-Type": "application/json", "X-Custom": "yes"},
    )

    assert status == 200
    seen = json.loads(body)
    event = seen["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /api/echo/{thing}"
    assert event["pathParameters"] == {"thing": "a b"}
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["headers"]["x-custom"] == "yes"
    assert event["body"] == '{"hello": "world"}'
    # Lambda's request id is its own UUID, not API Gateway's requestId
    assert str(uuid.UUID(seen["aws_request_id"])) == seen["aws_request_id"]
    assert event["requestContext"]["requestId"] != seen["aws_request_id"]
    assert 0 < seen["remaining_ms"] <= 5000


def test_the_handler_sees_its_environment_and_nothing_of_the_parents(
    gateway: GatewayServer, secret_in_parent: str
) -> None:
    _, _, body, _ = get(gateway.url + "/api/echo/env")

    env = json.loads(body)["env"]
    assert env["GREETING"] == "hello"
    assert env["TABLE_NAME"] == "scc-test-table"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "local-Echo"
    assert env["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"
    assert secret_in_parent not in env
    assert "AWS_PROFILE" not in env
    assert json.loads(body)["cwd"] == str(REPO_ROOT)


def test_a_warm_worker_keeps_its_module_state_between_requests(gateway: GatewayServer) -> None:
    first = json.loads(get(gateway.url + "/api/echo/1")[2])
    second = json.loads(get(gateway.url + "/api/echo/2")[2])

    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1


def test_concurrent_requests_run_in_concurrent_workers(gateway: GatewayServer) -> None:
    # Given four requests that each take 1 s
    results: list[dict[str, Any]] = []

    def call() -> None:
        results.append(json.loads(get(gateway.url + "/api/slow?seconds=1")[2]))

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # Then they ran side by side, in separate processes (cold starts included)
    assert len(results) == 4
    assert len({r["pid"] for r in results}) == 4
    assert elapsed < 3.5


def test_a_raising_handler_is_a_500_without_details(gateway: GatewayServer) -> None:
    status, headers, body, _ = get(gateway.url + "/api/boom")

    assert status == 500
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "internal"
    assert b"secret detail" not in body


def test_an_unserialisable_result_is_a_500(gateway: GatewayServer) -> None:
    assert get(gateway.url + "/api/not-json")[0] == 500


def test_a_handler_that_cannot_be_imported_is_a_500(gateway: GatewayServer) -> None:
    assert get(gateway.url + "/api/missing")[0] == 500


def test_a_timed_out_worker_is_replaced(gateway: GatewayServer, runner: FunctionRunner) -> None:
    # Given a function with a 2 s timeout that is asked to sleep 5 s
    status, _, _, _ = get(gateway.url + "/api/slow?seconds=5")

    # Then the request fails and the overrun worker is gone; the next request gets a new one
    assert status == 500
    assert runner.pids()["Slow"] == []
    ok = json.loads(get(gateway.url + "/api/slow?seconds=0")[2])
    assert runner.pids()["Slow"] == [ok["pid"]]


def test_cookies_and_cors_come_back_as_api_gateway_sends_them(gateway: GatewayServer) -> None:
    status, headers, _, cookies = get(
        gateway.url + "/api/cookies", headers={"Origin": "http://127.0.0.1:1"}
    )

    assert status == 202
    assert cookies == ["session=abc; HttpOnly; Secure", "theme=dark"]
    assert headers["access-control-allow-origin"] == "http://127.0.0.1:1"


def test_health_waits_for_readiness(runner: FunctionRunner, tmp_path: Path) -> None:
    server = GatewayServer(("127.0.0.1", 0), static_root=tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert get(server.url + "/api/health")[0] == 503
        server.api = Api(
            routes=RouteTable([Route("GET", "/api/health", "Echo")]),
            cors=None,
            invoke=invoker(runner),
        )
        assert get(server.url + "/api/health")[0] == 503
        server.ready.set()
        assert get(server.url + "/api/health")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_an_authorized_request_brings_the_claims_into_the_worker_as_strings(
    gateway: GatewayServer,
) -> None:
    status, _, body, _ = get(
        gateway.url + "/api/private/x", headers={"Authorization": f"Bearer {token()}"}
    )

    assert status == 200
    authorizer = json.loads(body)["event"]["requestContext"]["authorizer"]
    assert authorizer["jwt"]["claims"]["sub"] == "s-1"
    assert authorizer["jwt"]["claims"]["cognito:groups"] == "[crew]"
    assert authorizer["jwt"]["scopes"] is None


def test_a_refused_request_never_starts_a_worker(
    gateway: GatewayServer, runner: FunctionRunner
) -> None:
    status, headers, body, _ = get(
        gateway.url + "/api/private/x", headers={"Authorization": f"Bearer {token(exp=1)}"}
    )

    assert status == 401
    assert json.loads(body) == {"message": "Unauthorized"}
    assert "expired" in headers["www-authenticate"]
    assert runner.pids()["Echo"] == []


def test_stopping_the_runner_ends_every_worker(runner: FunctionRunner) -> None:
    runner.invoke("Echo", {"version": "2.0"})
    (pid,) = runner.pids()["Echo"]

    runner.stop()

    assert runner.pids()["Echo"] == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
