"""Configuration: each function's environment parsed once, at cold start, into a model.

A missing or malformed variable fails fast with a message naming the variable; nothing that
matters in production has a silent default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, ClassVar, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from shared.config_errors import ConfigError
from shared.secrets import Fetch, collect_secrets, ssm_fetch

__all__ = ["ConfigError", "IngestConfig", "ProjectorConfig", "QueryConfig", "load_config"]

# Enough for 256 bits once the key is base64url text (43 characters).
_MIN_SIGNING_KEY_CHARS = 43


class _TableConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    # Secret variables (name -> required): each may instead be given as <NAME>_PARAM, the
    # name of an SSM SecureString parameter (shared.secrets).
    SECRET_VARIABLES: ClassVar[Mapping[str, bool]] = {}

    table_name: Annotated[str, Field(alias="TABLE_NAME", min_length=3, max_length=255)]


class ProjectorConfig(_TableConfig):
    pass


class _Config(_TableConfig):
    SECRET_VARIABLES: ClassVar[Mapping[str, bool]] = {"TOKEN_SIGNING_KEY": True}

    allowed_origin: Annotated[str, Field(alias="ALLOWED_ORIGIN", min_length=1)]
    token_signing_key: Annotated[
        SecretStr, Field(alias="TOKEN_SIGNING_KEY", min_length=_MIN_SIGNING_KEY_CHARS)
    ]


class IngestConfig(_Config):
    SECRET_VARIABLES: ClassVar[Mapping[str, bool]] = {
        "TOKEN_SIGNING_KEY": True,
        "ADMIN_PASSWORD_HASH": True,
    }

    admin_email: Annotated[str, Field(alias="ADMIN_EMAIL", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    admin_password_hash: Annotated[SecretStr, Field(alias="ADMIN_PASSWORD_HASH", min_length=20)]
    token_ttl_seconds: Annotated[int, Field(alias="TOKEN_TTL_SECONDS", ge=60, le=86_400)] = 28_800
    max_payment_cents: Annotated[int, Field(alias="MAX_PAYMENT_CENTS", ge=1)] = 10_000_000
    # Failed sign-ins allowed per e-mail address within the window before 429.
    login_max_failures: Annotated[int, Field(alias="LOGIN_MAX_FAILURES", ge=1)] = 5
    login_window_seconds: Annotated[int, Field(alias="LOGIN_WINDOW_SECONDS", ge=1)] = 900


class QueryConfig(_Config):
    default_page_size: Annotated[
        int, Field(validation_alias=AliasChoices("PAGE_SIZE"), ge=1, le=500)
    ] = 50


ConfigT = TypeVar("ConfigT", bound=_TableConfig)


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
