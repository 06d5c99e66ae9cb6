"""Ingest function routes: the commands (create event, log payment, void). Routing only."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body

from services.ingest import logic
from shared.auth import Role
from shared.config import IngestConfig
from shared.http import (
    Access,
    Handler,
    create_app,
    current_caller,
    json_response,
    logger,
    make_api_handler,
)
from shared.models import (
    CloseoutRequest,
    CloseoutView,
    CreateEventRequest,
    EventView,
    LogPaymentByBodyRequest,
    LogPaymentRequest,
    VoidRequest,
    VoidResponse,
    VoidView,
)
from shared.repository import LedgerTable
from shared.revocations import Revocations
from shared.timeutil import iso_z, utc_now

ACCESS: Access = {
    "POST /api/events": Role.ADMIN,
    "POST /api/g/{event_id}/payment": Role.CREW,
    "POST /api/payment/log": Role.CREW,
    "POST /api/g/{event_id}/payments/{payment_id}/void": Role.ADMIN,
    "POST /api/g/{event_id}/closeouts": Role.ADMIN,
}


def build_app(config: IngestConfig, table: LedgerTable) -> APIGatewayHttpResolver:
    app = create_app(allowed_origin=config.allowed_origin)

    @app.post("/api/events")
    def create_event(body: Annotated[CreateEventRequest, Body()]) -> Any:
        event = logic.create_event(table, body, current_caller(app), utc_now())
        logger.info("event created", extra={"event_id": event.event_id})
        return json_response(201, EventView.of(event).model_dump(mode="json"))

    def _log(event_id: str, body: LogPaymentRequest) -> Any:
        outcome = logic.log_payment(table, config, event_id, body, current_caller(app), utc_now())
        logger.info(
            "payment logged" if outcome.created else "payment replayed",
            extra={"event_id": event_id, "payment_id": outcome.response.payment_id},
        )
        return json_response(201 if outcome.created else 200, outcome.response.model_dump())

    @app.post("/api/g/<event_id>/payment")
    def log_payment(event_id: str, body: Annotated[LogPaymentRequest, Body()]) -> Any:
        return _log(event_id, body)

    @app.post("/api/payment/log")
    def log_payment_by_body(body: Annotated[LogPaymentByBodyRequest, Body()]) -> Any:
        return _log(body.event_id, body)

    @app.post("/api/g/<event_id>/payments/<payment_id>/void")
    def void_payment(event_id: str, payment_id: str, body: Annotated[VoidRequest, Body()]) -> Any:
        void = logic.void_payment(table, event_id, payment_id, body, current_caller(app), utc_now())
        logger.info("payment voided", extra={"event_id": event_id, "payment_id": payment_id})
        view = VoidView(
            reason=void.reason, voided_by=void.voided_by, timestamp=iso_z(void.timestamp)
        )
        return json_response(201, VoidResponse(payment_id=payment_id, void=view).model_dump())

    @app.post("/api/g/<event_id>/closeouts")
    def close_out(event_id: str, body: Annotated[CloseoutRequest, Body()]) -> Any:
        outcome = logic.close_out(table, event_id, body, current_caller(app), utc_now())
        closeout = outcome.closeout
        logger.info(
            "event closed out" if outcome.created else "close-out replayed",
            extra={
                "event_id": event_id,
                "closeout_id": closeout.closeout_id,
                "over_short_cents": closeout.over_short_cents,
            },
        )
        view = CloseoutView.of(closeout).model_dump()
        return json_response(201 if outcome.created else 200, view)

    return app


def make_handler(config: IngestConfig, table: LedgerTable, revocations: Revocations) -> Handler:
    """The Lambda entry point for a given configuration (tests build one per case)."""
    return make_api_handler(build_app(config, table), access=ACCESS, revocations=revocations)
