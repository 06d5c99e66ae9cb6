"""Set-up through the API for the close-out and export tests (and `make screenshots`): events,
payments and voids made directly over HTTP (faster than the forms, which other tests cover),
and waits with deadlines for the projection, which follows the ledger by about a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import APIRequestContext

PROJECTION_TIMEOUT_SECONDS = 30.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_event(
    api: APIRequestContext, token: str, name: str, *, date: str = "2026-06-14", location: str = ""
) -> str:
    """Create an event; its event_id."""
    body: dict[str, Any] = {"event_name": name, "date": date}
    if location:
        body["location"] = location
    reply = api.post("/api/events", data=body, headers=bearer(token))
    assert reply.status == 201, f"create {name}: {reply.status} {reply.text()}"
    return str(reply.json()["event_id"])


def log_payment(
    api: APIRequestContext,
    token: str,
    event_id: str,
    *,
    patron: str,
    amount: str,
    method: str,
    reference: str = "",
    notes: str = "",
) -> str:
    """Log a payment; its payment_id."""
    body: dict[str, Any] = {"patron_name": patron, "amount": amount, "payment_method": method}
    if reference:
        body["reference"] = reference
    if notes:
        body["notes"] = notes
    reply = api.post(f"/api/g/{event_id}/payment", data=body, headers=bearer(token))
    assert reply.status == 201, f"log {patron}: {reply.status} {reply.text()}"
    return str(reply.json()["payment_id"])


def void_payment(
    api: APIRequestContext, token: str, event_id: str, payment_id: str, reason: str
) -> None:
    reply = api.post(
        f"/api/g/{event_id}/payments/{payment_id}/void",
        data={"reason": reason},
        headers=bearer(token),
    )
    assert reply.status == 201, f"void {payment_id}: {reply.status} {reply.text()}"


def get_event(api: APIRequestContext, token: str, event_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/events/{event_id}", headers=bearer(token))
    assert reply.status == 200, f"event {event_id}: {reply.status} {reply.text()}"
    body: dict[str, Any] = reply.json()
    return body


def wait_for_summary(
    api: APIRequestContext,
    token: str,
    event_id: str,
    ready: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    timeout: float = PROJECTION_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Poll the event until its projected summary satisfies `ready` (deadline: `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        summary: dict[str, Any] = get_event(api, token, event_id).get("summary") or {}
        if ready(summary):
            return summary
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{event_id}: {what} not projected within {timeout:.0f} s: {summary}"
            )
        time.sleep(0.1)


def wait_for_counts(
    api: APIRequestContext, token: str, event_id: str, *, payments: int, voids: int = 0
) -> dict[str, Any]:
    return wait_for_summary(
        api,
        token,
        event_id,
        lambda s: s.get("payment_count") == payments and s.get("void_count") == voids,
        what=f"{payments} payment(s) and {voids} void(s)",
    )


def wait_for_closeout(
    api: APIRequestContext, token: str, event_id: str, closeout_id: str
) -> dict[str, Any]:
    """The summary once the projection carries this close-out as the event's current one."""
    return wait_for_summary(
        api,
        token,
        event_id,
        lambda s: (s.get("closeout") or {}).get("closeout_id") == closeout_id,
        what=f"close-out {closeout_id}",
    )


def payments(api: APIRequestContext, token: str, event_id: str) -> list[dict[str, Any]]:
    """Every payment of the event, as the API lists them (following the cursor)."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        params: dict[str, str | float | bool] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        reply = api.get(f"/api/g/{event_id}/payments", params=params, headers=bearer(token))
        assert reply.status == 200, f"payments {event_id}: {reply.status} {reply.text()}"
        page = reply.json()
        found.extend(page["payments"])
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return found


def closeouts(api: APIRequestContext, token: str, event_id: str) -> list[dict[str, Any]]:
    reply = api.get(f"/api/g/{event_id}/closeouts", headers=bearer(token))
    assert reply.status == 200, f"closeouts {event_id}: {reply.status} {reply.text()}"
    return list(reply.json()["closeouts"])
