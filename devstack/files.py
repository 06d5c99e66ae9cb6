"""Files the local stack writes for people and tests to read while it runs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(target: Path, data: bytes, *, durable: bool = False) -> Path:
    """Write `target` through a temporary dot-file in the same folder and a rename: a reader
    (a `*.eml` glob, a restart after kill -9) sees the old file or the new one, never half.
    `durable` also flushes it to the disk before the rename."""
    handle, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
