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
from shared.responses import Answers, ref, responses_for, success
from shared.revocations import Revocations
from shared.timeutil import iso_z, utc_now

ACCESS: Access = {
    "POST /api/events": Role.ADMIN,
    "POST /api/g/{event_id}/payment": Role.CREW,
    "POST /api/payment/log": Role.CREW,
    "POST /api/g/{event_id}/payments/{payment_id}/void": Role.ADMIN,
    "POST /api/g/{event_id}/closeouts": Role.ADMIN,
}

_LOGGED = success("The payment, as logged", ref("LogPaymentResponse"))
_LOG_REPLAYED = success(
    "A retry: this payment_id was already logged with the same body; the original result",
    ref("LogPaymentResponse"),
)
_LOG_ERRORS = {
    400: "the event id is malformed, the amount is over the maximum or received_at is ahead",
    404: "No event with this id",
    409: "This payment_id was already used for a different payment",
}
# What each route answers; the guard's and API Gateway's statuses are added by responses_for.
RESPONSES = responses_for(
    ACCESS,
    {
        "POST /api/events": Answers(
            {201: success("The event, as created", ref("EventView"))},
            {409: "An event with this name already exists on that date"},
        ),
        "POST /api/g/{event_id}/payment": Answers({201: _LOGGED, 200: _LOG_REPLAYED}, _LOG_ERRORS),
        "POST /api/payment/log": Answers({201: _LOGGED, 200: _LOG_REPLAYED}, _LOG_ERRORS),
        "POST /api/g/{event_id}/payments/{payment_id}/void": Answers(
            {201: success("The void, as recorded", ref("VoidResponse"))},
            {
                400: "the event id or payment id is malformed",
                404: "No such payment in this event",
                409: "This payment was already voided",
            },
        ),
        "POST /api/g/{event_id}/closeouts": Answers(
            {
                201: success("The close-out, as recorded", ref("CloseoutView")),
                200: success(
                    "A retry: this closeout_id was already used with the same body; the "
                    "original close-out",
                    ref("CloseoutView"),
                ),
            },
            {
                400: "the event id is malformed, or counts differ from the ledger without a note",
                404: "No event with this id",
                409: "This closeout_id was already used for a different close-out",
            },
        ),
    },
)


def build_app(config: IngestConfig, table: LedgerTable) -> APIGatewayHttpResolver:
    app = create_app(allowed_origin=config.allowed_origin)

    @app.post("/api/events", responses=RESPONSES["POST /api/events"])
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

    @app.post("/api/g/<event_id>/payment", responses=RESPONSES["POST /api/g/{event_id}/payment"])
    def log_payment(event_id: str, body: Annotated[LogPaymentRequest, Body()]) -> Any:
        return _log(event_id, body)

    @app.post("/api/payment/log", responses=RESPONSES["POST /api/payment/log"])
    def log_payment_by_body(body: Annotated[LogPaymentByBodyRequest, Body()]) -> Any:
        return _log(body.event_id, body)

    @app.post(
        "/api/g/<event_id>/payments/<payment_id>/void",
        responses=RESPONSES["POST /api/g/{event_id}/payments/{payment_id}/void"],
    )
    def void_payment(event_id: str, payment_id: str, body: Annotated[VoidRequest, Body()]) -> Any:
        void = logic.void_payment(table, event_id, payment_id, body, current_caller(app), utc_now())
        logger.info("payment voided", extra={"event_id": event_id, "payment_id": payment_id})
        view = VoidView(
            reason=void.reason, voided_by=void.voided_by, timestamp=iso_z(void.timestamp)
        )
        return json_response(201, VoidResponse(payment_id=payment_id, void=view).model_dump())

    @app.post(
        "/api/g/<event_id>/closeouts", responses=RESPONSES["POST /api/g/{event_id}/closeouts"]
    )
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
