"""End-to-end fixtures: the real local stack (`python -m devstack`) as a subprocess, driven over
HTTP exactly as a developer or the browser would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
