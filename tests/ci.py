"""Tests that need a tool `make test` installs: skipped on a developer's machine without it,
failed in CI (CI=true, which .ci/run sets), where a skip would hide that nothing ran."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def tool_missing(message: str) -> None:
    """Skip the test (or fail it in CI) because a tool it needs is not installed."""
    if in_ci():
        pytest.fail(message + " (CI must run this test)", pytrace=False)
    pytest.skip(message)
