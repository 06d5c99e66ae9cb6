"""A small JSON-over-HTTP client for the e2e tests: the local stack is driven the way a
developer with curl (or the SPA) drives it. Plus what tests need around it: signing people in,
boto3 clients on the stack's moto, and tokens made here (signed with the pool's key, with
another key, or not at all) to show what the gateway's JWT authorizer lets through."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
from botocore.config import Config
from jwt.algorithms import RSAAlgorithm

from tests.e2e.stack_process import StackProcess


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def http(
    url: str,
    method: str = "GET",
    *,
    body: Any = None,
    raw_body: bytes | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpReply:
    data = raw_body if raw_body is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return HttpReply(response.status, _lower(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return HttpReply(error.code, _lower(error.headers.items()), error.read())


def _lower(items: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


def uuid7() -> str:
    millis = int(time.time() * 1000)
    value = (millis << 80) | (0x7 << 76) | (secrets.randbits(12) << 64)
    value |= (0b10 << 62) | secrets.randbits(62)
    return str(uuid.UUID(int=value))


# --- signing in (POST /api/auth/login: the PeopleFunction passes it through to Cognito) --------


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: `token` is the ID token every API route takes as its bearer."""

    token: str
    access_token: str
    refresh_token: str | None
    expires_at: str
    user: Mapping[str, Any]


def sign_in_as(stack: StackProcess, email: str, password: str) -> SignedIn:
    """Sign a person with a permanent password in; fails the test on anything but success."""
    reply = http(stack.url + "/api/auth/login", "POST", body={"email": email, "password": password})
    assert reply.status == 200, reply.raw
    body = reply.json
    assert body.get("status") == "signed_in", body.get("status")
    return SignedIn(
        token=str(body["token"]),
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token"),
        expires_at=str(body["expires_at"]),
        user=dict(body.get("user") or {}),
    )


def sign_in(stack: StackProcess) -> str:
    """The first admin's ID token."""
    return sign_in_as(stack, stack.admin_email, stack.admin_password).token


# --- the stack's moto (boto3 on its endpoint, with moto's fake credentials) --------------------


def moto_client(stack: StackProcess, service: str) -> Any:
    details = stack.details()
    return boto3.client(
        service,
        endpoint_url=details["moto_endpoint"],
        region_name=details.get("region") or "us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2}),
    )


def person_sub(stack: StackProcess, email: str) -> str:
    """A person's Cognito `sub` (their person_id), read from the stack's user pool."""
    user = moto_client(stack, "cognito-idp").admin_get_user(
        UserPoolId=stack.details()["user_pool_id"], Username=email
    )
    return str({a["Name"]: a["Value"] for a in user["UserAttributes"]}["sub"])


# --- tokens made here (the pool's key is moto's, published with moto) ---------------------------

MOTO_KID = "dummy"  # the kid of moto's one Cognito signing key


def moto_signing_key() -> Any:
    """The private key moto signs every user pool's tokens with."""
    from moto.utilities.utils import load_resource

    return RSAAlgorithm.from_jwk(
        json.dumps(load_resource("cognitoidp/resources/jwks-private.json"))
    )


def id_token_claims(
    stack: StackProcess, email: str, *, groups: tuple[str, ...] = ("admin",), **changes: Any
) -> dict[str, Any]:
    """The claims of an ID token the stack's pool would issue to `email` now (valid 15 min);
    `changes` replace claims, a None value removes one."""
    details = stack.details()
    sub = person_sub(stack, email)
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "email": email,
        "email_verified": True,
        "cognito:groups": list(groups),
        "cognito:username": sub,
        "iss": details["issuer"],
        "aud": details["user_pool_client_id"],
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 900,
        "jti": str(uuid.uuid4()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign_token(claims: Mapping[str, Any], *, key: Any = None, kid: str = MOTO_KID) -> str:
    """An RS256 JWT over `claims`, by default with the pool's own key (a token Cognito could
    have issued)."""
    return jwt.encode(
        dict(claims), key or moto_signing_key(), algorithm="RS256", headers={"kid": kid}
    )


def unsigned_token(claims: Mapping[str, Any], *, kid: str = MOTO_KID) -> str:
    """`alg: none`: a JWT with no signature at all."""

    def part(value: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(dict(value)).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{part(claims)}."


def assert_error_envelope(reply: HttpReply, status: int, code: str | None = None) -> None:
    assert reply.status == status, reply.raw
    assert reply.header("content-type").startswith("application/json")
    body = reply.json
    assert body["status"] == "error"
    assert set(body["error"]) >= {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code
    assert b"Traceback" not in reply.raw
