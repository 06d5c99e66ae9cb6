"""A small JSON-over-HTTP client for the e2e tests: the local stack is driven the way a
developer with curl (or the SPA) drives it, with nothing but the standard library."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def sign_in(stack: StackProcess) -> str:
    reply = http(
        stack.url + "/api/auth/login",
        "POST",
        body={"email": stack.admin_email, "password": stack.admin_password},
    )
    assert reply.status == 200, reply.raw
    return str(reply.json["token"])


def assert_error_envelope(reply: HttpReply, status: int, code: str | None = None) -> None:
    assert reply.status == status, reply.raw
    assert reply.header("content-type").startswith("application/json")
    body = reply.json
    assert body["status"] == "error"
    assert set(body["error"]) >= {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code
    assert b"Traceback" not in reply.raw
