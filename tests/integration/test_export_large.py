"""An export too large for a Lambda response leaves as a short-lived presigned link."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.support import Api
from tests.integration.test_export import _export, _rows, ledger_for_export

__all__ = ["ledger_for_export"]  # the fixture, shared with the inline-export tests


@pytest.fixture
def env_overrides() -> dict[str, dict[str, str]]:
    # A tiny response limit so a small ledger takes the "too large" path.
    return {"QueryFunction": {"EXPORT_INLINE_MAX_BYTES": "400"}}


def test_an_export_too_large_for_a_response_comes_as_a_short_lived_private_link(
    api: Api, ledger_for_export: str, admin_token: str, env_overrides: Any
) -> None:
    reply = _export(api, ledger_for_export, admin_token)

    assert reply.status == 200, reply.raw
    assert reply.body["status"] == "exported"
    assert reply.body["rows"] == 4
    url = urlsplit(reply.body["url"])
    assert "X-Amz-Signature=" in url.query
    assert "X-Amz-Expires=300" in url.query
    bucket, key = _bucket_and_key(url.path, url.netloc)
    stored = api.s3.get_object(Bucket=bucket, Key=key)
    assert stored["ContentType"].startswith("text/csv")
    rows = _rows(stored["Body"].read().decode("utf-8"))
    assert len(rows) == 4


def _bucket_and_key(path: str, host: str) -> tuple[str, str]:
    # Path-style (/bucket/key) or virtual-hosted (bucket.s3...amazonaws.com/key).
    if host.split(".")[0] not in ("s3", "localhost", "127") and ".s3" in host:
        return host.split(".s3", 1)[0], path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key
