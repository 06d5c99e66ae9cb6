"""The verify suites run against the e2e tests' session-scoped local stack: the fixture is
tests/e2e/conftest.py's own, imported rather than copied."""

from __future__ import annotations

from tests.e2e.conftest import local_stack

__all__ = ["local_stack"]
