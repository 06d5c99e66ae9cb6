from __future__ import annotations

import pytest

from services.ingest.config import IngestConfig
from services.people.config import PeopleConfig
from services.query.config import QueryConfig
from shared.config import ConfigError, load_config
from shared.errors import PayloadTooLarge, ValidationFailed
from shared.http import MAX_BODY_BYTES, check_request, validation_failure


def event(body: str | None, content_type: str | None = "application/json") -> dict[str, object]:
    headers = {} if content_type is None else {"content-type": content_type}
    return {"headers": headers, "body": body, "isBase64Encoded": False}


def test_validation_errors_name_each_field_once() -> None:
    failure = validation_failure(
        [
            {
                "loc": ("body", "amount"),
                "msg": "Value error, must be greater than 0",
                "type": "value_error",
            },
            {"loc": ("body", "amount"), "msg": "second message", "type": "value_error"},
            {"loc": ("body", "patron_name"), "msg": "Field required", "type": "missing"},
            {"loc": ("body", "zz"), "msg": "Extra inputs", "type": "extra_forbidden"},
            {"loc": ("body", 7), "msg": "JSON decode error", "type": "json_invalid"},
            {"loc": ("query", "limit"), "msg": "too big", "type": "less_than_equal"},
        ]
    )
    assert failure.status == 400
    assert failure.fields == {
        "amount": "must be greater than 0",
        "patron_name": "is required",
        "zz": "is not a known field",
        "body": "must be valid JSON",
        "limit": "too big",
    }


@pytest.mark.parametrize(
    ("request_event", "field"),
    [
        (event(None), "body"),
        (event("   "), "body"),
        (event("{"), "body"),
        (event('{"amount": 1, "amount": 2}'), "amount"),
        (event("{}", content_type="text/plain"), "body"),
        (event("{}", content_type="application/x-www-form-urlencoded"), "body"),
    ],
)
def test_bodies_that_are_not_one_json_object_are_refused_before_routing(
    request_event: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_request(request_event, has_body=True)
    assert field in caught.value.fields


def test_a_body_over_64_kib_is_refused_with_413() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        check_request(event("x" * (MAX_BODY_BYTES + 1)), has_body=True)
    assert caught.value.status == 413
    assert "body" in caught.value.fields


def test_a_json_body_without_content_type_is_accepted() -> None:
    check_request(event('{"a": 1}', content_type=None), has_body=True)
    check_request(event('{"a": 1}', content_type="application/json; charset=utf-8"), has_body=True)


def test_missing_configuration_fails_fast_naming_the_variables_not_their_values() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(IngestConfig, {"MAX_PAYMENT_CENTS": "lots-of-secret"})
    message = str(caught.value)
    for variable in (
        "LEDGER_TABLE_NAME",
        "REVOCATIONS_TABLE_NAME",
        "ALLOWED_ORIGIN",
        "MAX_PAYMENT_CENTS",
    ):
        assert variable in message
    assert "lots-of-secret" not in message


def test_a_malformed_user_pool_id_fails_the_people_function_at_cold_start() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            PeopleConfig,
            {
                "ALLOWED_ORIGIN": "http://x",
                "REVOCATIONS_TABLE_NAME": "revocations",
                "USER_POOL_ID": "not a pool",
                "USER_POOL_CLIENT_ID": "abc123",
            },
        )
    assert "USER_POOL_ID" in str(caught.value)


def test_configuration_is_parsed_into_typed_values() -> None:
    config = load_config(
        QueryConfig,
        {
            "LEDGER_TABLE_NAME": "payments",
            "PROJECTION_TABLE_NAME": "projections",
            "ALLOWED_ORIGIN": "http://x",
            "REVOCATIONS_TABLE_NAME": "revocations",
            "EXPORT_BUCKET": "exports",
            "PAGE_SIZE": "25",
        },
    )
    assert config.default_page_size == 25
    assert config.revocations_table_name == "revocations"
