"""Who is calling, and may they: the caller from the HTTP API's JWT authorizer, and the roles.

Tokens are Amazon Cognito's and are verified by API Gateway's JWT authorizer before a function
runs (template.yaml, HttpApi Auth); no function verifies a signature. A function reads the
verified claims from ``requestContext.authorizer.jwt.claims``, where API Gateway passes every
claim as a string (arrays as ``"[admin crew]"``, numbers as ``"1764460800"``).

The roles are the user pool's groups. ``crew`` may list events, log payments and see an event's
payments and totals; ``admin`` may do all of that and more. The check is ``require_role``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.errors import Forbidden, Unauthorized


class Role(StrEnum):
    ADMIN = "admin"
    CREW = "crew"


# What each role may do beyond the ones below it: an admin is also crew.
_IMPLIES: Mapping[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset({Role.ADMIN, Role.CREW}),
    Role.CREW: frozenset({Role.CREW}),
}

SIGN_IN_AGAIN = "Your session has ended; sign in again"


@dataclass(frozen=True)
class Caller:
    """A signed-in person, as the verified ID token names them."""

    sub: str
    email: str
    groups: frozenset[str]
    issued_at: int  # the token's `iat`, epoch seconds: revocation compares against it

    @property
    def roles(self) -> frozenset[Role]:
        granted: set[Role] = set()
        for role in Role:
            if role.value in self.groups:
                granted |= _IMPLIES[role]
        return frozenset(granted)

    @property
    def role(self) -> Role | None:
        """The highest role held (admin over crew), or None for a person in neither group."""
        roles = self.roles
        return next((role for role in Role if role in roles), None)

    def has(self, role: Role) -> bool:
        return role in self.roles


def require_role(caller: Caller, role: Role) -> None:
    """The one role check: a signed-in person without `role` gets a 403."""
    if not caller.has(role):
        raise Forbidden(f"This needs the {role.value} role; ask an admin")


def parse_groups(value: Any) -> frozenset[str]:
    """`cognito:groups` in every form it arrives in: API Gateway's "[admin crew]", a JSON
    array's text, a list (a token's own payload), or one bare name."""
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple):
        return frozenset(str(item) for item in value if str(item))
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return frozenset(str(item) for item in parsed if str(item))
        text = text[1:-1]
    return frozenset(part for part in text.replace(",", " ").split() if part)


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    """The caller an authorizer-verified claim set names; Unauthorized when it names nobody
    (an access token has no e-mail: the API takes the ID token that sign-in returns)."""
    sub = str(claims.get("sub") or "").strip()
    email = str(claims.get("email") or "").strip().lower()
    token_use = str(claims.get("token_use") or "id")
    if not sub or not email or token_use != "id":  # noqa: S105 - a claim value, not a secret
        raise Unauthorized("Send the ID token that /api/auth/login returns")
    try:
        issued_at = int(str(claims.get("iat") or "0"))
    except ValueError:
        raise Unauthorized(SIGN_IN_AGAIN) from None
    return Caller(
        sub=sub,
        email=email,
        groups=parse_groups(claims.get("cognito:groups")),
        issued_at=issued_at,
    )


def authorizer_claims(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JWT authorizer's verified claims in an HTTP API (payload 2.0) event, if any."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    return claims if isinstance(claims, Mapping) else None
