"""The repository's Python files a function's artifact needs: its own service package and the
`shared` modules its handler imports, directly or through another (read from the source, never
by importing it).

    python build/artifact_files.py ingest     # services/__init__.py services/ingest/... shared/...

build/Makefile copies exactly these (and the service folder's data files), so an artifact holds
only what its function can import. Only the standard library is used: this runs before any
dependency is installed.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "services")


def _module_file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(source: Path) -> set[str]:
    """Every module of ours `source` imports, wherever the import stands (a lazy import in a
    function is still one the function may need)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from shared import clients` imports the module shared.clients
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def artifact_files(service: str) -> list[Path]:
    """The files, relative to the repository root, sorted."""
    start = f"services.{service}.handler"
    if _module_file(start) is None:
        raise SystemExit(f"artifact_files: no handler module {start}")
    files: set[Path] = set()
    pending, seen = [start], set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module)
        if path is None:
            continue  # a name imported from a module, not a module
        files.add(path)
        parts = module.split(".")
        # A package's __init__ runs before any of its modules.
        pending.extend(".".join(parts[:end]) for end in range(1, len(parts)))
        pending.extend(_imports(path))
    files.update((ROOT / "services" / service).glob("*.py"))
    return sorted(path.relative_to(ROOT) for path in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", help="a folder of services/, e.g. ingest")
    args = parser.parse_args(argv)
    sys.stdout.write(" ".join(str(path) for path in artifact_files(args.service)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
