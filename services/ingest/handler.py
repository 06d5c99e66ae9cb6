"""IngestFunction (template.yaml): the commands. Create an event, log a payment, void one, close
out an event; each writes one immutable ledger item (services/ingest/logic.py -> shared.repository).

Every route is a function below. Before any of them runs, `lambda_handler`'s guard has named the
caller, checked they are not revoked and hold the route's role (ACCESS), and checked the body's
size and form; the resolver has validated the body against the route's pydantic model.
"""

from __future__ import annotations

from shared.coldstart import cold_start

with cold_start():
    from typing import Annotated, Any

    from aws_lambda_powertools.event_handler.openapi.params import Body
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from services.ingest import logic
    from services.ingest.config import IngestConfig
    from shared.auth import Role
    from shared.config import load_config
    from shared.http import (
        Access,
        api_resolver,
        cors_policy,
        current_caller,
        guard,
        json_response,
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
    from shared.observability import MetricUnit, get_logger, get_metrics
    from shared.repository import LedgerTable
    from shared.responses import Answers, ref, responses_for, success
    from shared.revocations import Revocations
    from shared.timeutil import iso_z, utc_now

    logger = get_logger()
    metrics = get_metrics()
    config = load_config(IngestConfig)
    ledger = LedgerTable.connect(config.ledger_table_name)
    revocations = Revocations.connect(config.revocations_table_name)
    cors = cors_policy(config.allowed_origin)
    app = api_resolver(cors)

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


@app.post("/api/events", responses=RESPONSES["POST /api/events"])
def create_event(body: Annotated[CreateEventRequest, Body()]) -> Any:
    event = logic.create_event(ledger, body, current_caller(app), utc_now())
    logger.info("event created", extra={"event_id": event.event_id})
    return json_response(201, EventView.of(event).model_dump(mode="json"))


@app.post("/api/g/<event_id>/payment", responses=RESPONSES["POST /api/g/{event_id}/payment"])
def log_payment(event_id: str, body: Annotated[LogPaymentRequest, Body()]) -> Any:
    return _log(event_id, body)


@app.post("/api/payment/log", responses=RESPONSES["POST /api/payment/log"])
def log_payment_by_body(body: Annotated[LogPaymentByBodyRequest, Body()]) -> Any:
    return _log(body.event_id, body)


def _log(event_id: str, body: LogPaymentRequest) -> Any:
    outcome = logic.log_payment(ledger, config, event_id, body, current_caller(app), utc_now())
    payment_id = outcome.response.payment_id
    # The payment id rides in the EMF line (not a dimension): a figure can be traced to it.
    metrics.add_metadata(key="payment_id", value=payment_id)
    if outcome.created:
        metrics.add_metric(name="PaymentsLogged", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="PaymentsLoggedCents", unit=MetricUnit.Count, value=body.amount)
        logger.info("payment logged", extra={"event_id": event_id, "payment_id": payment_id})
        return json_response(201, outcome.response.model_dump())
    metrics.add_metric(name="PaymentsReplayed", unit=MetricUnit.Count, value=1)
    logger.info("payment replayed", extra={"event_id": event_id, "payment_id": payment_id})
    return json_response(200, outcome.response.model_dump())


@app.post(
    "/api/g/<event_id>/payments/<payment_id>/void",
    responses=RESPONSES["POST /api/g/{event_id}/payments/{payment_id}/void"],
)
def void_payment(event_id: str, payment_id: str, body: Annotated[VoidRequest, Body()]) -> Any:
    void = logic.void_payment(ledger, event_id, payment_id, body, current_caller(app), utc_now())
    metrics.add_metadata(key="payment_id", value=payment_id)
    metrics.add_metric(name="PaymentsVoided", unit=MetricUnit.Count, value=1)
    logger.info("payment voided", extra={"event_id": event_id, "payment_id": payment_id})
    view = VoidView(reason=void.reason, voided_by=void.voided_by, timestamp=iso_z(void.timestamp))
    return json_response(201, VoidResponse(payment_id=payment_id, void=view).model_dump())


@app.post("/api/g/<event_id>/closeouts", responses=RESPONSES["POST /api/g/{event_id}/closeouts"])
def close_out(event_id: str, body: Annotated[CloseoutRequest, Body()]) -> Any:
    outcome = logic.close_out(ledger, event_id, body, current_caller(app), utc_now())
    closeout = outcome.closeout
    if outcome.created:
        metrics.add_metric(name="EventsClosedOut", unit=MetricUnit.Count, value=1)
    logger.info(
        "event closed out" if outcome.created else "close-out replayed",
        extra={
            "event_id": event_id,
            "closeout_id": closeout.closeout_id,
            "over_short_cents": closeout.over_short_cents,
        },
    )
    return json_response(201 if outcome.created else 200, CloseoutView.of(closeout).model_dump())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@guard(app=app, cors=cors, access=ACCESS, revocations=revocations)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
