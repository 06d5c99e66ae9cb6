"""End-to-end fixtures: the real local stack (`python -m devstack`) as a subprocess, driven over
HTTP exactly as a developer or the browser would.

Signing in goes through the stack itself (`POST /api/auth/login`, Cognito behind it): the
`sign_in_person` fixture signs any person in; `admin_session` and `crew_session` are the stack's two people,
signed in afresh for each test (ID tokens live 15 minutes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.e2e.api_client import SignedIn, sign_in_as
from tests.e2e.stack_process import StackProcess, start_stack_process


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the local stack over HTTP")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    stack = start_stack_process(tmp_path_factory.mktemp("devstack"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def sign_in_person(local_stack: StackProcess) -> Callable[[str, str], SignedIn]:
    """`sign_in_person(email, password)`: that person's tokens from the local stack (fails the
    test unless the sign-in succeeds outright, with no challenge)."""

    def sign(email: str, password: str) -> SignedIn:
        return sign_in_as(local_stack, email, password)

    return sign


@pytest.fixture
def admin_session(
    local_stack: StackProcess, sign_in_person: Callable[[str, str], SignedIn]
) -> SignedIn:
    return sign_in_person(local_stack.admin_email, local_stack.admin_password)


@pytest.fixture
def crew_session(
    local_stack: StackProcess, sign_in_person: Callable[[str, str], SignedIn]
) -> SignedIn:
    return sign_in_person(local_stack.crew_email, local_stack.crew_password)
