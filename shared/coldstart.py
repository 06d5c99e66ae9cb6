"""What every handler module does around its cold start (the imports and the adapters it builds).

Only the standard library is imported here: a handler enters `cold_start()` before anything
heavy is imported.

The garbage collector is paused while the module initialises. Nearly every object an import
creates (classes, functions, botocore's service models, pydantic's validators) lives as long as
the execution environment, so the collections the allocations would trigger on the way only
walk an ever larger heap and free almost nothing; on a handler module they were a good part of
its import time. When the module is ready, those objects are frozen (moved to the permanent
generation, where collections never look) and collection resumes: the first request neither
pays a collection of everything the import allocated nor do later ones walk it again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cold_start() -> Iterator[None]:
    """Run a handler module's initialisation with the garbage collector paused.

    Collection resumes however the block ends; only a module that started has its objects
    frozen (one that fails, on a bad configuration, leaves its garbage collectable).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
