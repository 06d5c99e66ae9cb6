"""HTTP plumbing shared by the API functions: JSON decoding, the request guard and the one place
where errors become HTTP responses.

Every error leaves as ``{"status":"error","error":{"code","message","fields"}}``; nothing raised
in a handler reaches the client as a stack trace.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.auth import (
    SIGN_IN_AGAIN,
    Caller,
    Role,
    authorizer_claims,
    caller_from_claims,
    require_role,
)
from shared.errors import DomainError, NotFound, PayloadTooLarge, Unauthorized, ValidationFailed
from shared.observability import get_logger
from shared.revocations import Revocations, is_revoked

logger = get_logger()

MAX_BODY_BYTES = 64 * 1024
JSON = "application/json"


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # {"amount": 1, "amount": 1000} has no single meaning: refuse it.
            raise _DuplicateKey(key)
        result[key] = value
    return result


def json_loads(text: str | bytes) -> Any:
    """JSON with exact numbers: 150.10 becomes Decimal("150.10"), never a float; NaN and
    Infinity become Decimal values the money parser refuses by name."""
    return json.loads(
        text,
        parse_float=Decimal,
        parse_constant=Decimal,
        object_pairs_hook=_no_duplicates,
    )


def error_payload(error: DomainError) -> dict[str, Any]:
    return {
        "status": "error",
        "error": {"code": error.code, "message": error.message, "fields": error.fields},
    }


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _field_name(loc: Iterable[Any]) -> str:
    parts = [str(part) for part in loc]
    # ("body", "amount") -> "amount"; ("query", "limit") -> "limit"; ("body",) -> "body";
    # a nested field is named by its path: ("body", "counted", "cash") -> "counted.cash"
    if (
        len(parts) >= 2
        and parts[0] in ("body", "query", "path", "header")
        and not parts[1].isdigit()
    ):
        nested = [part for part in parts[1:] if not part.isdigit()]
        return ".".join(nested)
    return "body"


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "must be valid JSON"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind in ("model_attributes_type", "dict_type"):
        return "must be a JSON object"
    msg = str(error.get("msg", "is invalid"))
    return msg.removeprefix("Value error, ")


def validation_failure(errors: Iterable[dict[str, Any]]) -> ValidationFailed:
    fields: dict[str, str] = {}
    for error in errors:
        name = _field_name(error.get("loc", ("body",)))
        fields.setdefault(name, _message(error))
    summary = "; ".join(f"{name}: {msg}" for name, msg in fields.items()) or "invalid request"
    return ValidationFailed(f"Invalid request: {summary}", fields)


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Map every failure to the JSON error contract, in this one place."""

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response[str]:
        if error.status >= 500:
            logger.error("request failed", extra={"code": error.code})
        return json_response(error.status, error_payload(error))

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        failure = validation_failure(error.errors())
        return json_response(failure.status, error_payload(failure))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        return json_response(404, error_payload(NotFound("No such API route")))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        # The trace goes to the log, never to the client.
        logger.exception("unhandled error")
        failure = _ServiceError("Something went wrong on our side; nothing was saved")
        return json_response(500, error_payload(failure))


class _ServiceError(DomainError):
    status = 500
    code = "internal_error"


def cors_policy(allowed_origin: str) -> CORSConfig:
    """The API's CORS policy: the one origin the SPA is served from (template AllowedOrigin)."""
    return CORSConfig(
        allow_origin=allowed_origin,
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


def api_resolver(cors: CORSConfig) -> APIGatewayHttpResolver:
    """An API function's resolver: bodies validated against the routes' pydantic models, JSON
    read with exact numbers, every failure mapped to the JSON error contract."""
    app = APIGatewayHttpResolver(
        enable_validation=True, cors=cors, json_body_deserializer=json_loads
    )
    register_error_handlers(app)
    return app


# --- the guard: runs before routing, so auth and size checks come before body validation ----


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed.field("body", "is not valid base64") from None
    return str(body).encode("utf-8")


def check_request(event: dict[str, Any], *, has_body: bool) -> None:
    raw = _body_bytes(event)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"Request body is larger than {MAX_BODY_BYTES // 1024} KiB",
            {"body": f"must be at most {MAX_BODY_BYTES // 1024} KiB"},
        )
    if not has_body:
        return
    content_type = (_header(event, "content-type") or JSON).split(";")[0].strip().lower()
    if content_type != JSON:
        raise ValidationFailed.field("body", "must be sent as application/json")
    if not raw.strip():
        raise ValidationFailed.field("body", "must be a JSON object")
    try:
        # JSON over HTTP is UTF-8; json.loads would also take UTF-16/32 bytes, which the
        # resolver then fails to read as text.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed.field("body", "must be UTF-8 encoded JSON") from None
    try:
        body = json_loads(text)
    except _DuplicateKey as dup:
        raise ValidationFailed.field(str(dup), "appears more than once in the body") from None
    except (ValueError, RecursionError):
        raise ValidationFailed.field("body", "must be valid JSON") from None
    if not isinstance(body, dict):
        # Checked here because Powertools would take a list's first element as the body.
        raise ValidationFailed.field("body", "must be a JSON object")


# Route key ("POST /api/events") -> the role it needs; None for a public route. Every route a
# function serves is listed: a route missing here is refused, never served unchecked.
Access = Mapping[str, Role | None]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def takes_body(route_key: str, bodiless: frozenset[str] = frozenset()) -> bool:
    """Whether a route takes a JSON body (and so gets the body checks): a POST, PUT or PATCH
    that is not one of the function's `bodiless` actions."""
    return route_key.split(" ", 1)[0] in _BODY_METHODS and route_key not in bodiless


def identify(event: dict[str, Any], needed: Role, revocations: Revocations) -> Caller:
    """The caller of an authorized route, checked once: named by the JWT authorizer's claims,
    not revoked since the token was issued, and holding the role."""
    claims = authorizer_claims(event)
    if claims is None:
        # Only reachable when the function is invoked without the API's authorizer.
        raise Unauthorized("Sign in required: send Authorization: Bearer <token>")
    caller = caller_from_claims(claims)
    if is_revoked(caller.issued_at, revocations.revoked_before(caller.sub)):
        raise Unauthorized(SIGN_IN_AGAIN)
    require_role(caller, needed)
    return caller


@lambda_handler_decorator
def guard(
    handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]],
    event: dict[str, Any],
    context: LambdaContext,
    *,
    app: APIGatewayHttpResolver,
    cors: CORSConfig,
    access: Access,
    revocations: Revocations,
    bodiless: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """An API function's request guard (a Powertools middleware around `lambda_handler`): the
    caller first (who, not revoked, holding the route's role), then the body's size and form,
    then the routing. It runs before the resolver, because the resolver validates the body
    before any route middleware: nobody without the role learns anything about its inputs.

    `access` maps every route the function serves to the role it needs (None: public); a
    route missing there is refused, never served unchecked. `bodiless` lists POST routes that
    take no body (an action on the path's resource). The caller reaches the route through
    `current_caller(app)`."""
    route_key = str(event.get("routeKey", ""))
    try:
        if route_key not in access:
            raise NotFound("No such API route")
        needed = access[route_key]
        if needed is not None:
            app.append_context(caller=identify(event, needed, revocations))
        check_request(event, has_body=takes_body(route_key, bodiless))
    except DomainError as error:
        app.clear_context()
        return _early_response(cors, event, error)
    return handler(event, context)


def _early_response(cors: CORSConfig, event: dict[str, Any], error: DomainError) -> dict[str, Any]:
    """The error contract for a request refused before routing, with the CORS headers the
    resolver would have added to a routed response."""
    headers: dict[str, str] = {"Content-Type": JSON, "Cache-Control": "no-store"}
    origin = _header(event, "origin")
    if origin:
        headers.update(cors.to_dict(origin))  # empty for an origin that is not allowed
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="scc-payments"'
    return {
        "statusCode": error.status,
        "headers": headers,
        "body": json.dumps(error_payload(error), separators=(",", ":")),
        "isBase64Encoded": False,
        "cookies": [],
    }


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    caller = app.context.get("caller")
    if not isinstance(caller, Caller):
        raise Unauthorized("Sign in required")
    return caller
