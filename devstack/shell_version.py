"""The app shell's version, from its content: what `frontend/sw.js` caches under.

The repository's sw.js says `const VERSION = "dev";`. Whoever serves it (the local gateway,
`make deploy-frontend`) replaces that with a hash of every other file in the folder, so any
change to the app is a new version to the browser (a new cache, installed whole) without
anyone remembering to bump a number. A sw.js that names a version itself is served as it is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

WORKER = "sw.js"
PLACEHOLDER = 'const VERSION = "dev";'


def shell_version(root: Path) -> str:
    """12 hex digits over every file's path and bytes (the worker's own text excluded: it is
    what carries the version)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != WORKER):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def stamped_worker(root: Path, source: bytes) -> bytes:
    """sw.js with the content version filled in (unchanged when it names its own)."""
    text = source.decode("utf-8")
    if PLACEHOLDER not in text:
        return source
    worker = hashlib.sha256(source).hexdigest()[:4]  # the worker's own changes count too
    version = f'const VERSION = "{shell_version(root)}-{worker}";'
    return text.replace(PLACEHOLDER, version, 1).encode("utf-8")
