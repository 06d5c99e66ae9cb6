"""Who is calling, from the JWT authorizer's claims, and what their role lets them do."""

from __future__ import annotations

from typing import Any

import pytest

from shared.auth import (
    Caller,
    Role,
    authorizer_claims,
    caller_from_claims,
    parse_groups,
    require_role,
)
from shared.errors import Forbidden, Unauthorized
from shared.revocations import is_revoked

# What API Gateway's JWT authorizer passes for a Cognito ID token: every value a string.
CLAIMS: dict[str, Any] = {
    "sub": "4f1c2a9e-0000-4000-8000-000000000001",
    "email": "Skipper@SCC.example",
    "cognito:groups": "[admin crew]",
    "token_use": "id",
    "iat": "1764460800",
    "exp": "1764461700",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[admin crew]", {"admin", "crew"}),  # API Gateway's rendering of an array claim
        ("[crew]", {"crew"}),
        ('["admin","crew"]', {"admin", "crew"}),  # JSON text (other gateways, sam local)
        (["crew"], {"crew"}),  # the token's own payload
        ("admin", {"admin"}),
        ("[]", set()),
        (None, set()),
    ],
)
def test_groups_are_read_in_every_form_they_arrive_in(raw: Any, expected: set[str]) -> None:
    assert parse_groups(raw) == expected


def test_given_id_token_claims_when_read_then_the_caller_is_named_with_role_and_issue_time() -> (
    None
):
    caller = caller_from_claims(CLAIMS)
    assert caller.sub == CLAIMS["sub"]
    assert caller.email == "skipper@scc.example"  # e-mail addresses compare case-insensitively
    assert caller.role is Role.ADMIN
    assert caller.issued_at == 1764460800


def test_given_an_access_token_when_read_then_it_is_refused_because_it_names_no_email() -> None:
    access = {k: v for k, v in CLAIMS.items() if k != "email"} | {"token_use": "access"}
    with pytest.raises(Unauthorized):
        caller_from_claims(access)


@pytest.mark.parametrize("missing", ["sub", "email"])
def test_claims_without_a_subject_or_email_name_nobody(missing: str) -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims({k: v for k, v in CLAIMS.items() if k != missing})


def test_an_admin_may_do_what_crew_may_do_but_crew_may_not_do_admin_things() -> None:
    admin = Caller(sub="a", email="a@x.example", groups=frozenset({"admin"}), issued_at=0)
    crew = Caller(sub="c", email="c@x.example", groups=frozenset({"crew"}), issued_at=0)
    nobody = Caller(sub="n", email="n@x.example", groups=frozenset({"guests"}), issued_at=0)
    require_role(admin, Role.CREW)
    require_role(admin, Role.ADMIN)
    require_role(crew, Role.CREW)
    with pytest.raises(Forbidden):
        require_role(crew, Role.ADMIN)
    with pytest.raises(Forbidden):
        require_role(nobody, Role.CREW)
    assert nobody.role is None


def test_authorizer_claims_are_found_only_where_api_gateway_puts_them() -> None:
    event = {"requestContext": {"authorizer": {"jwt": {"claims": CLAIMS, "scopes": None}}}}
    assert authorizer_claims(event) == CLAIMS
    assert authorizer_claims({"requestContext": {}}) is None
    assert authorizer_claims({"requestContext": {"authorizer": {"lambda": {}}}}) is None
    assert authorizer_claims({}) is None


@pytest.mark.parametrize(
    ("issued_at", "revoked_before", "revoked"),
    [(100, None, False), (100, 100, True), (99, 100, True), (101, 100, False)],
)
def test_a_token_issued_up_to_the_revocation_second_is_void(
    issued_at: int, revoked_before: int | None, revoked: bool
) -> None:
    assert is_revoked(issued_at, revoked_before) is revoked
