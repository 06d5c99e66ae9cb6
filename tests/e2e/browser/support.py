"""Browser-test helpers shared by the tests and `make screenshots`: where Chromium is, how to
launch it, the moves people make in the app (sign in, create an event, log a payment), and
Cognito's mail as the local stack spools it (.eml files in MAIL_DIR)."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from playwright.sync_api import APIRequestContext, BrowserContext, Page, expect

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
CONFIRM_TIMEOUT_MS = 30_000


def chromium_path() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def launch_options() -> dict[str, Any]:
    path = chromium_path()
    return {"executable_path": str(path) if path else str(CHROMIUM), "args": list(LAUNCH_ARGS)}


def watch_for_script_errors(context: BrowserContext, errors: list[str]) -> None:
    """Collect every uncaught exception thrown in the context's pages."""
    context.on("weberror", lambda web_error: errors.append(str(web_error.error)))


def fill_sign_in(page: Page, email: str, password: str) -> None:
    """Type into the sign-in form (the page must show it) and press Sign in."""
    form = page.locator("#sign-in-form")
    expect(form).to_be_visible()
    form.get_by_label("E-mail", exact=True).fill(email)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, email: str, password: str, *, goto: bool = True) -> None:
    """Sign in with a permanent password and wait for the events view."""
    if goto:
        page.goto("/")
    fill_sign_in(page, email, password)
    expect(page.locator("#events")).to_be_visible()
    expect(page.locator("#session")).to_be_visible()


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
    form = page.locator("#create-event-form")
    form.get_by_label("Event name", exact=True).fill(name)
    form.locator("#event-date").fill(date)
    if location:
        form.get_by_label("Location").fill(location)
    if expected:
        form.get_by_label("Expected total").fill(expected)
    form.get_by_role("button", name="Create event").click()
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


def ledger(page: Page, event_id: str) -> list[dict[str, Any]]:
    """The event's payments straight from the API, with the page's own token."""
    result = page.evaluate(
        """async (eventId) => {
            const token = JSON.parse(sessionStorage.getItem("scc.session")).token;
            const reply = await fetch(`/api/g/${eventId}/payments?limit=500`, {
                headers: { Authorization: `Bearer ${token}` },
            });
            return await reply.json();
        }""",
        event_id,
    )
    return list(result["payments"])


def stored_session(page: Page) -> Any:
    return page.evaluate("JSON.parse(sessionStorage.getItem('scc.session'))")


def log_payment(page: Page, card: Any, **fields: Any) -> None:
    card.get_by_role("button", name="Log payment").click()
    fill_payment(page, **fields)
    page.locator("#payment-submit").click()
    expect(page.locator("#payment-dialog")).to_be_hidden()


# --- Cognito's mail in MAIL_DIR -------------------------------------------------------------------

MAIL_TIMEOUT_SECONDS = 20.0


def _mails(mail_dir: Path, kind: str) -> list[tuple[Path, EmailMessage]]:
    found = []
    for path in sorted(mail_dir.glob(f"*cognito-*{kind}*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append((path, message))
    return found


def wait_for_mail(
    mail_dir: Path, kind: str, recipient: str, *, not_in: frozenset[Path] = frozenset()
) -> str:
    """The plain-text body of the newest Cognito mail of `kind` ("invitation", "reset") to
    `recipient`, waiting up to MAIL_TIMEOUT_SECONDS for it to be written."""
    deadline = time.monotonic() + MAIL_TIMEOUT_SECONDS
    while True:
        matching = [
            (path, message)
            for path, message in _mails(mail_dir, kind)
            if path not in not_in and recipient.lower() in str(message["To"]).lower()
        ]
        if matching:
            body = matching[-1][1].get_body(preferencelist=("plain", "html"))
            assert body is not None, f"{matching[-1][0]} has no text body"
            return str(body.get_content())
        if time.monotonic() > deadline:
            present = sorted(p.name for p in mail_dir.glob("*.eml")) if mail_dir.exists() else []
            raise AssertionError(
                f"no cognito {kind} mail to {recipient} in {mail_dir} within "
                f"{MAIL_TIMEOUT_SECONDS:.0f} s; there: {present}"
            )
        time.sleep(0.1)


def mails_now(mail_dir: Path, kind: str) -> frozenset[Path]:
    """The mails of `kind` already there (to wait for a newer one)."""
    return (
        frozenset(path for path, _ in _mails(mail_dir, kind)) if mail_dir.exists() else frozenset()
    )


def temporary_password(body: str) -> str:
    """The temporary password of an invitation (the template's `{####}`)."""
    text = " ".join(body.split())
    found = re.search(r"temporary password (?:is )?(\S+?)(?:\s+-\s+you\b|\.?$|\.\s)", text)
    assert found, f"no temporary password in the invitation: {body!r}"
    return found.group(1)


def reset_code(body: str) -> str:
    found = re.search(r"\b([0-9]{6})\b", body)
    assert found, f"no 6-digit code in the reset mail: {body!r}"
    return found.group(1)


# --- people made through the API (fast set-up for tests that need a person of their own) --------


@dataclass(frozen=True)
class Person:
    email: str
    password: str
    name: str
    role: str


def api_sign_in(request: APIRequestContext, email_address: str, password: str) -> dict[str, Any]:
    reply = request.post("/api/auth/login", data={"email": email_address, "password": password})
    assert reply.status == 200, f"login {email_address}: {reply.status} {reply.text()}"
    body: dict[str, Any] = reply.json()
    return body


def invite_person(
    request: APIRequestContext, admin_token: str, mail_dir: Path, *, name: str, role: str
) -> tuple[str, str]:
    """Invite someone through the API; their e-mail address and temporary password."""
    address = f"{slug(name)}-{time.time_ns() % 10**9}@scc.local"
    reply = request.post(
        "/api/people",
        data={"email": address, "name": name, "role": role},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert reply.status == 201, f"invite {address}: {reply.status} {reply.text()}"
    return address, temporary_password(wait_for_mail(mail_dir, "invitation", address))


def make_person(
    request: APIRequestContext, admin_token: str, mail_dir: Path, *, name: str, role: str
) -> Person:
    """A person who has accepted the invitation (status CONFIRMED, a password of their own)."""
    address, temporary = invite_person(request, admin_token, mail_dir, name=name, role=role)
    first = api_sign_in(request, address, temporary)
    assert first["status"] == "challenge", first
    assert first["challenge"] == "NEW_PASSWORD_REQUIRED", first
    password = f"pw-{time.time_ns()}-own"
    reply = request.post(
        "/api/auth/challenge",
        data={
            "email": address,
            "session": first["session"],
            "challenge": "NEW_PASSWORD_REQUIRED",
            "new_password": password,
        },
    )
    assert reply.status == 200, reply.text()
    assert reply.json()["status"] == "signed_in", reply.text()
    return Person(address, password, name, role)
