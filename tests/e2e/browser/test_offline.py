"""Logging offline: the app as an installable PWA (service worker, precached shell, manifest) and
its outbox (IndexedDB) in real headless Chromium against the real local stack.

Only the API is cut (`route(...).abort()`: fetch rejects, as with no connection) while the
shell keeps loading, or the whole browser goes offline (`set_offline`) once the service worker
controls the page. Payments logged meanwhile are kept on the device and replayed, once each,
when the API answers again; what the server holds is checked through the API itself."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Response,
    expect,
)

from devstack.gateway import GatewayServer
from devstack.shell_version import stamped_worker
from tests.e2e.browser.support import (
    CONFIRM_TIMEOUT_MS,
    LAUNCH_ARGS,
    REPO_ROOT,
    Person,
    chromium_path,
    event_card,
    fill_payment,
    sign_in,
    unique_name,
    watch_for_script_errors,
)
from tests.e2e.stack_process import StackProcess

SAVED = "Saved on this device — will sync when online"
HOSTILE = "<img src=x onerror=alert(1)>"
SYNC_TIMEOUT_MS = 30_000
FRONTEND = REPO_ROOT / "frontend"

# Five payments with awkward cents: their exact sum is 1234.57.
PAYMENTS = [
    (HOSTILE, "0.10", "cash"),
    ("Ana Ruiz", "99.99", "venmo"),
    ("Bo Chen", "1000.01", "card"),
    ("Cy Okafor", "134.46", "check"),
    ("Di Lund", "0.01", "other"),
]
PAYMENTS_CENTS = 123457

OUTBOX_JS = """async () => {
    const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open("scc-payments");
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
    try {
        if (!db.objectStoreNames.contains("outbox")) return [];
        return await new Promise((resolve, reject) => {
            const request = db.transaction("outbox").objectStore("outbox").getAll();
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
        });
    } finally {
        db.close();
    }
}"""

PUT_OUTBOX_JS = """async (entry) => {
    const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open("scc-payments");
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
    try {
        await new Promise((resolve, reject) => {
            const tx = db.transaction("outbox", "readwrite");
            tx.objectStore("outbox").put(entry);
            tx.oncomplete = resolve;
            tx.onerror = () => reject(tx.error);
        });
    } finally {
        db.close();
    }
}"""


# --- helpers ---------------------------------------------------------------------------------------


def _context_options(url: str) -> dict[str, Any]:
    return {
        "base_url": url,
        "locale": "en-US",
        "timezone_id": "UTC",
        "viewport": {"width": 1280, "height": 900},
    }


def _launch_profile(playwright: Playwright, profile: Path, url: str) -> BrowserContext:
    """Chromium on a profile directory of its own: what is on disk survives a relaunch."""
    path = chromium_path()
    # Never a skip: the browser fixtures this suite also uses already fail CI without Chromium.
    assert path is not None, "Chromium is missing: run `make chromium`"
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(path), args=list(LAUNCH_ARGS), **_context_options(url)
    )


def _page(context: BrowserContext, dialogs: list[str], *, new: bool = False) -> Page:
    page = context.pages[0] if context.pages and not new else context.new_page()
    page.set_default_timeout(10_000)

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return page


def _create_event(api: APIRequestContext, token: str, name: str) -> str:
    reply = api.post(
        "/api/events",
        data={"event_name": name, "date": "2026-06-14", "location": "Dock 7"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status == 201, reply.text()
    return str(reply.json()["event_id"])


def _api_payments(api: APIRequestContext, token: str, event_id: str) -> list[dict[str, Any]]:
    reply = api.get(
        f"/api/g/{event_id}/payments?limit=500", headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status == 200, reply.text()
    return list(reply.json()["payments"])


def _api_summary(api: APIRequestContext, token: str, event_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/events/{event_id}", headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.text()
    return dict(reply.json()["summary"])


def _cut_api(context: BrowserContext, pattern: str = "**/api/**") -> None:
    context.route(pattern, lambda route: route.abort())


def _bring_api_back(context: BrowserContext, pattern: str = "**/api/**") -> None:
    """The connection returns: the API answers again and the browser says `online`."""
    context.set_offline(True)
    context.unroute(pattern)
    context.set_offline(False)


def _wait_controlled(page: Page) -> None:
    """Until a service worker controls the page (pwa.js then marks <html> with its version).
    Not wait_for_function: its polling evaluates strings, which the app's CSP refuses."""
    expect(page.locator("html")).to_have_attribute("data-shell-version", re.compile(r".+"))


def _outbox(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate(OUTBOX_JS))


def _log_offline(page: Page, card: Any, patron: str, amount: str, method: str) -> None:
    card.get_by_role("button", name="Log payment").click()
    fill_payment(page, patron=patron, amount=amount, method=method)
    page.locator("#payment-submit").click()
    expect(page.locator("#payment-dialog")).to_be_hidden()
    expect(page.locator("#toasts .toast").last).to_have_text(SAVED)


def _open_payments(card: Any) -> None:
    section = card.locator("details.payments-section")
    if section.get_attribute("open") is None:
        card.locator("summary", has_text="Payments").click()


# --- 1. offline, reload, restart, sign in, sync: exactly once ---------------------------------------


def test_payments_logged_offline_survive_reload_and_restart_then_sync_exactly_once(
    playwright: Playwright,
    api: APIRequestContext,
    local_stack: StackProcess,
    admin_token: str,
    tmp_path: Path,
    no_script_errors: list[str],
) -> None:
    name = unique_name("Offline Dock")
    event_id = _create_event(api, admin_token, name)
    profile = tmp_path / "profile"
    dialogs: list[str] = []

    context = _launch_profile(playwright, profile, local_stack.url)
    watch_for_script_errors(context, no_script_errors)
    page = _page(context, dialogs)
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    _wait_controlled(page)
    card = event_card(page, name)
    expect(card).to_be_visible()

    # The API cannot be reached: Log payment still works, into the outbox
    _cut_api(context)
    for patron, amount, method in PAYMENTS:
        _log_offline(page, card, patron, amount, method)
    expect(card.locator(".outbox-count")).to_have_text("5 waiting to sync")
    expect(card.locator(".outbox-amount")).to_have_text("$1,234.57 pending")
    expect(card.locator(".outbox-note")).to_have_attribute(
        "data-pending-cents", str(PAYMENTS_CENTS)
    )
    expect(card.locator(".net")).to_have_text("$0.00 collected")  # pending is not collected
    _open_payments(card)
    rows = card.locator("li.payment.outbox")
    expect(rows).to_have_count(5)
    expect(rows.filter(has_text=HOSTILE)).to_contain_text("waiting to sync")
    stored = _outbox(page)
    assert len(stored) == 5
    assert {e["status"] for e in stored} == {"waiting"}
    assert sorted(e["body"]["amount"] for e in stored) == sorted(a for _, a, _ in PAYMENTS)
    assert {e["owner"]["email"] for e in stored} == {local_stack.admin_email}
    ids = {e["payment_id"] for e in stored}

    # Reloaded with no connection at all: the shell comes from the service worker, the events
    # from this device, the outbox from IndexedDB
    context.set_offline(True)
    page.reload()
    card = event_card(page, name)
    expect(card.locator(".outbox-count")).to_have_text("5 waiting to sync")
    expect(page.locator("#events-status")).to_contain_text("No connection")
    context.close()

    # The browser is closed and started again on the same profile, still offline: the app
    # opens, the session is gone (sessionStorage), the outbox is not
    context = _launch_profile(playwright, profile, local_stack.url)
    watch_for_script_errors(context, no_script_errors)
    page = _page(context, dialogs)
    context.set_offline(True)
    page.goto("/")
    expect(page.locator("#sign-in-form")).to_be_visible()
    expect(page.locator(".outbox-sign-in")).to_contain_text("5 payments saved on this device")

    # Signing in needs the network; the payment API itself is still out of reach
    context.set_offline(False)
    _cut_api(context, "**/api/g/**")
    sign_in(page, local_stack.admin_email, local_stack.admin_password, goto=False)
    card = event_card(page, name)
    expect(card.locator(".outbox-count")).to_have_text("5 waiting to sync")
    # (A retry in flight while the first browser closed can reach the server with no one left
    # to read the answer: a dropped response. Its entry is replayed like the others.)
    assert {p["payment_id"] for p in _api_payments(api, admin_token, event_id)} <= ids

    # The API is back: every entry is sent once, the outbox empties
    _bring_api_back(context, "**/api/g/**")
    expect(page.locator("html")).to_have_attribute("data-outbox", "0", timeout=SYNC_TIMEOUT_MS)
    expect(card.locator(".outbox-note")).to_be_hidden()
    assert _outbox(page) == []

    payments = _api_payments(api, admin_token, event_id)
    assert len(payments) == 5
    assert {p["payment_id"] for p in payments} == ids
    assert sorted((p["patron_name"], p["amount"], p["payment_method"]) for p in payments) == sorted(
        PAYMENTS
    )
    assert sum(p["amount_cents"] for p in payments) == PAYMENTS_CENTS
    expect(card.locator(".net")).to_have_text("$1,234.57 collected", timeout=CONFIRM_TIMEOUT_MS)
    expect(card).to_have_attribute("data-sync", "confirmed", timeout=CONFIRM_TIMEOUT_MS)
    summary = _api_summary(api, admin_token, event_id)
    assert summary["payment_count"] == 5
    assert summary["net_cents"] == PAYMENTS_CENTS
    assert {k: v for k, v in summary["by_method_cents"].items() if v} == {
        "cash": 10,
        "venmo": 9999,
        "card": 100001,
        "check": 13446,
        "other": 1,
    }

    # The hostile name is text everywhere, never markup
    _open_payments(card)
    row = card.locator("li.payment:not(.outbox)").filter(has_text=HOSTILE)
    expect(row).to_have_count(1)
    expect(row.locator(".patron")).to_have_text(HOSTILE)
    assert page.locator("img").count() == 0
    assert dialogs == []
    context.close()


# --- 2. two tabs replaying at once ---------------------------------------------------------------


@pytest.mark.parametrize("locks", ["web-locks", "no-locks"])
def test_two_tabs_replaying_at_once_still_record_each_payment_once(
    browser: Browser,
    api: APIRequestContext,
    local_stack: StackProcess,
    admin_token: str,
    no_script_errors: list[str],
    locks: str,
) -> None:
    name = unique_name(f"Two Tabs {locks}")
    event_id = _create_event(api, admin_token, name)
    context = browser.new_context(**_context_options(local_stack.url))
    watch_for_script_errors(context, no_script_errors)
    if locks == "no-locks":
        # A browser without Web Locks: nothing keeps the tabs apart but idempotency
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'locks', "
            "{ get: () => undefined, configurable: true });"
        )
    posts: list[str] = []
    context.on(
        "request",
        lambda r: (
            posts.append(json.loads(r.post_data or "{}").get("payment_id", ""))
            if r.method == "POST" and r.url.endswith("/payment")
            else None
        ),
    )
    dialogs: list[str] = []
    first, second = _page(context, dialogs, new=True), _page(context, dialogs, new=True)
    for page in (first, second):
        sign_in(page, local_stack.admin_email, local_stack.admin_password)
    assert first.evaluate("Boolean(navigator.locks)") is (locks == "web-locks")

    _cut_api(context, "**/api/g/*/payment")
    first.bring_to_front()  # a background tab gets no animation frames: clicks would crawl
    card = event_card(first, name)
    for patron, amount, method in PAYMENTS:
        _log_offline(first, card, patron, amount, method)
    # The other tab sees the same outbox
    expect(event_card(second, name).locator(".outbox-count")).to_have_text("5 waiting to sync")
    saved = sorted(e["payment_id"] for e in _outbox(second))
    assert len(saved) == 5
    assert set(posts) == set(saved)  # tried when logged (and by the retry timer), never sent
    before = len(posts)

    _bring_api_back(context, "**/api/g/*/payment")
    for page in (first, second):
        expect(page.locator("html")).to_have_attribute("data-outbox", "0", timeout=SYNC_TIMEOUT_MS)
    payments = _api_payments(api, admin_token, event_id)
    assert len(payments) == 5
    assert sorted(p["payment_id"] for p in payments) == saved
    assert sum(p["amount_cents"] for p in payments) == PAYMENTS_CENTS
    assert set(posts[before:]) >= set(saved)  # every entry replayed, perhaps by both tabs
    for page in (first, second):
        expect(event_card(page, name).locator(".net")).to_have_text(
            "$1,234.57 collected", timeout=CONFIRM_TIMEOUT_MS
        )
    assert dialogs == []
    context.close()


# --- 3. what the server refuses stays until edited or discarded ---------------------------------


def test_a_refused_entry_stays_with_its_reason_until_edited_or_discarded(
    admin: Page,
    context: BrowserContext,
    api: APIRequestContext,
    admin_token: str,
) -> None:
    name = unique_name("Refusals")
    event_id = _create_event(api, admin_token, name)
    admin.reload()
    card = event_card(admin, name)
    _cut_api(context, "**/api/g/*/payment")
    _log_offline(admin, card, "Carla Conflict", "25.00", "cash")
    _log_offline(admin, card, "Ivan Invalid", "30.00", "card")
    expect(card.locator(".outbox-count")).to_have_text("2 waiting to sync")
    entries = {e["body"]["patron_name"]: e for e in _outbox(admin)}
    carla, ivan = entries["Carla Conflict"], entries["Ivan Invalid"]

    # Someone logs Carla's payment_id first with other details: the replay will get a 409
    taken = api.post(
        f"/api/g/{event_id}/payment",
        data={**carla["body"], "amount": "99.00"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert taken.status == 201, taken.text()
    # Ivan's stored body is one the server refuses (400, with the field named)
    admin.evaluate(PUT_OUTBOX_JS, {**ivan, "body": {**ivan["body"], "amount": "30.001"}})

    _bring_api_back(context, "**/api/g/*/payment")
    expect(card.locator(".outbox-refused")).to_have_text(
        "2 payments refused — see Payments", timeout=SYNC_TIMEOUT_MS
    )
    expect(card.locator(".outbox-count")).to_have_count(0)
    _open_payments(card)
    carla_row = card.locator(f'li.payment.outbox[data-payment-id="{carla["payment_id"]}"]')
    ivan_row = card.locator(f'li.payment.outbox[data-payment-id="{ivan["payment_id"]}"]')
    expect(carla_row).to_contain_text("refused: This payment_id was already used")
    expect(ivan_row).to_contain_text("refused:")
    expect(ivan_row).to_contain_text("amount")
    stored = {e["payment_id"]: e for e in _outbox(admin)}
    assert stored[carla["payment_id"]]["status"] == "refused"
    assert stored[carla["payment_id"]]["last_error"]["status"] == 409
    assert stored[ivan["payment_id"]]["last_error"]["status"] == 400
    assert "amount" in stored[ivan["payment_id"]]["last_error"]["fields"]

    # Still there after a reload with the API up: a refused entry is never resent by itself
    sent: list[str] = []
    admin.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    admin.reload()
    card = event_card(admin, name)
    expect(card.locator(".outbox-refused")).to_have_text("2 payments refused — see Payments")
    _open_payments(card)
    expect(card.locator("li.payment.outbox")).to_have_count(2)
    assert sent == []

    # Edit Carla's: the dialog reopens with her entries and, her payment_id being taken, a new one
    ids: list[str] = []
    admin.on(
        "request",
        lambda r: (
            ids.append(json.loads(r.post_data or "{}")["payment_id"])
            if r.method == "POST" and r.url.endswith("/payment")
            else None
        ),
    )
    carla_row = card.locator(f'li.payment.outbox[data-payment-id="{carla["payment_id"]}"]')
    carla_row.get_by_role("button", name="Edit").click()
    dialog = admin.locator("#payment-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Patron name")).to_have_value("Carla Conflict")
    expect(dialog.get_by_label("Amount")).to_have_value("25.00")
    expect(admin.locator("#payment-notice")).to_contain_text("payment id is taken")
    admin.locator("#payment-submit").click()
    expect(dialog).to_be_hidden()
    expect(admin.locator("#toasts")).to_contain_text("Payment logged for Carla Conflict: $25.00")
    assert len(ids) == 1
    assert ids[0] != carla["payment_id"]
    expect(carla_row).to_have_count(0)

    # Discard Ivan's, after a confirmation
    ivan_row = card.locator(f'li.payment.outbox[data-payment-id="{ivan["payment_id"]}"]')
    ivan_row.get_by_role("button", name="Discard").click()
    confirm = admin.locator("#confirm-dialog")
    expect(confirm).to_contain_text("Discard this payment?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(ivan_row).to_have_count(1)
    ivan_row.get_by_role("button", name="Discard").click()
    confirm.get_by_role("button", name="Discard").click()
    expect(ivan_row).to_have_count(0)
    expect(admin.locator("html")).to_have_attribute("data-outbox", "0")
    expect(card.locator(".outbox-note")).to_be_hidden()

    payments = _api_payments(api, admin_token, event_id)
    assert sorted((p["patron_name"], p["amount"]) for p in payments) == [
        ("Carla Conflict", "25.00"),
        ("Carla Conflict", "99.00"),
    ]


# --- entries belong to who logged them ---------------------------------------------------------


def test_an_entry_is_only_ever_sent_by_the_person_who_logged_it(
    page: Page,
    context: BrowserContext,
    api: APIRequestContext,
    admin_token: str,
    new_person: Callable[..., Person],
) -> None:
    deckhand = new_person("Offline Deckhand")
    mate = new_person("Offline Mate")  # of their own: signing out ends their sessions everywhere
    name = unique_name("Whose Outbox")
    event_id = _create_event(api, admin_token, name)
    page.set_default_timeout(10_000)
    posted: list[str] = []
    page.on(
        "request",
        lambda r: (
            posted.append(json.loads(r.post_data or "{}").get("payment_id", ""))
            if r.method == "POST" and r.url.endswith("/payment")
            else None
        ),
    )

    # The deckhand logs a payment with the API out of reach, then signs out
    sign_in(page, deckhand.email, deckhand.password)
    _cut_api(context, "**/api/g/*/payment")
    card = event_card(page, name)
    card.get_by_role("button", name="Log payment").click()
    page.locator("#method").select_option("other")
    expect(page.locator("#reference-hint")).to_have_text("(what it was)")
    fill_payment(page, patron="Deck Patron", amount="12.34", method="other", reference="Zelle")
    page.locator("#payment-submit").click()
    expect(page.locator("#toasts .toast").last).to_have_text(SAVED)
    theirs = _outbox(page)[0]["payment_id"]
    page.locator("#sign-out").click()
    expect(page.locator(".outbox-sign-in")).to_contain_text("1 payment saved on this device")

    # Someone else signs in on the same device: the deckhand's entry is shown, never sent
    sign_in(page, mate.email, mate.password, goto=False)
    card = event_card(page, name)
    _open_payments(card)
    row = card.locator(f'li.payment.outbox[data-payment-id="{theirs}"]')
    expect(row).to_contain_text(f"waiting for {deckhand.email} to sign in")
    expect(row.get_by_role("button")).to_have_count(0)
    _log_offline(page, card, "Mate Patron", "5.00", "cash")
    expect(card.locator(".outbox-count")).to_have_text("2 waiting to sync")
    before = len(posted)
    _bring_api_back(context, "**/api/g/*/payment")
    # Their own entry is sent; the deckhand's stays
    expect(page.locator("html")).to_have_attribute(
        "data-outbox-waiting", "1", timeout=SYNC_TIMEOUT_MS
    )
    assert theirs not in posted[before:]
    assert [p["patron_name"] for p in _api_payments(api, admin_token, event_id)] == ["Mate Patron"]

    # The deckhand signs in again: theirs goes, logged by them
    page.locator("#sign-out").click()
    sign_in(page, deckhand.email, deckhand.password, goto=False)
    expect(page.locator("html")).to_have_attribute("data-outbox", "0", timeout=SYNC_TIMEOUT_MS)
    logged = {p["patron_name"]: p for p in _api_payments(api, admin_token, event_id)}
    assert set(logged) == {"Mate Patron", "Deck Patron"}
    assert logged["Deck Patron"]["logged_by"] == deckhand.email
    assert logged["Deck Patron"]["payment_method"] == "other"
    assert logged["Deck Patron"]["payment_id"] == theirs


# --- 4. the service worker: a new version takes over whole ---------------------------------------


@pytest.fixture
def site_copy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """frontend/ copied and served by the local gateway's own static file server (no API), so
    a test can publish a new version of the app without touching the tree."""
    root = tmp_path / "site"
    shutil.copytree(FRONTEND, root)
    server = GatewayServer(("127.0.0.1", 0), static_root=root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url, root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _shell() -> list[str]:
    source = (FRONTEND / "sw.js").read_text(encoding="utf-8")
    found = re.search(r"const SHELL = \[(.*?)\];", source, re.S)
    assert found, "sw.js has no SHELL list"
    return re.findall(r'"([^"]+)"', found.group(1))


def _version(root: Path) -> str:
    """The version the gateway serves: sw.js's placeholder filled with the content hash."""
    served = stamped_worker(root, (root / "sw.js").read_bytes()).decode("utf-8")
    found = re.search(r'const VERSION = "([^"]+)";', served)
    assert found, "sw.js has no VERSION"
    return found.group(1)


def _publish(root: Path, marker: str) -> str:
    """Change the app (nothing else): the served version follows by itself."""
    with (root / "app.js").open("a", encoding="utf-8") as app:
        app.write(f"\n// shell {marker}\n")
    return _version(root)


def _cache_state(page: Page) -> Any:
    return page.evaluate(
        """async () => {
            const names = await caches.keys();
            const entries = {};
            for (const name of names) {
                const cache = await caches.open(name);
                const requests = await cache.keys();
                entries[name] = await Promise.all(requests.map(async (request) => {
                    const response = await cache.match(request);
                    return [new URL(request.url).pathname, response.headers.get("x-scc-shell")];
                }));
            }
            return { names, entries };
        }"""
    )


def test_every_file_the_app_loads_is_precached() -> None:
    """An unlisted module would be missing offline (and break the whole module graph)."""
    shipped = sorted(
        p.relative_to(FRONTEND).as_posix()
        for p in FRONTEND.rglob("*")
        if p.is_file() and p.name != "sw.js" and not p.name.startswith(".")
    )
    assert sorted(_shell()) == shipped


def test_a_new_version_installs_whole_then_takes_over_whole(
    browser: Browser, site_copy: tuple[str, Path], no_script_errors: list[str]
) -> None:
    url, root = site_copy
    shell_paths = {"/" + path for path in _shell()}
    old = _version(root)
    context = browser.new_context(**_context_options(url))
    watch_for_script_errors(context, no_script_errors)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/")
    _wait_controlled(page)
    expect(page.locator("html")).to_have_attribute("data-shell-version", old)
    state = _cache_state(page)
    assert state["names"] == [f"scc-shell-{old}"]
    assert {path for path, _ in state["entries"][f"scc-shell-{old}"]} == shell_paths

    # A version whose precache cannot be filled (a file is missing) never takes over
    (root / "icons" / "icon-512.png").rename(root / "icon-512.png.away")
    broken = _publish(root, "broken")
    assert broken != old
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-shell-update", "failed")
    expect(page.locator("html")).to_have_attribute("data-shell-version", old)
    assert _cache_state(page)["names"] == [f"scc-shell-{old}"]

    # Fixed and published again: installed whole, then it takes over (the page reloads itself)
    (root / "icon-512.png.away").rename(root / "icons" / "icon-512.png")
    new = _publish(root, "next")
    assert new not in (old, broken)
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-shell-version", new)
    state = _cache_state(page)  # the old cache went when the new version activated
    assert state["names"] == [f"scc-shell-{new}"]
    assert {path for path, _ in state["entries"][f"scc-shell-{new}"]} == shell_paths
    assert {version for _, version in state["entries"][f"scc-shell-{new}"]} == {new}

    # Every file of the app now comes from the new cache, also with no network at all
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    context.set_offline(True)
    page.reload()
    expect(page.locator("#sign-in-form")).to_be_visible()
    served = {
        r.url.removeprefix(url): (r.from_service_worker, r.headers.get("x-scc-shell"))
        for r in responses
        if r.url.removeprefix(url) in shell_paths | {"/"}
    }
    assert "/" in served
    assert "/app.js" in served
    assert set(served.values()) == {(True, new)}, served
    assert page.evaluate("fetch('app.js').then(r => r.text())").rstrip().endswith("// shell next")
    context.close()


def test_the_manifest_makes_the_app_installable(page: Page, local_stack: StackProcess) -> None:
    page.goto("/")
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    assert href == "manifest.webmanifest"
    reply = page.request.get(f"{local_stack.url}/{href}")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/manifest+json")
    manifest = reply.json()
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "./"
    assert manifest["theme_color"] == "#0b5cad"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert page.request.get(f"{local_stack.url}/{icon['src']}").status == 200
    _wait_controlled(page)
    assert (
        page.evaluate("navigator.serviceWorker.controller.scriptURL") == f"{local_stack.url}/sw.js"
    )
    assert page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.scope)") == (
        f"{local_stack.url}/"
    )
