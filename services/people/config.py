"""PeopleFunction's configuration (template.yaml, PeopleFunction Environment)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config import ApiConfig


class PeopleConfig(ApiConfig):
    user_pool_id: Annotated[
        str, Field(alias="USER_POOL_ID", pattern=r"^[\w-]+_[0-9a-zA-Z]+$", max_length=55)
    ]
    user_pool_client_id: Annotated[
        str, Field(alias="USER_POOL_CLIENT_ID", pattern=r"^[\w+]+$", min_length=1, max_length=128)
    ]
