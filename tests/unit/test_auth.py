from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.auth import bearer_token, hash_password, issue_token, verify_password, verify_token
from shared.errors import Unauthorized

KEY = "k" * 43
NOW = datetime(2026, 5, 23, 18, 0, tzinfo=UTC)


def test_a_password_verifies_only_against_its_own_hash() -> None:
    encoded = hash_password("correct horse battery", n=2**10)
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batter", encoded)
    assert not verify_password("correct horse battery", "garbage")
    assert not verify_password("x", "bcrypt$1$2$3$4$5")


def test_default_hash_uses_owasp_scrypt_parameters() -> None:
    scheme, n, r, p, _salt, _key = hash_password("pw").split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**17, 8, 1)


def test_two_hashes_of_one_password_differ_by_salt() -> None:
    assert hash_password("same", n=2**10) != hash_password("same", n=2**10)


def test_a_token_identifies_the_admin_it_was_issued_to() -> None:
    issued = issue_token("admin@scc.test", key=KEY, ttl_seconds=600, now=datetime.now(UTC))
    assert verify_token(issued.token, key=KEY).email == "admin@scc.test"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            issue_token("a@b.co", key=KEY, ttl_seconds=60, now=NOW - timedelta(days=1)).token,
            id="expired",
        ),
        pytest.param(
            issue_token("a@b.co", key="o" * 43, ttl_seconds=600, now=datetime.now(UTC)).token,
            id="other-key",
        ),
        pytest.param(
            jwt.encode(
                {
                    "sub": "a@b.co",
                    "exp": 4102444800,
                    "iat": 0,
                    "iss": "scc-payments",
                    "aud": "scc-admin",
                },
                key=None,
                algorithm="none",
            ),
            id="alg-none",
        ),
        pytest.param(
            jwt.encode(
                {"sub": "a@b.co", "exp": 4102444800, "iat": 0, "iss": "scc-payments", "aud": "x"},
                KEY,
                algorithm="HS256",
            ),
            id="wrong-audience",
        ),
        pytest.param(
            jwt.encode({"sub": "a@b.co", "iss": "scc-payments", "aud": "scc-admin", "iat": 0}, KEY),
            id="no-exp",
        ),
        pytest.param("not.a.token", id="garbage"),
    ],
)
def test_tokens_that_are_not_ours_or_expired_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        verify_token(token, key=KEY)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_a_missing_or_non_bearer_authorization_header_is_refused(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        bearer_token(header)
