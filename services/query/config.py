"""QueryFunction's configuration (template.yaml, QueryFunction Environment)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field

from shared.config import ApiConfig, LedgerConfig, ProjectionConfig


class QueryConfig(ApiConfig, LedgerConfig, ProjectionConfig):
    export_bucket: Annotated[str, Field(alias="EXPORT_BUCKET", min_length=3, max_length=63)]
    # An export larger than this (JSON-escaped) goes to the bucket: a Lambda response through
    # API Gateway holds at most 6 MB.
    export_inline_max_bytes: Annotated[
        int, Field(alias="EXPORT_INLINE_MAX_BYTES", ge=1, le=5_500_000)
    ] = 5_000_000
    default_page_size: Annotated[
        int, Field(validation_alias=AliasChoices("PAGE_SIZE"), ge=1, le=500)
    ] = 50
