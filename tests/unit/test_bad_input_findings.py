"""Inputs the bad-input suite (tests/verify/bad_input.py) found answered with a 500: each is
now refused as bad input, here without a stack."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from botocore.exceptions import ParamValidationError
from pydantic import ValidationError

from services.people.directory import Directory
from services.people.models import ChallengeRequest
from shared.errors import ValidationFailed
from shared.http import check_request
from shared.models import Payment
from shared.repository import payment_from_item, payment_item
from shared.timeutil import iso_z

PAYMENT = {"patron_name": "Ada Lovelace", "amount": "150.00", "payment_method": "cash"}


def test_given_a_utf16_json_body_when_checked_then_it_is_refused_as_not_utf8() -> None:
    # Given a JSON object encoded as UTF-16 (the gateway passes non-UTF-8 bodies as base64)
    raw = json.dumps(PAYMENT).encode("utf-16")
    event = {
        "headers": {"content-type": "application/json"},
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    # When the guard checks it, then it is a 400 naming the body (not a 500 in the resolver)
    with pytest.raises(ValidationFailed) as caught:
        check_request(event, has_body=True)
    assert caught.value.fields == {"body": "must be UTF-8 encoded JSON"}


def test_given_a_byte_order_mark_when_checked_then_the_body_is_not_valid_json() -> None:
    event = {
        "headers": {"content-type": "application/json"},
        "body": "\ufeff" + json.dumps(PAYMENT),
        "isBase64Encoded": False,
    }
    with pytest.raises(ValidationFailed) as caught:
        check_request(event, has_body=True)
    assert caught.value.fields == {"body": "must be valid JSON"}


@pytest.mark.parametrize("session", ["abc", "s" * 19, "s" * 2049])
def test_given_a_session_cognito_could_not_have_issued_then_the_challenge_is_refused(
    session: str,
) -> None:
    # Given a session outside Cognito's bounds (20..2048), then the request does not validate
    with pytest.raises(ValidationError):
        ChallengeRequest.model_validate(
            {"email": "a@scc.example", "session": session, "challenge": "SOFTWARE_TOKEN_MFA"}
        )


class _RefusingClient:
    """A cognito-idp client whose every call botocore refuses before sending it."""

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            raise ParamValidationError(report="Invalid length for parameter Username")

        return call


def test_given_botocore_refuses_a_parameter_when_calling_cognito_then_it_is_bad_input() -> None:
    # Given a value Cognito's API cannot take (botocore checks lengths before sending)
    directory = Directory(cast(Any, _RefusingClient()), user_pool_id="pool", client_id="client")
    # When the directory calls Cognito with it, then it is a 400, not an unhandled error
    with pytest.raises(ValidationFailed):
        directory.send_reset_code("a" * 200 + "@scc.example")


def test_given_a_year_before_1000_when_written_then_the_moment_has_four_digits() -> None:
    # Given a moment in the year 641 (a valid RFC 3339 date a client may send)
    moment = datetime(641, 4, 19, 6, 36, 1, 270000, tzinfo=UTC)
    # When written as the API and the ledger write moments, then it reads back as itself
    assert iso_z(moment) == "0641-04-19T06:36:01.270Z"
    assert datetime.fromisoformat(iso_z(moment).replace("Z", "+00:00")) == moment


def test_given_a_payment_received_in_641_when_stored_then_it_reads_back() -> None:
    # Given a payment with such a received_at (it once made the event's ledger unreadable)
    now = datetime(2026, 5, 23, 18, 30, tzinfo=UTC)
    payment = Payment(
        payment_id="0196f0c2-7a00-7000-8000-000000000001",
        event_id="2026-05-23-corporate-mixer",
        patron_name="Ada Lovelace",
        amount_cents=100,
        currency="USD",
        payment_method="cash",
        received_at=datetime(641, 4, 19, 6, 36, 1, 270000, tzinfo=UTC),
        logged_by="crew@scc.example",
        timestamp=now,
        request_fingerprint="f" * 64,
    )
    # When it is written as a ledger item and read back, then nothing is lost
    assert payment_from_item(payment_item(payment)) == payment
