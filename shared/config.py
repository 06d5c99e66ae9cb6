"""Configuration: each function's environment parsed once, at cold start, into a model.

A missing or malformed variable fails fast with a message naming the variable; nothing that
matters in production has a silent default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, ClassVar, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from shared.config_errors import ConfigError
from shared.secrets import Fetch, collect_secrets, ssm_fetch

__all__ = [
    "ConfigError",
    "IngestConfig",
    "PeopleConfig",
    "ProjectorConfig",
    "QueryConfig",
    "load_config",
]


class _Config(BaseModel):
    # Built when a function loads its own configuration, not for every class defined here.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False, defer_build=True)

    # Secret variables (name -> required): each may instead be given as <NAME>_PARAM, the
    # name of an SSM SecureString parameter (shared.secrets).
    SECRET_VARIABLES: ClassVar[Mapping[str, bool]] = {}


_TableName = Annotated[str, Field(min_length=3, max_length=255)]


class _LedgerConfig(_Config):
    ledger_table_name: Annotated[_TableName, Field(alias="LEDGER_TABLE_NAME")]


class _ProjectionConfig(_Config):
    projection_table_name: Annotated[_TableName, Field(alias="PROJECTION_TABLE_NAME")]


class ProjectorConfig(_ProjectionConfig):
    """The projector writes the projection table only; the ledger reaches it on the stream."""

    # Its metrics (tampering among them) are alarmed on: without a namespace none is sent.
    metrics_namespace: Annotated[str, Field(alias="POWERTOOLS_METRICS_NAMESPACE", min_length=1)]


class _ApiConfig(_Config):
    """What every API function needs: CORS and the revocations it checks callers against."""

    allowed_origin: Annotated[str, Field(alias="ALLOWED_ORIGIN", min_length=1)]
    revocations_table_name: Annotated[_TableName, Field(alias="REVOCATIONS_TABLE_NAME")]


class IngestConfig(_ApiConfig, _LedgerConfig):
    max_payment_cents: Annotated[int, Field(alias="MAX_PAYMENT_CENTS", ge=1)] = 10_000_000


class QueryConfig(_ApiConfig, _LedgerConfig, _ProjectionConfig):
    export_bucket: Annotated[str, Field(alias="EXPORT_BUCKET", min_length=3, max_length=63)]
    # An export larger than this (JSON-escaped) goes to the bucket: a Lambda response through
    # API Gateway holds at most 6 MB.
    export_inline_max_bytes: Annotated[
        int, Field(alias="EXPORT_INLINE_MAX_BYTES", ge=1, le=5_500_000)
    ] = 5_000_000
    default_page_size: Annotated[
        int, Field(validation_alias=AliasChoices("PAGE_SIZE"), ge=1, le=500)
    ] = 50


class PeopleConfig(_ApiConfig):
    user_pool_id: Annotated[
        str, Field(alias="USER_POOL_ID", pattern=r"^[\w-]+_[0-9a-zA-Z]+$", max_length=55)
    ]
    user_pool_client_id: Annotated[
        str, Field(alias="USER_POOL_CLIENT_ID", pattern=r"^[\w+]+$", min_length=1, max_length=128)
    ]


ConfigT = TypeVar("ConfigT", bound=_Config)


def load_config(
    model: type[ConfigT], environ: Mapping[str, str] | None = None, *, fetch: Fetch = ssm_fetch
) -> ConfigT:
    env, problems = collect_secrets(
        os.environ if environ is None else environ, model.SECRET_VARIABLES, fetch=fetch
    )
    reported = {problem.split(":", 1)[0] for problem in problems}
    try:
        config = model.model_validate(env)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            variable = ".".join(str(part) for part in error["loc"])
            if variable not in reported and variable + "_PARAM" not in reported:
                problems.append(f"{variable}: {error['msg']}")
    if problems:
        raise ConfigError(
            f"{model.__name__}: invalid environment: " + "; ".join(sorted(problems))
        ) from None
    return config
