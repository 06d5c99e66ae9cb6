"""The served OpenAPI document lists every status each route answers, each error with the
`Error` schema the functions really write (and API Gateway's own form where it answers first)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from devstack.authorizer import UNAUTHORIZED_BODY
from devstack.gateway import error_response
from shared import errors
from shared.http import error_payload
from shared.responses import ERROR, GATEWAY_ERROR, REF_PREFIX

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT: dict[str, Any] = json.loads(
    (ROOT / "services/query/openapi.json").read_text(encoding="utf-8")
)
METHODS = ("get", "put", "post", "delete", "patch")


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


OPERATIONS = dict(_operations())


def _statuses(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"]}


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(node["$ref"])} if "$ref" in node else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator for one response schema, its `#/components/...` references resolving."""
    return jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def _json_schema(operation: dict[str, Any], status: int) -> dict[str, Any]:
    return dict(operation["responses"][str(status)]["content"]["application/json"]["schema"])


def _domain_errors(cls: type[errors.DomainError] = errors.DomainError) -> list[type[Any]]:
    found: list[type[Any]] = [cls]
    for sub in cls.__subclasses__():
        found.extend(_domain_errors(sub))
    return found


SIGNED_IN = [key for key, op in OPERATIONS.items() if op["security"]]
PUBLIC = [key for key, op in OPERATIONS.items() if not op["security"]]
WITH_BODY = [key for key, op in OPERATIONS.items() if "requestBody" in op]
WITH_PATH_PARAMETER = [key for key in OPERATIONS if "{" in key]


def test_given_the_document_then_it_has_signed_in_public_and_body_routes() -> None:
    # Given the generated document, then the route groups below are not empty
    assert len(OPERATIONS) >= 20
    assert SIGNED_IN
    assert PUBLIC
    assert WITH_BODY
    assert WITH_PATH_PARAMETER


@pytest.mark.parametrize("route", SIGNED_IN)
def test_given_a_signed_in_route_then_it_documents_401_and_403(route: str) -> None:
    # Given a route behind the JWT authorizer
    operation = OPERATIONS[route]
    # Then a missing/forged/revoked token (401) and a person without the role (403) are listed
    assert {401, 403} <= _statuses(operation), route
    assert operation["x-scc-role"] in ("admin", "crew")


@pytest.mark.parametrize("route", SIGNED_IN)
def test_given_a_signed_in_route_then_its_401_takes_either_error_form(route: str) -> None:
    # Given the 401 of a signed-in route
    validator = _validator(_json_schema(OPERATIONS[route], 401))
    # Then both the authorizer's body and the guard's envelope (a revoked session) are valid
    validator.validate(json.loads(UNAUTHORIZED_BODY))
    validator.validate(error_payload(errors.Unauthorized("Your session has ended; sign in again")))


@pytest.mark.parametrize("route", PUBLIC)
def test_given_a_public_route_then_it_documents_no_role_and_no_403(route: str) -> None:
    operation = OPERATIONS[route]
    assert operation["x-scc-role"] is None
    assert 403 not in _statuses(operation), route


@pytest.mark.parametrize("route", WITH_BODY)
def test_given_a_route_with_a_body_then_it_documents_400_for_a_bad_body(route: str) -> None:
    # Given a route that takes a JSON body, then malformed JSON and invalid fields (400) are
    # listed, and not Powertools' default 422 (validation failures are answered with 400)
    statuses = _statuses(OPERATIONS[route])
    assert 400 in statuses, route
    assert 422 not in statuses, route


@pytest.mark.parametrize("route", WITH_PATH_PARAMETER)
def test_given_a_route_with_an_id_in_its_path_then_it_documents_400_and_404(route: str) -> None:
    # Given a route on one resource, then a malformed id (400) and an unknown one (404) are listed
    assert {400, 404} <= _statuses(OPERATIONS[route]), route


@pytest.mark.parametrize("route", list(OPERATIONS))
def test_given_any_route_then_it_documents_413_and_429(route: str) -> None:
    # Given any route, then an oversized body (413) and API Gateway's throttling (429) are listed
    assert {413, 429} <= _statuses(OPERATIONS[route]), route


@pytest.mark.parametrize("route", list(OPERATIONS))
def test_given_any_route_then_every_error_response_references_the_error_schema(route: str) -> None:
    # Given every 4xx a route documents
    operation = OPERATIONS[route]
    for status in _statuses(operation):
        if status < 400:
            continue
        # Then its JSON body is the Error envelope (or, where API Gateway answers first, either)
        refs = _refs(_json_schema(operation, status))
        assert REF_PREFIX + ERROR in refs, (route, status)
        assert refs <= {REF_PREFIX + ERROR, REF_PREFIX + GATEWAY_ERROR}, (route, status)


@pytest.mark.parametrize("route", list(OPERATIONS))
def test_given_any_route_then_its_successes_have_a_real_schema(route: str) -> None:
    # Given a route's 2xx responses
    operation = OPERATIONS[route]
    successes = [status for status in _statuses(operation) if status < 400]
    # Then there is at least one, and none is Powertools' untyped placeholder
    assert successes, route
    for status in successes:
        for content in operation["responses"][str(status)]["content"].values():
            schema = content["schema"]
            assert schema != {"title": "Return"}, (route, status)
            assert "$ref" in schema or "oneOf" in schema or "type" in schema, (route, status)


@pytest.mark.parametrize(
    ("route", "created"),
    [
        ("POST /api/events", {201}),
        ("POST /api/g/{event_id}/payment", {201, 200}),
        ("POST /api/payment/log", {201, 200}),
        ("POST /api/g/{event_id}/payments/{payment_id}/void", {201}),
        ("POST /api/g/{event_id}/closeouts", {201, 200}),
        ("POST /api/people", {201}),
        ("POST /api/auth/forgot", {202}),
    ],
)
def test_given_a_command_then_its_success_statuses_are_the_ones_it_answers(
    route: str, created: set[int]
) -> None:
    # Given a command that creates something (or replays an earlier request)
    statuses = _statuses(OPERATIONS[route])
    # Then exactly its success statuses are documented (201 for a create, 200 for a replay)
    assert {status for status in statuses if status < 300} == created


@pytest.mark.parametrize(
    ("route", "statuses"),
    [
        ("POST /api/events", {409}),
        ("POST /api/g/{event_id}/payment", {404, 409}),
        ("POST /api/g/{event_id}/payments/{payment_id}/void", {404, 409}),
        ("POST /api/g/{event_id}/closeouts", {404, 409}),
        ("GET /api/events/{event_id}", {404}),
        ("POST /api/people", {409}),
        ("POST /api/people/{person_id}/role", {404, 409}),
        ("POST /api/auth/login", {401}),
    ],
)
def test_given_a_route_whose_logic_refuses_then_those_statuses_are_documented(
    route: str, statuses: set[int]
) -> None:
    assert statuses <= _statuses(OPERATIONS[route])


@pytest.mark.parametrize("error_class", _domain_errors())
def test_given_any_domain_error_then_its_envelope_matches_the_error_schema(
    error_class: type[Any],
) -> None:
    # Given the envelope shared.http writes for each typed error
    if error_class is errors.EventNotFound:
        error = error_class("2026-05-23-mixer")
    elif error_class is errors.PaymentNotFound:
        error = error_class("0196f0c2-7a00-7000-8000-000000000001")
    else:
        error = error_class("Something is wrong", {"amount": "must be positive"})
    # Then it is valid against the Error component
    _validator({"$ref": REF_PREFIX + ERROR}).validate(error_payload(error))


def test_given_the_local_gateways_own_errors_then_they_match_the_error_schema() -> None:
    # Given an error the local gateway answers itself (no route, body over its limit)
    body = json.loads(error_response(413, "payload_too_large", "too big").body)
    # Then it is the same envelope
    _validator({"$ref": REF_PREFIX + ERROR}).validate(body)


def test_given_an_error_with_something_extra_then_the_error_schema_refuses_it() -> None:
    # Given an envelope with a field the API never writes, or a missing one
    validator = _validator({"$ref": REF_PREFIX + ERROR})
    payload = error_payload(errors.Conflict("taken"))
    # Then neither validates: the schema describes exactly what the API sends
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**payload, "trace": "..."})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"status": "error", "error": {"code": "conflict", "message": "x"}})


def test_given_every_documented_error_status_then_the_api_can_answer_it() -> None:
    # Given the statuses the typed errors carry (the gateway answers 401/413/429 too)
    possible = {error_class.status for error_class in _domain_errors()} | {401, 413, 429}
    # Then no route documents an error status nothing in the API answers
    for route, operation in OPERATIONS.items():
        documented = {status for status in _statuses(operation) if status >= 400}
        assert documented <= possible, route
