"""`make screenshots`: start a local stack, drive the app in headless Chromium and write PNGs of
the event list, the open Log Payment modal, the close-out sheet and a closed-out card, the
People screen and the phone layout (390 px) into a folder (docs/screenshots/ by default)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e.browser.support import (
    create_event,
    event_card,
    fill_payment,
    launch_options,
    log_payment,
    sign_in,
)
from tests.e2e.stack_process import start_stack_process


def main(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    stack = start_stack_process(Path(tempfile.mkdtemp(prefix="scc-screenshots-")))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options())
            desktop = browser.new_context(
                base_url=stack.url,
                locale="en-US",
                timezone_id="UTC",
                viewport={"width": 1200, "height": 860},
            )
            page = desktop.new_page()
            sign_in(page, stack.admin_email, stack.admin_password)
            card = create_event(page, "Harbor Lights Cruise", location="Dock 3", expected="2400.00")
            log_payment(page, card, patron="John Smith", amount="150", method="card")
            log_payment(
                page, card, patron="Ana Ruiz", amount="40", method="venmo", reference="@ana"
            )
            log_payment(page, card, patron="Sam Lee", amount="85.50", method="cash")
            expect(card).to_have_attribute("data-sync", "confirmed", timeout=30_000)
            card.locator("summary", has_text="Payments").click()
            expect(card.locator("li.payment")).to_have_count(3)
            page.wait_for_timeout(6500)  # let the toasts fade
            page.screenshot(path=str(out_dir / "event-list.png"), full_page=True)

            mixer = event_card(page, "Corporate Mixer")
            mixer.get_by_role("button", name="Log payment").click()
            fill_payment(
                page, patron="Grace Hopper", amount="250.00", method="check", reference="#1042"
            )
            page.screenshot(path=str(out_dir / "log-payment-modal.png"))
            page.locator("#payment-cancel").click()

            # Close out Harbor Lights: five short in the cash box, explained in the note
            sheet = page.locator("#closeout-dialog")

            def count(values: dict[str, str], note: str) -> None:
                card.get_by_role("button", name="Close out", exact=True).click()
                for method, value in values.items():
                    sheet.locator(f"#closeout-{method}").fill(value)
                sheet.get_by_label("Note").fill(note)

            counts = {"cash": "80.50", "card": "150", "check": "0", "venmo": "40", "other": "0"}
            count(counts, "Five short in the cash box; counted twice")
            sheet.get_by_role("button", name="Save close-out").click()
            expect(sheet.locator("#closeout-history li")).to_have_count(1)
            sheet.get_by_role("button", name="Done").click()
            expect(card).to_have_attribute("data-closeout", "confirmed", timeout=30_000)
            # ... then a late Venmo: the card and its payments show it came after the close-out
            log_payment(
                page, card, patron="Mia Late", amount="25", method="venmo", reference="@mia"
            )
            expect(card).to_have_attribute("data-sync", "confirmed", timeout=30_000)
            expect(card.locator("li.payment .after-closeout")).to_be_visible()  # list still open
            page.wait_for_timeout(6500)  # let the toasts fade
            card.screenshot(path=str(out_dir / "closeout-card.png"))

            # The sheet again: the late Venmo is recorded, the history lists the first close-out
            page.set_viewport_size({"width": 1200, "height": 1240})
            counts = {"cash": "85.50", "card": "150", "check": "0", "venmo": "70", "other": "0"}
            count(counts, "Venmo tip from the Ruiz party")
            expect(sheet.locator("#closeout-history li")).to_have_count(1)
            expect(sheet.locator("#closeout-total")).to_have_text("Total: over $5.00")
            page.screenshot(path=str(out_dir / "closeout.png"))
            sheet.get_by_role("button", name="Cancel").click()
            page.set_viewport_size({"width": 1200, "height": 860})

            # People: an invitation still waiting, and someone disabled
            page.get_by_role("link", name="People").click()
            expect(page.locator("li.person").first).to_be_visible()
            details = page.locator("#invite")
            if details.get_attribute("open") is None:
                details.locator("summary").click()
            form = page.locator("#invite-form")
            for email, name, role in [
                ("dana@scc.local", "Dana Deckhand", "crew"),
                ("sam@scc.local", "Sam Skipper", "admin"),
            ]:
                form.get_by_label("E-mail").fill(email)
                form.get_by_label("Name").fill(name)
                form.get_by_label("Role").select_option(role)
                form.get_by_role("button", name="Send invitation").click()
                expect(page.locator(f'li.person[data-email="{email}"]')).to_be_visible()
            page.get_by_role("button", name="Disable Sam Skipper").click()
            page.locator("#confirm-dialog").get_by_role("button", name="Disable").click()
            expect(page.locator('li.person[data-email="sam@scc.local"]')).to_have_attribute(
                "data-enabled", "false"
            )
            details.locator("summary").click()  # fold the form: the list is the picture
            page.wait_for_timeout(6500)  # let the toasts fade
            page.screenshot(path=str(out_dir / "people.png"), full_page=True)
            desktop.close()

            phone = browser.new_context(
                base_url=stack.url,
                locale="en-US",
                timezone_id="UTC",
                viewport={"width": 390, "height": 844},
                device_scale_factor=1,
                is_mobile=True,
                has_touch=True,
            )
            page = phone.new_page()
            sign_in(page, stack.admin_email, stack.admin_password)
            card = event_card(page, "Harbor Lights Cruise")
            card.locator("summary", has_text="Payments").click()
            expect(card.locator("li.payment")).to_have_count(4)
            card.scroll_into_view_if_needed()
            page.screenshot(path=str(out_dir / "phone.png"))

            # On the dock with no signal: payments wait in this device's outbox
            page.route("**/api/g/*/payment", lambda route: route.abort())
            for patron, amount in (("Lee Marsh", "60"), ("Kai Olsen", "45.25")):
                log_payment(page, card, patron=patron, amount=amount, method="cash")
            expect(card.locator(".outbox-count")).to_have_text("2 waiting to sync")
            page.wait_for_timeout(6500)  # let the toasts fade
            card.scroll_into_view_if_needed()
            page.screenshot(path=str(out_dir / "offline.png"))
            phone.close()
            browser.close()
    finally:
        stack.stop()
    for name in (
        "event-list.png",
        "log-payment-modal.png",
        "closeout.png",
        "closeout-card.png",
        "people.png",
        "phone.png",
        "offline.png",
    ):
        print(out_dir / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
