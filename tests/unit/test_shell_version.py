"""The app shell's version comes from its content, so no change can ship under an old cache."""

from __future__ import annotations

import re
from pathlib import Path

from devstack.gateway import static_response
from devstack.shell_version import PLACEHOLDER, shell_version, stamped_worker

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def _site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><script src=app.js></script>")
    (root / "app.js").write_text("export const answer = 42;\n")
    (root / "sw.js").write_text(f"{PLACEHOLDER}\nself.addEventListener('install', () => 0);\n")
    return root


def _served_version(root: Path) -> str:
    body = static_response(root, "/sw.js").body.decode("utf-8")
    found = re.search(r'const VERSION = "([^"]+)";', body)
    assert found, body
    return found.group(1)


def test_the_repository_worker_carries_the_placeholder_the_servers_fill_in() -> None:
    assert PLACEHOLDER in (FRONTEND / "sw.js").read_text(encoding="utf-8")


def test_any_change_to_an_app_file_is_a_new_version(tmp_path: Path) -> None:
    root = _site(tmp_path)
    first = _served_version(root)
    assert first != "dev"
    assert _served_version(root) == first  # stable while nothing changes

    (root / "app.js").write_text("export const answer = 43;\n")
    second = _served_version(root)
    (root / "icons").mkdir()
    (root / "icons" / "new.svg").write_text("<svg/>")
    third = _served_version(root)

    assert len({first, second, third}) == 3


def test_a_worker_that_names_its_own_version_is_served_as_it_is(tmp_path: Path) -> None:
    root = _site(tmp_path)
    (root / "sw.js").write_text('const VERSION = "2026-06-01.1";\n')
    assert _served_version(root) == "2026-06-01.1"
    assert stamped_worker(root, b'const VERSION = "x";') == b'const VERSION = "x";'


def test_the_version_ignores_hidden_files(tmp_path: Path) -> None:
    root = _site(tmp_path)
    before = shell_version(root)
    (root / ".DS_Store").write_text("junk")
    assert shell_version(root) == before
