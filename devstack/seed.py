"""Demo data, created through the real API (sign in through Cognito with POST /api/auth/login,
then POST /api/events with the ID token), never by writing items behind the handlers' back:
seeding doubles as a smoke test of the stack, its authorizer included."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

DEMO_EVENTS: tuple[dict[str, str], ...] = (
    {
        "event_name": "Corporate Mixer",
        "date": "2026-05-23",
        "location": "Harbor Pavilion, Pier 3",
        "currency": "USD",
        "expected_total": "5000.00",
    },
    {
        "event_name": "Sunset Cruise",
        "date": "2026-06-20",
        "location": "Marina Dock B",
        "currency": "USD",
        "expected_total": "3200.00",
    },
)


class SeedError(RuntimeError):
    """The API did not accept the demo data; the message carries the response."""


@dataclass(frozen=True)
class ApiReply:
    status: int
    body: Any


def call_api(
    base_url: str,
    method: str,
    path: str,
    payload: Any = None,
    *,
    token: str | None = None,
    timeout: float = 30.0,
) -> ApiReply:
    """One JSON request; HTTP error statuses are returned, not raised."""
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(base_url + path, data=data, method=method)  # noqa: S310 - our own loopback URL
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return ApiReply(response.status, _json_or_text(response.read()))
    except urllib.error.HTTPError as error:
        return ApiReply(error.code, _json_or_text(error.read()))


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def sign_in(base_url: str, email: str, password: str) -> str:
    """The ID token `POST /api/auth/login` returns for a person with a permanent password (the
    PeopleFunction passes the sign-in through to Cognito)."""
    login = call_api(base_url, "POST", "/api/auth/login", {"email": email, "password": password})
    body = login.body
    if (
        login.status != 200
        or not isinstance(body, dict)
        or body.get("status", "signed_in") != "signed_in"
        or not isinstance(body.get("token"), str)
    ):
        status = body.get("status") if isinstance(body, dict) else None
        raise SeedError(f"POST /api/auth/login as {email} -> {login.status} (status {status!r})")
    return str(body["token"])


def seed_demo_events(base_url: str, admin_email: str, admin_password: str) -> list[str]:
    """Sign in as the admin and create the demo events; returns their event ids."""
    token = sign_in(base_url, admin_email, admin_password)
    event_ids: list[str] = []
    for event in DEMO_EVENTS:
        reply = call_api(base_url, "POST", "/api/events", event, token=token)
        if reply.status not in (200, 201) or not isinstance(reply.body, dict):
            raise SeedError(
                f"POST /api/events {event['event_name']!r} -> {reply.status} {reply.body!r}"
            )
        event_ids.append(str(_find_event_id(reply.body)))
    return event_ids


def _find_event_id(body: dict[str, Any]) -> Any:
    # The contract says the created event is returned; tolerate it being nested under "event".
    if "event_id" in body:
        return body["event_id"]
    nested = body.get("event")
    if isinstance(nested, dict) and "event_id" in nested:
        return nested["event_id"]
    return "?"
