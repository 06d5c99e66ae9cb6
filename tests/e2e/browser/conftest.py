"""Browser fixtures: headless Chromium from the Debian package (no `playwright install`),
pointed at the session's local stack. In CI (CI=true) a missing browser fails the run; it is
never silently skipped there."""

from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e.browser.support import chromium_path, launch_options, sign_in
from tests.e2e.stack_process import StackProcess


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the app in headless Chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if chromium_path() is None:
        message = "Chromium is missing: run `make chromium` (apt-get install chromium)"
        if _in_ci():
            pytest.fail(message + " — browser tests must run in CI", pytrace=False)
        pytest.skip(message)
    return {**browser_type_launch_args, **launch_options()}


@pytest.fixture(scope="session")
def browser_context_args(
    browser_context_args: dict[str, Any], local_stack: StackProcess
) -> dict[str, Any]:
    return {
        **browser_context_args,
        "base_url": local_stack.url,
        "locale": "en-US",
        "timezone_id": "UTC",
        "viewport": {"width": 1280, "height": 900},
    }


@pytest.fixture
def admin(page: Page, local_stack: StackProcess) -> Page:
    """A page signed in as the dev admin, on the events view."""
    page.set_default_timeout(10_000)
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    return page
