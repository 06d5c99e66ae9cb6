"""Configuration: each function's environment parsed once, at cold start, into its own model
(`services/<function>/config.py`), by the one loader here, `load_config`.

A missing or malformed variable fails fast with a message naming the variable; nothing that
matters in production has a silent default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.config_errors import ConfigError
from shared.secrets import Fetch, collect_secrets, ssm_fetch

__all__ = [
    "ApiConfig",
    "ConfigError",
    "FunctionConfig",
    "LedgerConfig",
    "ProjectionConfig",
    "TableName",
    "load_config",
]


class FunctionConfig(BaseModel):
    # Built when a function loads its own configuration, not for every class defined here.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False, defer_build=True)

    # Secret variables (name -> required): each may instead be given as <NAME>_PARAM, the
    # name of an SSM SecureString parameter (shared.secrets).
    SECRET_VARIABLES: ClassVar[Mapping[str, bool]] = {}


TableName = Annotated[str, Field(min_length=3, max_length=255)]


class LedgerConfig(FunctionConfig):
    ledger_table_name: Annotated[TableName, Field(alias="LEDGER_TABLE_NAME")]


class ProjectionConfig(FunctionConfig):
    projection_table_name: Annotated[TableName, Field(alias="PROJECTION_TABLE_NAME")]


class ApiConfig(FunctionConfig):
    """What every API function needs: CORS and the revocations it checks callers against."""

    allowed_origin: Annotated[str, Field(alias="ALLOWED_ORIGIN", min_length=1)]
    revocations_table_name: Annotated[TableName, Field(alias="REVOCATIONS_TABLE_NAME")]


ConfigT = TypeVar("ConfigT", bound=FunctionConfig)


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
