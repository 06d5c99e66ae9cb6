"""The local gateway's JWT authorizer (devstack.authorizer) by API Gateway's documented rules,
through `handle_api` as a request meets it. No sockets: a key pair made here signs the tokens
and stands in for the user pool's published keys (JWKS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from devstack.authorizer import (
    CLOCK_SKEW_SECONDS,
    UNAUTHORIZED_BODY,
    AuthorizerDenied,
    JwtAuthorizer,
    authorize,
    authorizers_from_translated,
    gateway_claims,
    unauthorized_response,
)
from devstack.authorizer import _pool_id as pool_id_of_issuer
from devstack.gateway import Api, IncomingRequest, Outcome, RouteTable, handle_api
from devstack.intrinsics import Resolver, ResourceValues
from devstack.template import CorsConfig, Route, load_template, routes_from_translated, translate

REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 4, 15, tzinfo=UTC)
EPOCH = int(NOW.timestamp())
ORIGIN = "http://127.0.0.1:8000"
POOL = "us-east-1_Pool1"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
CLIENT_ID = "spa-client-id"
KID = "pool-key-1"
SUB = "5f1e0a3c-1111-4222-8333-444455556666"

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_JWK = {**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": KID, "alg": "RS256"}
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
AUTHORIZER = JwtAuthorizer(name="CognitoJwt", issuer=ISSUER, audiences=(CLIENT_ID,))
CORS = CorsConfig(
    allow_origins=(ORIGIN,),
    allow_headers=("authorization", "content-type"),
    allow_methods=("GET", "POST", "OPTIONS"),
)
ROUTES = [
    Route("GET", "/api/health", "QueryFunction"),
    Route("GET", "/api/events", "QueryFunction", "CognitoJwt"),
    Route("POST", "/api/events", "IngestFunction", "CognitoJwt"),
    Route("GET", "/api/reports", "QueryFunction", "CognitoJwt", ("reports/read",)),
    Route("GET", "/api/orphan", "QueryFunction", "NoSuchAuthorizer"),
]


def jwks(issuer: str) -> Mapping[str, Any]:
    assert issuer == ISSUER, "the authorizer asks for its own issuer's keys"
    return {"keys": [PUBLIC_JWK]}


def id_claims(**changes: Any) -> dict[str, Any]:
    """What a Cognito ID token of an admin carries (a `None` value removes the claim)."""
    claims: dict[str, Any] = {
        "sub": SUB,
        "email": "admin@scc.example",
        "email_verified": True,
        "cognito:groups": ["admin", "crew"],
        "cognito:username": SUB,
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "auth_time": EPOCH - 60,
        "iat": EPOCH - 60,
        "exp": EPOCH + 900,
        "jti": "jti-1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: Mapping[str, Any], *, key: Any = KEY, kid: str = KID) -> str:
    return jwt.encode(dict(claims), key, algorithm="RS256", headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hs256_with_public_key(claims: Mapping[str, Any]) -> str:
    """The classic confusion attack: HMAC keyed with the published RSA public key."""
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
        + "."
        + b64(json.dumps(dict(claims)).encode())
    )
    mac = hmac.new(PUBLIC_PEM, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def unsigned(claims: Mapping[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    return f"{header}.{b64(json.dumps(dict(claims)).encode())}."


class Calls:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append((logical_id, event))
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}


@pytest.fixture
def calls() -> Calls:
    return Calls()


def call(
    calls: Calls,
    method: str = "GET",
    target: str = "/api/events",
    *,
    token: str | None = None,
    authorization: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
) -> Outcome:
    headers = [("Host", "127.0.0.1:8000"), ("Origin", ORIGIN)]
    if token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    if authorization is not None:
        headers.append(("Authorization", authorization))
    headers += extra_headers or []
    api = Api(
        routes=RouteTable(ROUTES),
        cors=CORS,
        invoke=calls,
        authorizers={"CognitoJwt": AUTHORIZER},
        jwks=jwks,
    )
    request = IncomingRequest(method=method, target=target, headers=headers, port=8000)
    return handle_api(api, request, now=NOW, request_id="req-42")


def assert_refused(outcome: Outcome, calls: Calls) -> None:
    response = outcome.response
    assert response.status == 401
    assert response.body == UNAUTHORIZED_BODY
    assert response.header("content-type") == "application/json"
    assert 'error="invalid_token"' in (response.header("www-authenticate") or "")
    assert response.header("apigw-requestid") == "req-42"
    assert response.header("access-control-allow-origin") == ORIGIN
    assert outcome.function_logical_id is None
    assert calls.events == [], "a refused request must never reach the function"


# --- accepted ----------------------------------------------------------------------------------


def test_given_a_valid_id_token_when_calling_then_the_function_gets_the_claims_as_strings(
    calls: Calls,
) -> None:
    outcome = call(calls, token=sign(id_claims()))

    assert outcome.response.status == 200
    ((logical_id, event),) = calls.events
    assert logical_id == "QueryFunction"
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["jwt"]["scopes"] is None
    claims = authorizer["jwt"]["claims"]
    assert claims["sub"] == SUB
    assert claims["email"] == "admin@scc.example"
    assert claims["cognito:groups"] == "[admin crew]"
    assert claims["email_verified"] == "true"
    assert claims["iat"] == str(EPOCH - 60)
    assert claims["exp"] == str(EPOCH + 900)
    assert claims["aud"] == CLIENT_ID
    assert all(isinstance(v, str) for v in claims.values())


def test_given_an_access_token_with_the_client_id_and_no_aud_then_it_is_allowed(
    calls: Calls,
) -> None:
    token = sign(id_claims(aud=None, client_id=CLIENT_ID, token_use="access", email=None))

    outcome = call(calls, token=token)

    assert outcome.response.status == 200
    claims = calls.events[0][1]["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["client_id"] == CLIENT_ID
    assert claims["token_use"] == "access"
    assert "email" not in claims


def test_given_a_token_without_the_bearer_prefix_then_it_is_still_read(calls: Calls) -> None:
    assert call(calls, authorization=sign(id_claims())).response.status == 200


def test_given_a_token_issued_a_moment_ahead_then_the_documented_skew_is_allowed(
    calls: Calls,
) -> None:
    token = sign(id_claims(iat=EPOCH + CLOCK_SKEW_SECONDS, nbf=EPOCH + CLOCK_SKEW_SECONDS))

    assert call(calls, token=token).response.status == 200


def test_given_a_public_route_when_calling_without_a_token_then_it_passes_unauthorized(
    calls: Calls,
) -> None:
    outcome = call(calls, target="/api/health")

    assert outcome.response.status == 200
    assert "authorizer" not in calls.events[0][1]["requestContext"]


def test_given_a_preflight_when_calling_without_a_token_then_cors_answers_it(
    calls: Calls,
) -> None:
    outcome = call(
        calls,
        "OPTIONS",
        extra_headers=[
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization,content-type"),
        ],
    )

    assert outcome.response.status == 204
    assert outcome.response.header("access-control-allow-origin") == ORIGIN
    assert calls.events == []


# --- refused -----------------------------------------------------------------------------------


def test_given_no_authorization_header_when_calling_then_401(calls: Calls) -> None:
    assert_refused(call(calls), calls)


def test_given_an_empty_bearer_when_calling_then_401(calls: Calls) -> None:
    assert_refused(call(calls, authorization="Bearer "), calls)


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", "%%%"])
def test_given_something_that_is_not_a_jwt_then_401(calls: Calls, garbage: str) -> None:
    assert_refused(call(calls, token=garbage), calls)


def test_given_an_unsigned_token_with_alg_none_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=unsigned(id_claims())), calls)


def test_given_hs256_signed_with_the_public_key_text_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=hs256_with_public_key(id_claims())), calls)


def test_given_a_kid_the_issuer_does_not_publish_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=sign(id_claims(), kid="someone-elses-key")), calls)


def test_given_a_token_signed_by_another_key_under_the_right_kid_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=sign(id_claims(), key=OTHER_KEY)), calls)


def test_given_a_token_with_a_tampered_payload_then_401(calls: Calls) -> None:
    header, _, signature = sign(id_claims()).split(".")
    forged = b64(json.dumps(id_claims(**{"cognito:groups": ["admin"], "sub": "x"})).encode())

    assert_refused(call(calls, token=f"{header}.{forged}.{signature}"), calls)


def test_given_a_token_of_another_pool_then_401(calls: Calls) -> None:
    other = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"

    assert_refused(call(calls, token=sign(id_claims(iss=other))), calls)


@pytest.mark.parametrize("issuer", [ISSUER + "/", ISSUER.upper(), None])
def test_given_an_issuer_that_is_not_exactly_the_configured_one_then_401(
    calls: Calls, issuer: str | None
) -> None:
    assert_refused(call(calls, token=sign(id_claims(iss=issuer))), calls)


def test_given_a_token_for_another_app_client_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=sign(id_claims(aud="another-client"))), calls)


def test_given_an_aud_that_does_not_match_then_a_matching_client_id_does_not_help(
    calls: Calls,
) -> None:
    token = sign(id_claims(aud="another-client", client_id=CLIENT_ID))

    assert_refused(call(calls, token=token), calls)


def test_given_an_access_token_of_another_client_then_401(calls: Calls) -> None:
    token = sign(id_claims(aud=None, client_id="another-client", token_use="access"))

    assert_refused(call(calls, token=token), calls)


def test_given_an_expired_token_then_401_saying_it_expired(calls: Calls) -> None:
    outcome = call(calls, token=sign(id_claims(iat=EPOCH - 1000, exp=EPOCH - 1)))

    assert_refused(outcome, calls)
    assert "expired" in (outcome.response.header("www-authenticate") or "")


def test_given_a_token_expiring_this_second_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=sign(id_claims(exp=EPOCH))), calls)


def test_given_a_token_without_exp_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=sign(id_claims(exp=None))), calls)


def test_given_nbf_in_the_future_then_401(calls: Calls) -> None:
    token = sign(id_claims(nbf=EPOCH + CLOCK_SKEW_SECONDS + 60))

    assert_refused(call(calls, token=token), calls)


def test_given_iat_in_the_future_then_401(calls: Calls) -> None:
    assert_refused(call(calls, token=sign(id_claims(iat=EPOCH + 3600))), calls)


def test_given_the_keys_cannot_be_fetched_then_401_and_the_function_never_runs(
    calls: Calls,
) -> None:
    def unreachable(_issuer: str) -> Mapping[str, Any]:
        raise OSError("connection refused")

    api = Api(
        routes=RouteTable(ROUTES),
        cors=CORS,
        invoke=calls,
        authorizers={"CognitoJwt": AUTHORIZER},
        jwks=unreachable,
    )
    request = IncomingRequest(
        "GET", "/api/events", [("Authorization", f"Bearer {sign(id_claims())}")], port=8000
    )

    assert handle_api(api, request, now=NOW, request_id="r").response.status == 401
    assert calls.events == []


def test_given_a_route_naming_an_unknown_authorizer_then_500_and_no_invocation(
    calls: Calls,
) -> None:
    outcome = call(calls, target="/api/orphan", token=sign(id_claims()))

    assert outcome.response.status == 500
    assert calls.events == []


# --- scopes ------------------------------------------------------------------------------------


def test_given_a_route_with_scopes_then_a_token_needs_one_and_the_event_lists_them(
    calls: Calls,
) -> None:
    refused = call(calls, target="/api/reports", token=sign(id_claims()))
    assert_refused(refused, calls)

    granted = call(calls, target="/api/reports", token=sign(id_claims(scope="openid reports/read")))

    assert granted.response.status == 200
    assert calls.events[0][1]["requestContext"]["authorizer"]["jwt"]["scopes"] == [
        "openid",
        "reports/read",
    ]


# --- the pieces ---------------------------------------------------------------------------------


def test_claims_become_strings_the_way_api_gateway_passes_them() -> None:
    assert gateway_claims(
        {
            "s": "x",
            "n": 5,
            "f": 1.5,
            "t": True,
            "f2": False,
            "list": ["a", "b"],
            "nums": [1, 2],
            "empty": [],
            "obj": {"k": "v", "n": 1},
            "gone": None,
        }
    ) == {
        "s": "x",
        "n": "5",
        "f": "1.5",
        "t": "true",
        "f2": "false",
        "list": "[a b]",
        "nums": "[1 2]",
        "empty": "[]",
        "obj": '{"k":"v","n":1}',
    }


def test_the_401_is_api_gateways_and_its_header_cannot_be_broken_by_the_description() -> None:
    status, headers, body = unauthorized_response('bad "quote"\r\nX-Injected: 1')

    assert status == 401
    assert body == b'{"message":"Unauthorized"}'
    assert headers["content-type"] == "application/json"
    assert "\n" not in headers["www-authenticate"]
    assert headers["www-authenticate"].startswith('Bearer scope="" error="invalid_token"')
    assert headers["www-authenticate"].count('"') == 6


def test_a_denial_keeps_the_detail_for_the_log_and_a_generic_phrase_for_the_client() -> None:
    with pytest.raises(AuthorizerDenied) as denied:
        authorize(
            AUTHORIZER,
            {"authorization": "Bearer " + sign(id_claims(aud="leaky-client-id"))},
            jwks=jwks,
            now=float(EPOCH),
        )

    assert "leaky-client-id" in denied.value.description
    assert "leaky-client-id" not in denied.value.error_description


def test_a_cognito_issuer_maps_to_its_pool_id_and_anything_else_is_refused() -> None:
    assert pool_id_of_issuer(ISSUER) == POOL
    for bad in ("https://evil.example/us-east-1_x", f"{ISSUER}/..", "https://cognito-idp.x/"):
        with pytest.raises(RuntimeError):
            pool_id_of_issuer(bad)


# --- the template ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(
        load_template(REPO_ROOT / "template.yaml"),
        {"AdminEmail": "admin@scc.example", "AllowedOrigin": ORIGIN},
    )


def test_the_templates_authorizer_resolves_to_the_pools_issuer_and_client(
    translated: dict[str, Any],
) -> None:
    resolve = Resolver(
        translated,
        {"AdminEmail": "admin@scc.example"},
        region="us-east-1",
        account_id="123456789012",
        resources={"UserPool": ResourceValues(POOL), "UserPoolClient": ResourceValues(CLIENT_ID)},
    )

    authorizers, routes = authorizers_from_translated(translated, resolve)

    assert authorizers == {
        "CognitoJwt": JwtAuthorizer(
            "CognitoJwt", ISSUER, (CLIENT_ID,), "$request.header.Authorization"
        )
    }
    assert routes["GET", "/api/health"] is None
    assert routes["POST", "/api/auth/login"] is None
    assert routes["POST", "/api/events"] == "CognitoJwt"
    assert routes["GET", "/api/people"] == "CognitoJwt"


def test_every_route_of_the_template_knows_its_authorizer(translated: dict[str, Any]) -> None:
    resolve = Resolver(
        translated,
        {"AdminEmail": "admin@scc.example"},
        region="us-east-1",
        account_id="1",
        resources={"UserPool": ResourceValues(POOL), "UserPoolClient": ResourceValues(CLIENT_ID)},
    )
    _, expected = authorizers_from_translated(translated, resolve)

    routes = routes_from_translated(translated)

    assert {(r.method, r.path_template): r.authorizer for r in routes} == expected
    public = {(r.method, r.path_template) for r in routes if r.authorizer is None}
    assert ("GET", "/api/health") in public
    assert all(
        path.startswith("/api/auth/") or path in {"/api/health", "/api/openapi.json"}
        for _, path in public
    )


def test_a_later_clock_turns_a_valid_token_into_an_expired_one() -> None:
    token = sign(id_claims())
    headers = {"authorization": f"Bearer {token}"}

    authorize(AUTHORIZER, headers, jwks=jwks, now=float(EPOCH))
    later = (NOW + timedelta(seconds=900)).timestamp()
    with pytest.raises(AuthorizerDenied, match="exp"):
        authorize(AUTHORIZER, headers, jwks=jwks, now=later)
