"""Query function routes: health, events with summaries, payment pages. Routing only."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query

from services.query import logic
from shared.config import QueryConfig
from shared.http import (
    Handler,
    create_app,
    json_response,
    make_api_handler,
    optional_admin,
)
from shared.models import Health
from shared.repository import LedgerTable

PUBLIC_ROUTES = frozenset({"GET /api/health"})
# Anyone may list events; a valid admin token adds the money.
OPTIONAL_AUTH_ROUTES = frozenset({"GET /api/events", "GET /api/events/{event_id}"})


def build_app(config: QueryConfig, table: LedgerTable) -> APIGatewayHttpResolver:
    app = create_app(allowed_origin=config.allowed_origin)

    @app.get("/api/health")
    def health() -> Any:
        return json_response(200, Health().model_dump())

    @app.get("/api/events")
    def list_events() -> Any:
        return json_response(
            200, logic.list_events(table, optional_admin(app)).model_dump(mode="json")
        )

    @app.get("/api/events/<event_id>")
    def get_event(event_id: str) -> Any:
        view = logic.get_event(table, event_id, optional_admin(app))
        return json_response(200, view.model_dump(mode="json"))

    @app.get("/api/g/<event_id>/payments")
    def list_payments(
        event_id: str,
        limit: Annotated[int, Query(ge=1, le=500)] = config.default_page_size,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Any:
        page = logic.payment_page(table, event_id, limit=limit, cursor=cursor)
        return json_response(200, page.model_dump(mode="json"))

    return app


def make_handler(config: QueryConfig, table: LedgerTable) -> Handler:
    """The Lambda entry point for a given configuration (tests build one per case)."""
    return make_api_handler(
        build_app(config, table),
        signing_key=config.token_signing_key.get_secret_value(),
        public_routes=PUBLIC_ROUTES,
        optional_auth_routes=OPTIONAL_AUTH_ROUTES,
    )
