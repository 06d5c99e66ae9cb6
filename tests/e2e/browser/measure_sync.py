"""Time for N payments queued in the outbox (500 by default) to sync once the API answers again,
measured in the browser.

On a fresh local stack, signed in as the admin, with the payment API cut off: one payment is
logged through the dialog (into the outbox, as a person would), the other N-1 are put in the
outbox the way the dialog does it (sync.js `saveForLater`, same entries). Then the API comes
back and the browser goes `online`; the script prints how long until the outbox is empty (every
payment acknowledged by the server, replayed one at a time, oldest first) and until the card's
totals are confirmed by the projection.

    PYTHONPATH=. .venv/bin/python tests/e2e/browser/measure_sync.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e.browser.support import (
    create_event,
    fill_payment,
    launch_options,
    sign_in,
)
from tests.e2e.stack_process import start_stack_process

QUEUE_JS = """async ([eventId, count]) => {
    const { saveForLater } = await import("./sync.js");
    const { uuid7 } = await import("./ids.js");
    const card = { event: { event_id: eventId, event_name: "Sync Timing", currency: "USD" } };
    for (let n = 1; n < count; n += 1) {
        const body = {
            payment_id: uuid7(),
            patron_name: `Patron ${n}`,
            amount: "10.01",
            payment_method: "cash",
            received_at: new Date().toISOString(),
        };
        await saveForLater({ card, body, cents: 1001, error: new Error("measuring") });
    }
}"""


def main(count: int) -> int:
    stack = start_stack_process(Path(tempfile.mkdtemp(prefix="scc-measure-sync-")))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options())
            context = browser.new_context(base_url=stack.url, locale="en-US", timezone_id="UTC")
            page = context.new_page()
            page.set_default_timeout(30_000)
            sign_in(page, stack.admin_email, stack.admin_password)
            card = create_event(page, "Sync Timing")
            event_id = card.get_attribute("data-event-id")

            context.route("**/api/g/*/payment", lambda route: route.abort())
            card.get_by_role("button", name="Log payment").click()
            fill_payment(page, patron="Patron 0", amount="10.01", method="cash")
            page.locator("#payment-submit").click()
            expect(page.locator("#payment-dialog")).to_be_hidden()
            page.evaluate(QUEUE_JS, [event_id, count])
            expect(card.locator(".outbox-count")).to_have_text(f"{count} waiting to sync")

            context.set_offline(True)
            context.unroute("**/api/g/*/payment")
            started = time.perf_counter()
            context.set_offline(False)  # the browser says `online`: the outbox replays
            expect(page.locator("html")).to_have_attribute("data-outbox", "0", timeout=600_000)
            synced = time.perf_counter() - started
            cents = count * 1001
            total = f"${cents // 100:,}.{cents % 100:02d} collected"
            expect(card.locator(".net")).to_have_text(total, timeout=600_000)
            expect(card).to_have_attribute("data-sync", "confirmed", timeout=600_000)
            confirmed = time.perf_counter() - started
            browser.close()
    finally:
        stack.stop()
    print(
        f"{count} queued payments: outbox empty {synced:.1f} s after the API came back "
        f"({synced / count * 1000:.0f} ms per payment), totals confirmed after {confirmed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
