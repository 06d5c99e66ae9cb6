"""The local stack's JWT authorizer end to end, over HTTP: every non-public route refuses every
kind of bad token with a 401 and changes nothing.

The routes come from the API's own document (`GET /api/openapi.json`), or from template.yaml
when the document does not list them; which of them are public comes from the document's
`security` when it has any, else from the template's authorizer settings. Each kind of bad
token is tried on every protected route with a body that would write if it got through, and
the stack's data (ledger, revocations, the user pool's people) is compared before and after.

An access token passes the authorizer (its `client_id` is the audience) but names nobody (no
e-mail): the function must refuse it. Crew on admin routes (403) and disabled people are
tested with the people screens; the `sign_in_person` fixture signs anyone in for those.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from boto3.dynamodb.types import TypeDeserializer
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.cognito import add_person
from devstack.template import load_template, routes_from_translated, translate
from tests.e2e.api_client import (
    HttpReply,
    SignedIn,
    http,
    id_token_claims,
    moto_client,
    person_sub,
    sign_token,
    unsigned_token,
    uuid7,
)
from tests.e2e.stack_process import StackProcess, new_password

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
_PARAMETER = re.compile(r"\{([^}]+)\}")
# Items the stream consumers derive from the ledger (totals, applied markers): they follow
# earlier tests' payments asynchronously, and they can only change if the ledger does.
_DERIVED_SORT_KEYS = ("SUMMARY", "APPLIED#")


@dataclass(frozen=True)
class ProtectedRoute:
    method: str
    path_template: str

    def __str__(self) -> str:
        return f"{self.method} {self.path_template}"


# --- which routes ------------------------------------------------------------------------------


def template_routes() -> dict[tuple[str, str], str | None]:
    """(METHOD, path) -> authorizer name (None: public), as template.yaml declares them."""
    translated = translate(
        load_template(REPO_ROOT / "template.yaml"),
        {"AdminEmail": "routes@scc.local", "AllowedOrigin": "http://127.0.0.1"},
    )
    return {(r.method, r.path_template): r.authorizer for r in routes_from_translated(translated)}


def document_routes(document: Mapping[str, Any]) -> dict[tuple[str, str], bool | None]:
    """(METHOD, path) -> public? from the OpenAPI document (None when it does not say)."""
    global_security = document.get("security")
    routes: dict[tuple[str, str], bool | None] = {}
    for path, operations in (document.get("paths") or {}).items():
        for method, operation in operations.items():
            if method.lower() not in ("get", "post", "put", "patch", "delete"):
                continue
            security = operation.get("security", global_security)
            public = None if security is None else (security == [] or {} in security)
            routes[method.upper(), path] = public
    return routes


@pytest.fixture(scope="module")
def protected_routes(local_stack: StackProcess) -> list[ProtectedRoute]:
    declared = template_routes()
    reply = http(local_stack.url + "/api/openapi.json")
    documented = document_routes(reply.json) if reply.status == 200 else {}
    if not documented:  # the document is not regenerated yet: the template says it all
        documented = dict.fromkeys(declared)
    routes = []
    for (method, path), public in sorted(documented.items()):
        if public is None:
            assert (method, path) in declared, f"{method} {path} is documented, not routed"
            public = declared[method, path] is None
        if not public:
            routes.append(ProtectedRoute(method, path))
    assert routes, "no protected routes found"
    return routes


def test_the_protected_routes_are_every_route_but_sign_in_health_and_the_document(
    protected_routes: list[ProtectedRoute],
) -> None:
    paths = {r.path_template for r in protected_routes}

    assert not any(p.startswith("/api/auth/") for p in paths)
    assert "/api/health" not in paths
    assert "/api/openapi.json" not in paths
    assert {"/api/events", "/api/people", "/api/g/{event_id}/payment"} <= paths


# --- what each request carries -----------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """Real things a request that got through would change."""

    event_id: str
    payment_id: str
    person_id: str


@pytest.fixture(scope="module")
def targets(local_stack: StackProcess) -> Targets:
    token = admin_token(local_stack)
    created = http(
        local_stack.url + "/api/events",
        "POST",
        token=token,
        body={"event_name": f"Authorizer Target {secrets.token_hex(3)}", "date": "2026-09-01"},
    )
    assert created.status == 201, created.raw
    event_id = created.json["event_id"]
    payment_id = uuid7()
    logged = http(
        f"{local_stack.url}/api/g/{event_id}/payment",
        "POST",
        token=token,
        body={
            "payment_id": payment_id,
            "patron_name": "Target Patron",
            "amount": "10.00",
            "payment_method": "cash",
        },
    )
    assert logged.status == 201, logged.raw
    return Targets(event_id, payment_id, person_sub(local_stack, local_stack.crew_email))


def admin_token(stack: StackProcess) -> str:
    reply = http(
        stack.url + "/api/auth/login",
        "POST",
        body={"email": stack.admin_email, "password": stack.admin_password},
    )
    assert reply.status == 200, reply.raw
    return str(reply.json["token"])


def concrete_path(route: ProtectedRoute, targets: Targets) -> str:
    values = {
        "event_id": targets.event_id,
        "payment_id": targets.payment_id,
        "person_id": targets.person_id,
    }
    return _PARAMETER.sub(lambda m: values.get(m.group(1), "some-id"), route.path_template)


def body_for(route: ProtectedRoute, targets: Targets) -> Any:
    """A body the route would act on (a write, for a command) if it let the request through."""
    if route.method == "GET":
        return None
    payment = {
        "payment_id": uuid7(),
        "patron_name": "Intruder",
        "amount": "1.00",
        "payment_method": "cash",
    }
    bodies: dict[str, Any] = {
        "/api/events": {"event_name": f"Intruder {secrets.token_hex(3)}", "date": "2026-09-02"},
        "/api/g/{event_id}/payment": payment,
        "/api/payment/log": {**payment, "event_id": targets.event_id},
        "/api/g/{event_id}/payments/{payment_id}/void": {"reason": "intruder"},
        "/api/people": {"email": "intruder@scc.example", "name": "Intruder", "role": "admin"},
        "/api/people/{person_id}/role": {"role": "admin"},
    }
    return bodies.get(route.path_template, {})


# --- what the stack holds ----------------------------------------------------------------------

_deserializer = TypeDeserializer()


def snapshot(stack: StackProcess) -> dict[str, Any]:
    """Everything a request could write: ledger and event items, revocations, and the user
    pool's people (status, enabled, groups)."""
    details = stack.details()
    ddb = moto_client(stack, "dynamodb")
    state: dict[str, Any] = {}
    for logical_id in ("PaymentsTable", "RevocationsTable"):
        items = scan(ddb, details["tables"][logical_id])
        if logical_id == "PaymentsTable":
            items = [i for i in items if not str(i.get("sk", "")).startswith(_DERIVED_SORT_KEYS)]
        state[logical_id] = sorted(json.dumps(i, sort_keys=True, default=str) for i in items)
    cognito = moto_client(stack, "cognito-idp")
    pool_id = details["user_pool_id"]
    people = []
    for user in cognito.list_users(UserPoolId=pool_id)["Users"]:
        groups = cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username=user["Username"])
        people.append(
            (
                user["Username"],
                user["Enabled"],
                user["UserStatus"],
                sorted(g["GroupName"] for g in groups["Groups"]),
            )
        )
    state["people"] = sorted(people)
    return state


def scan(ddb: Any, table_name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items += [{k: _deserializer.deserialize(v) for k, v in i.items()} for i in page["Items"]]
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the bad tokens ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_pool_token(local_stack: StackProcess) -> str:
    """A genuine ID token of the same person from another user pool in the same moto."""
    cognito = moto_client(local_stack, "cognito-idp")
    pool_id = cognito.create_user_pool(
        PoolName=f"someone-elses-{secrets.token_hex(3)}", UsernameAttributes=["email"]
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="theirs", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool_id, GroupName="admin")
    password = new_password()
    add_person(cognito, pool_id, local_stack.admin_email, password, group="admin")
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": local_stack.admin_email, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def bad_tokens(stack: StackProcess, other_pool: str) -> dict[str, str | None]:
    admin = stack.admin_email
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    past = id_token_claims(stack, admin)["iat"] - 7200
    return {
        "no token": None,
        "expired": sign_token(
            id_token_claims(stack, admin, iat=past, auth_time=past, exp=past + 900)
        ),
        "signed by another key": sign_token(id_token_claims(stack, admin), key=stranger_key),
        "alg none": unsigned_token(id_token_claims(stack, admin)),
        "another pool's token": other_pool,
        "another app client's token": sign_token(
            id_token_claims(stack, admin, aud="not-our-client")
        ),
    }


def send(
    stack: StackProcess, route: ProtectedRoute, targets: Targets, token: str | None
) -> HttpReply:
    return http(
        stack.url + concrete_path(route, targets),
        route.method,
        body=body_for(route, targets),
        token=token,
    )


@pytest.fixture
def unchanged(local_stack: StackProcess, targets: Targets) -> Callable[[], None]:
    """Call the fixture's value after the requests: the stack's data must be as before."""
    before = snapshot(local_stack)

    def check() -> None:
        after = snapshot(local_stack)
        for part in before:
            assert after[part] == before[part], f"{part} changed"

    return check


# --- the tests ---------------------------------------------------------------------------------


def test_a_token_signed_with_the_pools_key_is_accepted_so_the_forgeries_below_are_fair(
    local_stack: StackProcess,
) -> None:
    # Given a token made here exactly as the pool would issue it (the control case)
    token = sign_token(id_token_claims(local_stack, local_stack.admin_email))

    reply = http(local_stack.url + "/api/events", token=token)

    assert reply.status == 200, reply.raw


@pytest.mark.parametrize(
    "kind",
    [
        "no token",
        "expired",
        "signed by another key",
        "alg none",
        "another pool's token",
        "another app client's token",
    ],
)
def test_every_protected_route_refuses_a_bad_token_with_a_401_and_writes_nothing(
    local_stack: StackProcess,
    protected_routes: list[ProtectedRoute],
    targets: Targets,
    other_pool_token: str,
    unchanged: Callable[[], None],
    kind: str,
) -> None:
    # Given a bad token of one kind
    token = bad_tokens(local_stack, other_pool_token)[kind]

    # When it is sent to every protected route, with a body that would write
    replies = {str(r): send(local_stack, r, targets, token) for r in protected_routes}

    # Then each is API Gateway's 401, before any function ran
    wrong = {
        route: (reply.status, reply.raw[:120])
        for route, reply in replies.items()
        if reply.status != 401 or reply.json != {"message": "Unauthorized"}
    }
    assert not wrong, f"{kind}: {wrong}"
    for reply in replies.values():
        assert 'error="invalid_token"' in reply.header("www-authenticate")
        assert reply.header("apigw-requestid")
    # And nothing was written
    unchanged()


def test_an_access_token_passes_the_authorizer_but_every_function_refuses_it(
    local_stack: StackProcess,
    protected_routes: list[ProtectedRoute],
    targets: Targets,
    admin_session: SignedIn,
    unchanged: Callable[[], None],
) -> None:
    # Given a genuine access token of the admin (no aud, the client id in client_id, no e-mail)
    replies = {
        str(r): send(local_stack, r, targets, admin_session.access_token) for r in protected_routes
    }

    # Then every route answers 401 from the function itself (the project's error envelope)
    wrong = {
        route: (reply.status, reply.raw[:120])
        for route, reply in replies.items()
        if reply.status != 401 or reply.json.get("status") != "error"
    }
    assert not wrong, wrong
    unchanged()


def test_a_refused_request_gets_cors_headers_so_the_browser_can_read_the_401(
    local_stack: StackProcess,
) -> None:
    reply = http(local_stack.url + "/api/people", headers={"Origin": local_stack.url})

    assert reply.status == 401
    assert reply.header("access-control-allow-origin") == local_stack.url


def test_public_routes_answer_without_a_token(local_stack: StackProcess) -> None:
    assert http(local_stack.url + "/api/health").status == 200
    assert http(local_stack.url + "/api/openapi.json").status == 200
    wrong_password = http(
        local_stack.url + "/api/auth/login",
        "POST",
        body={"email": local_stack.admin_email, "password": "not the password at all"},
    )
    assert wrong_password.status == 401
    assert wrong_password.json.get("message") != "Unauthorized", (
        "the function answered, not the authorizer"
    )


def test_the_id_token_from_sign_in_is_accepted_until_the_clients_lifetime(
    local_stack: StackProcess, admin_session: SignedIn
) -> None:
    claims = jwt.decode(admin_session.token, options={"verify_signature": False})

    assert http(local_stack.url + "/api/events", token=admin_session.token).status == 200
    # The app client says 15 minutes (TokenValidityMinutes); moto alone would say an hour.
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["aud"] == local_stack.details()["user_pool_client_id"]
