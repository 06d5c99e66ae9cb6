"""Browser-test helpers shared by the tests and `make screenshots`: where Chromium is, how to
launch it, and the admin's moves in the app (sign in, create an event, log a payment)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[3]
# Whether the local stack runs the stream pollers (projector): only then do totals confirm.
PROJECTOR_RUNNING = (REPO_ROOT / "devstack" / "pollers.py").exists()
CONFIRM_TIMEOUT_MS = 30_000


def chromium_path() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def launch_options() -> dict[str, Any]:
    path = chromium_path()
    return {"executable_path": str(path) if path else str(CHROMIUM), "args": list(LAUNCH_ARGS)}


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#events")).to_be_visible()


def unique_name(prefix: str) -> str:
    return f"{prefix} {time.time_ns() % 10**10}"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def create_event(
    page: Page, name: str, *, date: str = "2026-06-14", location: str = "", expected: str = ""
) -> Any:
    """Create an event through the form; returns the event's card locator."""
    details = page.locator("#create-event")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    page.get_by_label("Event name").fill(name)
    page.locator("#event-date").fill(date)
    if location:
        page.get_by_label("Location").fill(location)
    if expected:
        page.get_by_label("Expected total").fill(expected)
    page.get_by_role("button", name="Create event").click()
    card = event_card(page, name)
    expect(card).to_be_visible()
    return card


def event_card(page: Page, name: str) -> Any:
    return page.locator("li.event").filter(has=page.get_by_role("heading", name=name, exact=True))


def fill_payment(
    page: Page,
    *,
    patron: str,
    amount: str,
    method: str = "card",
    reference: str = "",
    email: str = "",
    notes: str = "",
) -> None:
    dialog = page.locator("#payment-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Patron name").fill(patron)
    dialog.get_by_label("Amount").fill(amount)
    dialog.get_by_label("Method").select_option(method)
    if reference:
        dialog.get_by_label("Reference").fill(reference)
    if email:
        dialog.get_by_label("Patron e-mail").fill(email)
    if notes:
        dialog.get_by_label("Notes").fill(notes)


def log_payment(page: Page, card: Any, **fields: Any) -> None:
    card.get_by_role("button", name="Log payment").click()
    fill_payment(page, **fields)
    page.locator("#payment-submit").click()
    expect(page.locator("#payment-dialog")).to_be_hidden()
