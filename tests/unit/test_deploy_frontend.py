"""`make deploy-frontend`: how each file of frontend/ is served from the bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from build.deploy_frontend import FRONTEND, cache_control, content_type


@pytest.mark.parametrize("name", ["index.html", "sw.js"])
def test_the_page_and_the_service_worker_are_revalidated_on_every_load(name: str) -> None:
    # A new service worker (a new version of the app) is only found if sw.js is not cached.
    assert cache_control(Path(name)) == "no-cache"


@pytest.mark.parametrize(
    "name", ["app.js", "app.css", "manifest.webmanifest", "icons/icon-192.png"]
)
def test_the_other_files_may_be_cached_briefly(name: str) -> None:
    assert cache_control(Path(name)) == "public, max-age=300"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sw.js", "text/javascript"),
        ("app.js", "text/javascript"),
        ("manifest.webmanifest", "application/manifest+json"),
        ("icons/icon-512.png", "image/png"),
        ("icons/icon.svg", "image/svg+xml"),
    ],
)
def test_content_types(name: str, expected: str) -> None:
    assert content_type(Path(name)) == expected


def test_every_shipped_file_has_a_known_content_type() -> None:
    for path in FRONTEND.rglob("*"):
        if path.is_file():
            assert content_type(path) != "application/octet-stream", path
