"""Browser fixtures: headless Chromium from the Debian package (no `playwright install`),
pointed at the session's local stack. In CI (CI=true) a missing browser fails the run; it is
never silently skipped there.

People: the stack's admin (ADMIN_EMAIL/ADMIN_PASSWORD from tests/e2e/stack_process.py), its
demo crew member (CREW_EMAIL/CREW_PASSWORD when the stack process records them, otherwise one
invited through the API), and `make_person` for a test that needs someone of its own (signing
out or resetting a password ends or changes that person's sessions everywhere)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, BrowserContext, Page, Playwright

from tests.ci import tool_missing
from tests.e2e.browser.support import (
    Person,
    api_sign_in,
    chromium_path,
    launch_options,
    make_person,
    sign_in,
    watch_for_script_errors,
)
from tests.e2e.stack_process import StackProcess


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
        tool_missing("Chromium is missing: run `make chromium` (apt-get install chromium)")
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


@pytest.fixture(autouse=True)
def no_script_errors(context: BrowserContext) -> Iterator[list[str]]:
    """Every test fails on an uncaught exception in the app (tests add their other contexts)."""
    errors: list[str] = []
    watch_for_script_errors(context, errors)
    yield errors
    assert errors == [], f"uncaught errors in the app: {errors}"


@pytest.fixture(scope="session")
def api(playwright: Playwright, local_stack: StackProcess) -> Iterator[APIRequestContext]:
    """Plain HTTP to the stack, for set-up and for checking what the server holds."""
    context = playwright.request.new_context(base_url=local_stack.url)
    yield context
    context.dispose()


@pytest.fixture
def admin_token(api: APIRequestContext, local_stack: StackProcess) -> str:
    """A fresh ID token of the stack's admin (tokens live 15 minutes)."""
    return str(api_sign_in(api, local_stack.admin_email, local_stack.admin_password)["token"])


@pytest.fixture
def new_person(
    api: APIRequestContext, local_stack: StackProcess, admin_token: str
) -> Callable[..., Person]:
    """make_person(name, role): someone invited who has chosen their own password."""

    def make(name: str, role: str = "crew") -> Person:
        return make_person(api, admin_token, local_stack.mail_dir, name=name, role=role)

    return make


@pytest.fixture(scope="session")
def crew_account(api: APIRequestContext, local_stack: StackProcess) -> Person:
    email = getattr(local_stack, "crew_email", None)
    password = getattr(local_stack, "crew_password", None)
    if email and password:
        return Person(str(email), str(password), "", "crew")
    token = str(api_sign_in(api, local_stack.admin_email, local_stack.admin_password)["token"])
    return make_person(api, token, local_stack.mail_dir, name="Casey Crew", role="crew")


@pytest.fixture
def admin(page: Page, local_stack: StackProcess) -> Page:
    """A page signed in as the stack's admin, on the events view."""
    page.set_default_timeout(10_000)
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    return page


@pytest.fixture
def crew(page: Page, crew_account: Person) -> Page:
    """A page signed in as a crew member, on the events view."""
    page.set_default_timeout(10_000)
    sign_in(page, crew_account.email, crew_account.password)
    return page
