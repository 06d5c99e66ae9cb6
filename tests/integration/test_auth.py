"""Admin sign-in and the token guard, through the handlers the template routes to.

Sign-in issues a short-lived HS256 token; wrong credentials reveal nothing about which part was
wrong; repeated failures per address are throttled; every admin route refuses a missing or
untrustworthy token before it looks at the request body.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from shared.auth import issue_token
from tests.integration.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Api,
    Reply,
    assert_error,
    payment_body,
)

LOGIN = "/api/auth/login"
LOG_PAYMENT = "/api/g/{event_id}/payment"
LIST_PAYMENTS = "/api/g/{event_id}/payments"


def _login(api: Api, email: str, password: str) -> Reply:
    return api.call("POST", LOGIN, body={"email": email, "password": password})


def _parse_z(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- signing in ------------------------------------------------------------------------------


def test_signing_in_with_the_right_password_returns_a_token_and_its_expiry(api: Api) -> None:
    # Given the admin configured in the template's parameters
    before = datetime.now(UTC)

    # When they sign in
    reply = _login(api, ADMIN_EMAIL, ADMIN_PASSWORD)

    # Then a token comes back with an expiry one shift (the template's TokenTtlSeconds) ahead
    assert reply.status == 200, reply.raw
    assert set(reply.body) >= {"token", "expires_at"}
    assert reply.body["token"].count(".") == 2
    expires_at = _parse_z(reply.body["expires_at"])
    ttl = timedelta(seconds=28_800)
    assert before + ttl - timedelta(seconds=2) <= expires_at <= datetime.now(UTC) + ttl
    assert ADMIN_PASSWORD not in reply.raw


def test_the_token_from_sign_in_opens_the_admin_routes(api: Api, seeded_event: str) -> None:
    # Given a token from sign-in
    token = api.login()

    # When it is used to log a payment and read the payments back
    logged = api.log_payment(seeded_event, payment_body(), token)
    listed = api.payments(seeded_event, token)

    # Then both succeed
    assert logged.status == 201, logged.raw
    assert listed.status == 200, listed.raw
    assert [p["payment_id"] for p in listed.body["payments"]] == [logged.body["payment_id"]]


def test_the_sign_in_email_is_case_and_space_insensitive(api: Api) -> None:
    reply = _login(api, f"  {ADMIN_EMAIL.upper()} ", ADMIN_PASSWORD)
    assert reply.status == 200, reply.raw


def test_a_wrong_password_and_an_unknown_email_get_the_identical_401(api: Api) -> None:
    # Given the configured admin
    # When one caller guesses the password and another an address
    wrong_password = _login(api, ADMIN_EMAIL, "not the password")
    unknown_email = _login(api, "nobody@scc.example", ADMIN_PASSWORD)

    # Then both get the same 401: nothing tells which part was wrong
    assert_error(wrong_password, 401)
    assert_error(unknown_email, 401)
    assert wrong_password.body == unknown_email.body
    assert "token" not in wrong_password.raw


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"email": ADMIN_EMAIL}, "password", id="missing-password"),
        pytest.param({"password": ADMIN_PASSWORD}, "email", id="missing-email"),
        pytest.param({"email": ADMIN_EMAIL, "password": ""}, "password", id="empty-password"),
        pytest.param(
            {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "remember": True},
            "remember",
            id="unknown-field",
        ),
    ],
)
def test_a_malformed_sign_in_is_a_400_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    assert_error(api.call("POST", LOGIN, body=body), 400, field)


def test_a_sign_in_sent_as_a_json_array_is_refused(api: Api) -> None:
    reply = api.call(
        "POST", LOGIN, raw_body=json.dumps([{"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}])
    )
    assert_error(reply, 400, "body")


# --- throttling --------------------------------------------------------------------------------


def test_after_five_failures_even_the_right_password_is_throttled(api: Api) -> None:
    # Given five failed sign-ins for the admin address
    for _ in range(5):
        assert_error(_login(api, ADMIN_EMAIL, "guess"), 401)

    # When the sixth attempt uses the right password
    reply = _login(api, ADMIN_EMAIL, ADMIN_PASSWORD)

    # Then it is refused with 429 and no token
    assert_error(reply, 429, "email")
    assert "token" not in reply.body


def test_throttling_is_per_address_and_a_success_clears_no_other_address(api: Api) -> None:
    # Given an intruder who has failed five times with another address
    for _ in range(5):
        assert_error(_login(api, "intruder@scc.example", "guess"), 401)

    # When the admin signs in
    admin = _login(api, ADMIN_EMAIL, ADMIN_PASSWORD)

    # Then the admin is not throttled, and the intruder still is
    assert admin.status == 200, admin.raw
    assert_error(_login(api, "intruder@scc.example", "guess"), 429, "email")


def test_a_success_before_the_limit_starts_the_count_again(api: Api) -> None:
    # Given four failures and then a successful sign-in
    for _ in range(4):
        assert_error(_login(api, ADMIN_EMAIL, "guess"), 401)
    assert _login(api, ADMIN_EMAIL, ADMIN_PASSWORD).status == 200

    # When the admin mistypes four more times
    for _ in range(4):
        assert_error(_login(api, ADMIN_EMAIL, "guess"), 401)

    # Then they can still sign in
    assert _login(api, ADMIN_EMAIL, ADMIN_PASSWORD).status == 200


def test_sign_in_counters_never_store_the_address_in_clear(api: Api) -> None:
    _login(api, "intruder@scc.example", "guess")
    assert "intruder" not in json.dumps(api.table_items(), default=str)


# --- the token guard -----------------------------------------------------------------------

_CLAIMS = {"sub": ADMIN_EMAIL, "iss": "scc-payments", "aud": "scc-admin"}


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {**_CLAIMS, "iat": now, "exp": now + 600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _hs512(claims: dict[str, Any], key: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns that the key is short for SHA-512: we know
        return jwt.encode(claims, key, algorithm="HS512")


# Each bad credential is a function of the real signing key, so "another key" is really another.
BAD_AUTHORIZATION: list[Any] = [
    pytest.param(lambda key: None, id="no-header"),
    pytest.param(lambda key: "", id="empty-header"),
    pytest.param(lambda key: "Bearer", id="bearer-without-token"),
    pytest.param(lambda key: "Bearer    ", id="bearer-blank-token"),
    pytest.param(lambda key: "Token abc.def.ghi", id="wrong-scheme"),
    pytest.param(lambda key: "Basic YWRtaW46cGFzc3dvcmQ=", id="basic-auth"),
    pytest.param(lambda key: "Bearer not-a-jwt", id="malformed-token"),
    pytest.param(
        lambda key: (
            "Bearer "
            + issue_token(
                ADMIN_EMAIL, key=key, ttl_seconds=600, now=datetime.now(UTC) - timedelta(hours=1)
            ).token
        ),
        id="expired",
    ),
    pytest.param(
        lambda key: (
            "Bearer "
            + issue_token(ADMIN_EMAIL, key=key[::-1], ttl_seconds=600, now=datetime.now(UTC)).token
        ),
        id="signed-with-another-key",
    ),
    pytest.param(
        lambda key: "Bearer " + jwt.encode(_claims(), key=None, algorithm="none"),
        id="alg-none",
    ),
    pytest.param(
        lambda key: "Bearer " + jwt.encode(_claims(aud="someone-else"), key, algorithm="HS256"),
        id="wrong-audience",
    ),
    pytest.param(
        lambda key: "Bearer " + jwt.encode(_claims(iss="evil"), key, algorithm="HS256"),
        id="wrong-issuer",
    ),
    pytest.param(
        lambda key: "Bearer " + jwt.encode(_claims(exp=None), key, algorithm="HS256"),
        id="no-expiry",
    ),
    pytest.param(
        lambda key: "Bearer " + jwt.encode(_claims(sub=""), key, algorithm="HS256"),
        id="empty-subject",
    ),
    pytest.param(lambda key: "Bearer " + _hs512(_claims(), key), id="other-hmac-algorithm"),
]


def _admin_request(api: Api, method: str, event_id: str, authorization: str | None) -> Reply:
    headers = {} if authorization is None else {"authorization": authorization}
    if method == "POST":
        return api.call(
            "POST",
            LOG_PAYMENT,
            path_params={"event_id": event_id},
            body=payment_body(),
            headers=headers,
        )
    return api.call("GET", LIST_PAYMENTS, path_params={"event_id": event_id}, headers=headers)


@pytest.mark.parametrize("method", ["POST", "GET"], ids=["log-payment", "list-payments"])
@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION)
def test_an_admin_route_refuses_a_missing_or_untrusted_token_and_writes_nothing(
    api: Api,
    seeded_event: str,
    signing_key: str,
    authorization: Callable[[str], str | None],
    method: str,
) -> None:
    # Given an event with one payment
    assert api.log_payment(seeded_event, payment_body(), api.login()).status == 201
    before = api.table_items()
    api.calls.reset()

    # When an admin route is called without a token the API trusts
    reply = _admin_request(api, method, seeded_event, authorization(signing_key))

    # Then 401 with a Bearer challenge, no payment data, and nothing written
    assert_error(reply, 401)
    assert reply.headers.get("www-authenticate", "").startswith("Bearer")
    assert "Ada Lovelace" not in reply.raw
    assert api.calls.operations == []
    assert api.table_items() == before


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"raw_body": "not json at all"}, id="not-json"),
        pytest.param({"body": payment_body(amount=0)}, id="invalid-amount"),
        pytest.param({"body": {}}, id="empty-object"),
        pytest.param({"raw_body": "x" * (64 * 1024 + 1)}, id="over-64-KiB"),
        pytest.param(
            {"body": payment_body(), "headers": {"content-type": "text/plain"}}, id="text-plain"
        ),
    ],
)
def test_an_anonymous_caller_gets_401_before_any_body_validation(
    api: Api, seeded_event: str, request_body: dict[str, Any]
) -> None:
    # Given no token
    # When a bad body is posted to the payment route
    reply = api.call("POST", LOG_PAYMENT, path_params={"event_id": seeded_event}, **request_body)

    # Then the answer is 401, not a validation error that would describe the API's inputs
    error = assert_error(reply, 401)
    assert error["fields"] == {}


def test_an_anonymous_caller_cannot_create_an_event(api: Api) -> None:
    before = api.table_items()
    reply = api.call("POST", "/api/events", body={"event_name": "Gala", "date": "2026-06-01"})
    assert_error(reply, 401)
    assert api.table_items() == before


# --- who logged it ---------------------------------------------------------------------------


def test_logged_by_is_the_email_in_the_token(api: Api, seeded_event: str, signing_key: str) -> None:
    # Given a valid token issued to a second admin identity
    token = issue_token(
        "deckhand@scc.example", key=signing_key, ttl_seconds=600, now=datetime.now(UTC)
    ).token

    # When that admin logs a payment
    reply = api.log_payment(seeded_event, payment_body(), token)

    # Then the ledger records who logged it from the token
    assert reply.status == 201, reply.raw
    [item] = api.payment_items()
    assert item["logged_by"] == "deckhand@scc.example"


def test_a_body_cannot_choose_logged_by(api: Api, seeded_event: str, admin_token: str) -> None:
    # Given a signed-in admin
    before = api.table_items()

    # When the body tries to claim someone else logged the payment
    reply = api.log_payment(
        seeded_event, payment_body(logged_by="captain@scc.example"), admin_token
    )

    # Then the field is refused as unknown and nothing is written
    assert_error(reply, 400, "logged_by")
    assert api.table_items() == before
