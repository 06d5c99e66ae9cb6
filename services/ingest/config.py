"""IngestFunction's configuration (template.yaml, IngestFunction Environment)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config import ApiConfig, LedgerConfig


class IngestConfig(ApiConfig, LedgerConfig):
    max_payment_cents: Annotated[int, Field(alias="MAX_PAYMENT_CENTS", ge=1)] = 10_000_000
