"""What each API route answers, declared for the OpenAPI document (`make schemas`).

The API functions pass these to Powertools' route decorators (`responses=`). They are plain
dicts, built once when an app module is imported and only read when the document is generated;
a request never touches them. Schemas are named by component (`#/components/schemas/<Name>`):
events_schema/generate.py adds the components (the response models, `Error`, `GatewayError`)
and refuses a document with a reference that does not resolve.

A route declares its own answers (its successes and the errors its logic raises); the ones the
guard (shared/http.py) and API Gateway give are added here from the route's ACCESS entry, so a
route cannot forget them:

- 400 for a route that takes a JSON body (not JSON, not an object, not `application/json`,
  a repeated key, a field that fails validation): validation failures are 400, never 422;
- 401 and 403 for a signed-in route (no valid token, a revoked session, no role for it);
- 413 and 429 for every route (a body over 64 KiB; API Gateway's throttling).

Every error body is the `Error` envelope `shared.http.error_payload` writes, except where API
Gateway answers before the function runs: its JWT authorizer's 401, its throttling 429 and its
own body-size 413 are `{"message": "..."}` (`GatewayError`), so those statuses take either form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from shared.auth import Role
from shared.http import Access, takes_body

JSON = "application/json"
CSV = "text/csv"
REF_PREFIX = "#/components/schemas/"
ERROR = "Error"
GATEWAY_ERROR = "GatewayError"

ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR,
    "description": "Every error the functions answer: a stable machine code, a message for "
    "people, and the input fields at fault (field name -> what is wrong with it).",
    "type": "object",
    "properties": {
        "status": {"const": "error"},
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "examples": ["validation_error"]},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
        },
    },
    "required": ["status", "error"],
    "additionalProperties": False,
}
GATEWAY_ERROR_SCHEMA: dict[str, Any] = {
    "title": GATEWAY_ERROR,
    "description": "What API Gateway itself answers when it refuses a request before any "
    'function runs, e.g. {"message": "Unauthorized"}.',
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}
# The error components, beside the models' components that generate.py adds.
COMPONENTS: Mapping[str, Mapping[str, Any]] = {
    ERROR: ERROR_SCHEMA,
    GATEWAY_ERROR: GATEWAY_ERROR_SCHEMA,
}

BAD_REQUEST = (
    "Invalid request: the body is not a JSON object sent as application/json, or an input "
    "fails validation; `error.fields` names each one"
)
UNAUTHORIZED = (
    "No valid Cognito ID token: API Gateway's authorizer refuses a missing, malformed, "
    'forged, expired or foreign token with {"message": "Unauthorized"}; a revoked session '
    "or a token that names nobody gets the error envelope"
)
TOO_LARGE = "The body is larger than 64 KiB"
THROTTLED = "Too many requests: API Gateway throttles the API"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


def one_of(*names: str) -> dict[str, Any]:
    return {"oneOf": [ref(name) for name in names]}


def success(
    description: str, schema: Mapping[str, Any], *, media_type: str = JSON
) -> OpenAPIResponse:
    return {"description": description, "content": {media_type: {"schema": dict(schema)}}}


def error(description: str, *, from_gateway_too: bool = False) -> OpenAPIResponse:
    schema = {"anyOf": [ref(ERROR), ref(GATEWAY_ERROR)]} if from_gateway_too else ref(ERROR)
    return {"description": description, "content": {JSON: {"schema": schema}}}


@dataclass(frozen=True)
class Answers:
    """A route's own answers: its successes (status -> response) and the errors its logic
    raises (status -> when). The guard's and API Gateway's are added by `route_responses`."""

    success: Mapping[int, OpenAPIResponse]
    errors: Mapping[int, str] = field(default_factory=dict)


def route_responses(
    route_key: str, role: Role | None, answers: Answers, *, has_body: bool
) -> dict[int, OpenAPIResponse]:
    """Everything one route may answer, by status."""
    declared: dict[int, OpenAPIResponse] = dict(answers.success)
    described: dict[int, str] = {}
    if has_body:
        described[400] = BAD_REQUEST
    if role is not None:
        described[401] = UNAUTHORIZED
        described[403] = f"Signed in without the {role.value} role"
    described[413] = TOO_LARGE
    described[429] = THROTTLED
    for status, when in answers.errors.items():
        described[status] = when if status not in described else f"{described[status]}; {when}"
    gateway = {413, 429} | ({401} if role is not None else set())
    for status, when in described.items():
        if status in declared:
            raise ValueError(f"{route_key}: {status} is declared as a success and an error")
        declared[status] = error(when, from_gateway_too=status in gateway)
    return dict(sorted(declared.items()))


def responses_for(
    access: Access,
    answers: Mapping[str, Answers],
    *,
    bodiless: frozenset[str] = frozenset(),
) -> dict[str, dict[int, OpenAPIResponse]]:
    """Route key -> responses for every route of a function's ACCESS table (all of them must
    be declared, none more)."""
    if set(answers) != set(access):
        missing = sorted(set(access) - set(answers))
        extra = sorted(set(answers) - set(access))
        raise ValueError(f"responses: undeclared routes {missing}, unknown routes {extra}")
    return {
        route_key: route_responses(
            route_key,
            access[route_key],
            answers[route_key],
            has_body=takes_body(route_key, bodiless),
        )
        for route_key in access
    }
