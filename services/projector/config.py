"""ProjectorFunction's configuration (template.yaml, ProjectorFunction Environment)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config import ProjectionConfig


class ProjectorConfig(ProjectionConfig):
    """The projector writes the projection table only; the ledger reaches it on the stream."""

    # Its metrics (tampering among them) are alarmed on: without a namespace none is sent.
    metrics_namespace: Annotated[str, Field(alias="POWERTOOLS_METRICS_NAMESPACE", min_length=1)]
