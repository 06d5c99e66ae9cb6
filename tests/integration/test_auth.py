"""Every route that is not public, against every kind of caller that must be refused.

The routes come from the OpenAPI document the API serves (so a new route cannot escape) and are
checked against the template's routes. Requests pass the template's JWT authorizer (played by
devstack.authorizer with API Gateway's rules, Cognito's keys from moto) before the function
the template names runs; the function then checks revocation and role in one place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.support import (
    CREW_EMAIL,
    Api,
    Reply,
    assert_error,
    new_uuid7,
    payment_body,
)

OPENAPI = Path(__file__).resolve().parents[2] / "services" / "query" / "openapi.json"


def _documented_routes() -> dict[tuple[str, str], str | None]:
    """(METHOD, path) -> the role the OpenAPI document says the route needs (None: public)."""
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    routes: dict[tuple[str, str], str | None] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            role = operation["x-scc-role"]
            assert bool(operation["security"]) == (role is not None), (method, path)
            routes[method.upper(), path] = role
    return routes


DOCUMENTED = _documented_routes()
PUBLIC = {route for route, role in DOCUMENTED.items() if role is None}
PROTECTED = sorted(route for route, role in DOCUMENTED.items() if role is not None)
ADMIN_ONLY = sorted(route for route, role in DOCUMENTED.items() if role == "admin")


def test_the_openapi_document_lists_exactly_the_template_routes_and_their_authorizer(
    api: Api,
) -> None:
    # A route added to the code appears in the document (`make schemas`); one added to the
    # template only, or guarded differently in the two, fails here.
    assert set(DOCUMENTED) == set(api.routes), "regenerate with `make schemas`"
    assert api.public_routes == PUBLIC
    assert {("POST", "/api/events"), ("GET", "/api/people")} <= set(ADMIN_ONLY)
    assert ("GET", "/api/health") in PUBLIC


def _request(api: Api, route: tuple[str, str], event_id: str, person_id: str) -> dict[str, Any]:
    """A request that the route would accept from an admin: a refusal is about the caller."""
    method, path = route
    params = {"event_id": event_id, "payment_id": new_uuid7(), "person_id": person_id}
    needed = {name: value for name, value in params.items() if "{" + name + "}" in path}
    bodies: dict[str, Any] = {
        "/api/events": {"event_name": "Refused Party", "date": "2026-07-01"},
        "/api/g/{event_id}/payment": payment_body(),
        "/api/payment/log": {**payment_body(), "event_id": event_id},
        "/api/g/{event_id}/payments/{payment_id}/void": {"reason": "refused"},
        "/api/people": {"email": "refused@scc.example", "name": "Refused", "role": "crew"},
        "/api/people/{person_id}/role": {"role": "admin"},
    }
    request: dict[str, Any] = {"path_params": needed}
    if method == "POST":
        request["body"] = bodies.get(path, {})
    return request


def _expired(api: Api) -> str:
    now = int(time.time())
    return api.sign_as_cognito(api.id_token_claims(iat=now - 7200, exp=now - 3600))


def _other_key(api: Api) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(api.id_token_claims(), key, algorithm="RS256", headers={"kid": "dummy"})


def _alg_none(api: Api) -> str:
    return jwt.encode(api.id_token_claims(), key=None, algorithm="none")


def _other_pool(api: Api) -> str:
    return api.other_pool_token()


def _disabled(api: Api) -> str:
    token = api.login(CREW_EMAIL, api.crew_password)
    admin = api.login()
    assert (
        api.call(
            "POST",
            "/api/people/{person_id}/disable",
            path_params={"person_id": api.person_id(CREW_EMAIL)},
            token=admin,
        ).status
        == 200
    )
    return token


def _access_token(api: Api) -> str:
    # Passes the authorizer (client_id matches when aud is absent) but names no e-mail.
    return str(api.sign_in(api.admin_email, api.admin_password).body["access_token"])


# Every kind of caller that must be refused; the disabled person comes last because disabling
# changes the pool (the snapshot before each request is taken afresh).
REFUSED_CALLERS: list[tuple[str, Callable[[Api], str | None]]] = [
    ("no-token", lambda api: None),
    ("expired", _expired),
    ("signed-by-another-key", _other_key),
    ("alg-none", _alg_none),
    ("another-pools-token", _other_pool),
    ("access-token-not-id-token", _access_token),
    ("disabled-person", _disabled),
]


@pytest.mark.parametrize("route", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_a_protected_route_refuses_every_caller_it_cannot_trust_and_writes_nothing(
    api: Api, seeded_event: str, route: tuple[str, str]
) -> None:
    target = api.person_id(CREW_EMAIL)
    for name, caller in REFUSED_CALLERS:
        # Given a token that must not be trusted
        token = caller(api)
        before = api.snapshot()

        # When it is sent to the route
        reply = api.call(*route, token=token, **_request(api, route, seeded_event, target))

        # Then the gateway or the function refuses it with 401, and nothing changed anywhere
        assert reply.status == 401, (name, reply.raw)
        if reply.body != {"message": "Unauthorized"}:  # API Gateway's own 401 body
            assert_error(reply, 401)
        assert api.snapshot() == before, name


@pytest.mark.parametrize(
    "route", sorted(ADMIN_ONLY), ids=[f"{m} {p}" for m, p in sorted(ADMIN_ONLY)]
)
def test_crew_on_an_admin_route_gets_403_before_the_body_is_read_and_nothing_changes(
    api: Api, seeded_event: str, route: tuple[str, str]
) -> None:
    # Given a signed-in crew member
    token = api.login(CREW_EMAIL, api.crew_password)
    target = api.person_id(api.admin_email)
    before = api.snapshot()

    # When they call an admin route (with a valid body, and then with a broken one)
    reply = api.call(*route, token=token, **_request(api, route, seeded_event, target))
    broken = api.call(
        *route,
        token=token,
        path_params=_request(api, route, seeded_event, target)["path_params"],
        **({"raw_body": "{not json"} if route[0] == "POST" else {}),
    )

    # Then both are 403 (the role is checked before anything else) and nothing changed
    assert_error(reply, 403)
    assert_error(broken, 403)
    assert api.snapshot() == before


def test_crew_may_list_events_log_payments_and_see_an_events_payments(
    api: Api, seeded_event: str
) -> None:
    token = api.login(CREW_EMAIL, api.crew_password)
    assert api.call("GET", "/api/events", token=token).status == 200
    event = api.call(
        "GET", "/api/events/{event_id}", path_params={"event_id": seeded_event}, token=token
    )
    assert event.status == 200
    assert "summary" in event.body
    assert api.log_payment(seeded_event, payment_body(), token).status == 201
    page = api.payments(seeded_event, token)
    assert page.status == 200
    assert [p["logged_by"] for p in page.body["payments"]] == [CREW_EMAIL]


def test_every_ledger_record_names_the_signed_in_person_and_their_sub(
    api: Api, seeded_event: str
) -> None:
    # Given a crew member who logs a payment and an admin who voids it
    crew = api.login(CREW_EMAIL, api.crew_password)
    admin = api.login()
    logged = api.log_payment(seeded_event, payment_body(), crew)
    assert logged.status == 201
    payment_id = logged.body["payment_id"]
    voided = api.call(
        "POST",
        "/api/g/{event_id}/payments/{payment_id}/void",
        path_params={"event_id": seeded_event, "payment_id": payment_id},
        body={"reason": "wrong patron"},
        token=admin,
    )
    assert voided.status == 201

    # Then each ledger item carries the person's e-mail and Cognito sub
    items = {str(i["sk"]).split("#")[0]: i for i in api.table_items() if "sk" in i}
    assert items["PAYMENT"]["logged_by"] == CREW_EMAIL
    assert items["PAYMENT"]["logged_by_sub"] == api.person_id(CREW_EMAIL)
    assert items["VOID"]["voided_by"] == api.admin_email
    assert items["VOID"]["voided_by_sub"] == api.person_id(api.admin_email)
    meta = next(i for i in api.table_items() if i["sk"] == "META")
    assert meta["created_by_sub"] == api.person_id(api.admin_email)


def test_a_body_cannot_choose_logged_by(api: Api, seeded_event: str) -> None:
    reply = api.log_payment(
        seeded_event, payment_body(logged_by="captain@scc.example"), api.login()
    )
    assert_error(reply, 400, "logged_by")
    assert api.payment_items() == []


def test_a_function_invoked_without_the_authorizer_refuses_every_protected_route(
    api: Api, seeded_event: str
) -> None:
    # `sam local invoke` or a misconfigured route: no authorizer context reaches the function
    before = api.snapshot()
    for route in PROTECTED:
        reply = api.invoke_without_authorizer(
            *route, **_request(api, route, seeded_event, "someone")
        )
        assert_error(reply, 401)
    assert api.snapshot() == before


def test_a_reply_is_a_reply(api: Api) -> None:
    # The health route stays public: no token, no authorizer, 200.
    reply: Reply = api.call("GET", "/api/health")
    assert reply.status == 200
