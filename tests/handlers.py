"""Import a function's handler module the way Lambda does, inside a test.

A handler module reads its environment and builds its adapters at import (its cold start), as
template.yaml's `Handler:` names it. A test imports it afresh with the environment it wants,
then puts its own adapters (a table on the test's moto client, a fake mail relay) in place of
the module-level ones the routes use.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any
from unittest.mock import patch

from shared import clients


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `variables` set, restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_handler(
    module: str,
    environ: Mapping[str, str],
    *,
    session: Any = None,
    dynamodb: Any = None,
    **adapters: Any,
) -> ModuleType:
    """`module` (e.g. "services.ingest.handler") imported afresh with `environ` added to the
    environment, its SDK session and DynamoDB client (shared.clients) being `session` and
    `dynamodb` when given (the test's, on its moto, with its call accounting; a session alone
    gives its own DynamoDB client), then each of
    `adapters` set on it by name (it must already be there)."""
    if dynamodb is None and session is not None:
        dynamodb = session.client("dynamodb")  # what shared.clients makes of that session
    with ExitStack() as stack:
        stack.enter_context(environment(environ))
        if session is not None:
            stack.enter_context(patch.object(clients, "aws_session", lambda: session))
        if dynamodb is not None:
            stack.enter_context(patch.object(clients, "dynamodb_client", lambda: dynamodb))
        sys.modules.pop(module, None)
        loaded = importlib.import_module(module)
    # The module froze its objects out of the collector (shared.coldstart), as it should once
    # per process; a test process imports it many times and lets the old copies go.
    gc.unfreeze()
    for name, value in adapters.items():
        if not hasattr(loaded, name):
            raise AttributeError(f"{module} has no {name} to replace")
        setattr(loaded, name, value)
    return loaded
