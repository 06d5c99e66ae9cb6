"""`make verify` suite: the auth matrix against the running local stack.

Every route of the served `/api/openapi.json` that needs a signed-in caller (`security`) gets
one request per kind of caller who must be refused, with real ids in its path (an event, a
payment and a person made for the run) and a valid body, so that nothing but the caller can be
the reason for a refusal:

- no token, a garbage token, an expired one, one signed with another key, one with no signature
  (`alg: none`), one for another app client (audience), one from another issuer, and the access
  token instead of the ID token: each must be refused with 401 (`unauthorised_accepted` counts
  the 2xx answers);
- a signed-in person in no group on every signed-in route, and the crew member on every route
  whose `x-scc-role` is admin: each must be refused with 403 (`forbidden_accepted` counts the
  2xx answers).

Last, the admin sends the same request, which must succeed: a route that refuses even that
request would hide an accepted caller, so the run stops there with an error.

`routes` is the number of signed-in routes checked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.api_client import HttpReply, http, id_token_claims, sign_token, unsigned_token, uuid7
from tests.e2e.stack_process import StackProcess
from tests.verify.support import (
    Contract,
    Operation,
    People,
    create_event,
    invite_person,
    log_payment,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resources:
    event_id: str
    payment_id: str
    person_id: str

    def path(self) -> dict[str, str]:
        return {
            "event_id": self.event_id,
            "payment_id": self.payment_id,
            "person_id": self.person_id,
        }


# A valid body per route (None: the route takes none); a route missing here gets `{}`, which a
# route that needs fields refuses with 400 only after the caller is accepted.
_BODIES: Mapping[str, Callable[[Resources], Any]] = {
    "POST /api/events": lambda made: {
        "event_name": f"Matrix {uuid7()[-12:]}",
        "date": "2026-05-23",
    },
    "POST /api/g/{event_id}/payment": lambda made: {
        "patron_name": "Matrix Patron",
        "amount": "1.00",
        "payment_method": "cash",
    },
    "POST /api/payment/log": lambda made: {
        "event_id": made.event_id,
        "patron_name": "Matrix Patron",
        "amount": "1.00",
        "payment_method": "cash",
    },
    "POST /api/g/{event_id}/payments/{payment_id}/void": lambda made: {"reason": "matrix check"},
    "POST /api/g/{event_id}/closeouts": lambda made: {
        "counted": {"cash": "0", "card": "0", "check": "0", "venmo": "0", "other": "0"},
        "note": "matrix check",
    },
    "POST /api/people": lambda made: {
        "email": f"matrix-{uuid7()[-12:]}@scc.local",
        "name": "Matrix",
        "role": "crew",
    },
    "POST /api/people/{person_id}/role": lambda made: {"role": "crew"},
    "POST /api/people/{person_id}/disable": lambda made: None,
    "POST /api/people/{person_id}/enable": lambda made: None,
}
_QUERIES = {"GET /api/payments.csv": "from=2026-01-01&to=2026-12-31"}


def run(stack: StackProcess) -> dict[str, int]:
    contract = Contract.served_by(stack)
    people = People(stack)
    admin = people.token("admin")
    event_id = create_event(stack, admin, "matrix")
    made = Resources(
        event_id=event_id,
        payment_id=log_payment(stack, admin, event_id),
        person_id=invite_person(stack, admin, "matrix"),
    )
    refused_kinds = _unauthorised_tokens(stack, people)
    crew = people.token("crew")
    no_role = sign_token(id_token_claims(stack, stack.crew_email, groups=()))
    figures = {"routes": 0, "unauthorised_accepted": 0, "forbidden_accepted": 0}
    for operation in contract.operations:
        if not operation.signed_in:
            continue
        figures["routes"] += 1
        for kind, token in refused_kinds.items():
            reply = _call(stack, operation, made, token)
            if reply.status != 401:
                _note(operation, kind, reply, expected=401)
            if 200 <= reply.status < 300:
                figures["unauthorised_accepted"] += 1
        forbidden = {"no role": no_role}
        if operation.role == "admin":
            forbidden["crew"] = crew
        for kind, token in forbidden.items():
            reply = _call(stack, operation, made, token)
            if reply.status != 403:
                _note(operation, kind, reply, expected=403)
            if 200 <= reply.status < 300:
                figures["forbidden_accepted"] += 1
        # The control, last (it may void the payment or disable the person): the same request
        # from the admin succeeds, so none of the refusals above was the request's own fault.
        control = _call(stack, operation, made, admin)
        if not 200 <= control.status < 300:
            raise RuntimeError(
                f"{operation.key} as admin answered {control.status} ({control.raw[:200]!r}): "
                "the matrix cannot tell a refused caller from a refused request"
            )
    log.info("auth matrix: %s", figures)
    return figures


def _unauthorised_tokens(stack: StackProcess, people: People) -> dict[str, str | None]:
    """Caller kinds the JWT authorizer (or the guard) must refuse, by name."""
    now = int(time.time())
    email = stack.crew_email
    details = stack.details()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_issuer = str(details["issuer"]).rsplit("/", 1)[0] + "/us-east-1_someoneelse"
    return {
        "no token": None,
        "garbage": "not-a-jwt",
        "expired": sign_token(id_token_claims(stack, email, iat=now - 3600, exp=now - 60)),
        "another key": sign_token(id_token_claims(stack, email), key=other_key),
        "no signature": unsigned_token(id_token_claims(stack, email)),
        "another audience": sign_token(id_token_claims(stack, email, aud="another-app-client")),
        "another issuer": sign_token(id_token_claims(stack, email, iss=other_issuer)),
        "access token": people.access_token("admin"),
    }


def _call(
    stack: StackProcess, operation: Operation, made: Resources, token: str | None
) -> HttpReply:
    url = operation.url(stack.url, **made.path())
    query = _QUERIES.get(operation.key)
    if query:
        url = f"{url}?{query}"
    body = (
        _BODIES.get(operation.key, lambda _: {})(made)
        if operation.method in ("POST", "PUT", "PATCH")
        else None
    )
    if body is None:
        return http(url, operation.method, token=token)
    return http(url, operation.method, body=body, token=token)


def _note(operation: Operation, kind: str, reply: HttpReply, *, expected: int) -> None:
    log.warning(
        "auth matrix: %s with %s answered %d, not %d: %r",
        operation.key,
        kind,
        reply.status,
        expected,
        reply.raw[:200],
    )
