"""Time from pressing "Log payment" to the confirmed total, measured in the browser.

The app records a `performance.measure("scc:confirmed:<payment_id>")` from the submit to the
moment its polling sees the projection count the payment. This logs N payments (20 by
default) on a fresh local stack and prints the median and the spread.

    PYTHONPATH=. .venv/bin/python tests/e2e/browser/measure_confirm.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e.browser.support import create_event, launch_options, log_payment, sign_in
from tests.e2e.stack_process import start_stack_process


def main(runs: int) -> int:
    stack = start_stack_process(Path(tempfile.mkdtemp(prefix="scc-measure-")))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options())
            context = browser.new_context(base_url=stack.url, locale="en-US", timezone_id="UTC")
            page = context.new_page()
            sign_in(page, stack.admin_email, stack.admin_password)
            card = create_event(page, "Timing Run")
            for n in range(runs):
                log_payment(page, card, patron=f"Patron {n}", amount="10", method="cash")
                expect(card).to_have_attribute("data-sync", "confirmed", timeout=30_000)
            durations = page.evaluate(
                "performance.getEntriesByType('measure')"
                ".filter(m => m.name.startsWith('scc:confirmed:')).map(m => m.duration)"
            )
            browser.close()
    finally:
        stack.stop()
    if len(durations) != runs:
        print(f"expected {runs} measures, got {len(durations)}", file=sys.stderr)
        return 1
    ordered = sorted(durations)
    print(
        f"submit -> confirmed total, {runs} runs: median {statistics.median(ordered):.0f} ms, "
        f"min {ordered[0]:.0f} ms, max {ordered[-1]:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
