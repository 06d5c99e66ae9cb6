"""Test support for the integration suite: template-driven routing, faithful HTTP API v2 events,
DynamoDB call accounting and the assertions every error test shares.

The handlers run in-process against moto. What the template says is read from the template:
which function serves which route, and each function's environment (with every `!Ref` resolved
the way CloudFormation would resolve it for this test stack).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote, urlencode

from boto3.dynamodb.types import TypeDeserializer

from shared.ids import new_payment_id
from tests.handlers import load_handler

ADMIN_EMAIL = "admin@scc.example"
ADMIN_PASSWORD = "correct horse battery staple"
CREW_EMAIL = "deckhand@scc.example"
CREW_PASSWORD = "rope and anchor and sail"
TABLE_LOGICAL_ID = "PaymentsTable"
TABLE_NAME = "scc-it-PaymentsTable-TEST"
PROJECTION_LOGICAL_ID = "ProjectionTable"
PROJECTION_TABLE_NAME = "scc-it-ProjectionTable-TEST"
REVOCATIONS_LOGICAL_ID = "RevocationsTable"
REVOCATIONS_TABLE_NAME = "scc-it-RevocationsTable-TEST"
ALLOWED_ORIGIN = "http://localhost:8000"

# A request body that the API accepts; tests derive the bad ones from it.
VALID_PAYMENT: dict[str, Any] = {
    "patron_name": "Ada Lovelace",
    "amount": "150.00",
    "payment_method": "cash",
}

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class Adapters:
    """The SDK session and DynamoDB client a handler module builds its adapters from at cold
    start, here the test's (on its moto, with its call accounting)."""

    session: Any
    dynamodb: Any


def load_api_handler(module: str, environment: Mapping[str, str], adapters: Adapters) -> Handler:
    """The `lambda_handler` of the module template.yaml names, imported with the function's
    environment as Lambda would, on the test's clients."""
    loaded = load_handler(module, environment, session=adapters.session, dynamodb=adapters.dynamodb)
    return cast(Handler, loaded.lambda_handler)


_WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
_READ_OPERATIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "ExecuteStatement"}
)


# --- the template ----------------------------------------------------------------------------


def routes_from_events(sam_template: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(METHOD, path template) -> logical id of the function whose HttpApi event declares it."""
    routes: dict[tuple[str, str], str] = {}
    for logical_id, resource in (sam_template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            properties = event.get("Properties", {})
            key = (str(properties["Method"]).upper(), str(properties["Path"]))
            assert key not in routes, f"route {key} is declared twice in the template"
            routes[key] = logical_id
    return routes


def function_environment(
    translated: Mapping[str, Any],
    logical_id: str,
    parameters: Mapping[str, str],
    physical_ids: Mapping[str, str],
) -> dict[str, str]:
    """A function's environment as Lambda would see it: every `Ref` resolved to a string."""
    resources = translated["Resources"]
    declared = declared_environment(
        translated,
        resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {}),
        parameters,
    )
    template_parameters = translated.get("Parameters") or {}

    def resolve(name: str, value: Any) -> str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, dict) and set(value) == {"Ref"}:
            ref = value["Ref"]
            if ref in parameters:
                return str(parameters[ref])
            if ref in template_parameters and "Default" in template_parameters[ref]:
                return str(template_parameters[ref]["Default"])
            if ref in physical_ids:
                return physical_ids[ref]
        raise AssertionError(f"{logical_id}: cannot resolve {name}={value!r} for the test stack")

    return {name: resolve(name, value) for name, value in declared.items()}


def handler_path(translated: Mapping[str, Any], logical_id: str) -> str:
    return str(translated["Resources"][logical_id]["Properties"]["Handler"])


# --- DynamoDB accounting -----------------------------------------------------------------------


@dataclass
class DynamoCalls:
    """Every DynamoDB API call a client makes (one entry per call, not per HTTP retry)."""

    operations: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # the table of each call, in order
    failed_conditions: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def reset(self) -> None:
        self.operations.clear()
        self.tables.clear()
        self.failed_conditions.clear()

    @property
    def writes(self) -> list[str]:
        return [op for op in self.operations if op in _WRITE_OPERATIONS]

    @property
    def reads(self) -> list[str]:
        return [op for op in self.operations if op in _READ_OPERATIONS]

    def _before(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        # provide-client-params: once per API call, with the caller's own parameters.
        self.operations.append(model.name)
        self.tables.append(str(params.get("TableName", "")))

    def reads_on(self, table_name: str) -> list[str]:
        return [
            op
            for op, table in zip(self.operations, self.tables, strict=True)
            if op in _READ_OPERATIONS and table == table_name
        ]

    def _after(self, model: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        code = (parsed.get("Error") or {}).get("Code")
        if code == "ConditionalCheckFailedException":
            self.failed_conditions.append(model.name)


_deserializer = TypeDeserializer()


def scan_items(
    client: Any, table_name: str, key: tuple[str, ...] = ("pk", "sk")
) -> list[dict[str, Any]]:
    """Every item in the table, deserialised and in key order (a snapshot to compare)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.extend(
            {k: _deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"]
        )
        if not page.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: tuple(str(item[name]) for name in key))


# --- HTTP API v2 events ------------------------------------------------------------------------


@dataclass(frozen=True)
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass(frozen=True)
class Reply:
    """What the gateway would send back. Unpacks as (status, body, headers)."""

    status: int
    body: Any
    headers: dict[str, str]
    raw: str

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.body, self.headers))


_UNSET: Any = object()


def build_event(
    method: str,
    route_template: str,
    *,
    path_params: Mapping[str, str] | None = None,
    body: Any = _UNSET,
    raw_body: str | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str | list[str]] | None = None,
    token: str | None = None,
    is_base64: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event, as the gateway builds it.

    Path parameters arrive decoded in `pathParameters` and percent-encoded in `rawPath`; repeated
    query parameters are joined with commas in `queryStringParameters`; header names are lower
    case; requests without a body have no `body` key.
    """
    method = method.upper()
    params = dict(path_params or {})
    raw_path = route_template
    for name, value in params.items():
        raw_path = raw_path.replace("{" + name + "}", quote(value, safe=""))
    assert "{" not in raw_path, f"missing path parameter for {route_template}"

    text: str | None
    if raw_body is not None:
        text = raw_body
    elif body is not _UNSET:
        text = json.dumps(body)
    else:
        text = None

    all_headers: dict[str, str] = {
        "accept": "application/json",
        "host": "api1234567.execute-api.us-east-1.amazonaws.com",
        "user-agent": "pytest-integration",
        "x-forwarded-proto": "https",
    }
    if text is not None:
        all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(text.encode("utf-8")))
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    for name, value in (headers or {}).items():
        if value is None:
            all_headers.pop(name.lower(), None)
        else:
            all_headers[name.lower()] = value

    query_pairs: list[tuple[str, str]] = []
    for name, value in (query or {}).items():
        for single in value if isinstance(value, list) else [value]:
            query_pairs.append((name, single))
    joined: dict[str, str] = {}
    for name, value in query_pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value

    now = datetime.now(UTC)
    route_key = f"{method} {route_template}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": urlencode(query_pairs),
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1234567",
            "domainName": "api1234567.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api1234567",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": all_headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if joined:
        event["queryStringParameters"] = joined
    if params:
        event["pathParameters"] = params
    if text is not None:
        event["body"] = (
            base64.b64encode(text.encode("utf-8")).decode("ascii") if is_base64 else text
        )
    return event


# (route key, lower-case headers) -> the authorizer context for the event, None for a public
# route; raises Denied when the template's JWT authorizer refuses the request.
Authorize = Callable[[str, Mapping[str, str]], dict[str, Any] | None]


class Denied(Exception):
    """The JWT authorizer refused the request (API Gateway answers 401 itself)."""


@dataclass
class People:
    """The test pool: its client, the two people every test starts with, a second pool."""

    cognito: Any
    user_pool_id: str
    client_id: str
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    crew_email: str = CREW_EMAIL
    crew_password: str = CREW_PASSWORD
    sign_with_pool_key: Callable[[dict[str, Any]], str] = field(default=lambda claims: "")
    other_pool_token: Callable[[], str] = field(default=lambda: "")


class Api:
    """Calls the handlers the way the HTTP API would: the template's JWT authorizer first, then
    the function the template routes to."""

    def __init__(
        self,
        *,
        routes: Mapping[tuple[str, str], str],
        public_routes: set[tuple[str, str]],
        handlers: Mapping[str, Handler],
        contexts: Mapping[str, LambdaContext],
        ddb: Any,
        table_name: str,
        projection_table_name: str,
        revocations_table_name: str,
        calls: DynamoCalls,
        authorize: Authorize,
        people: People,
        s3: Any = None,
    ) -> None:
        self.routes = routes
        self.public_routes = public_routes
        self._handlers = handlers
        self._contexts = contexts
        self.ddb = ddb
        self.table_name = table_name
        self.projection_table_name = projection_table_name
        self.revocations_table_name = revocations_table_name
        self.calls = calls
        self._authorize = authorize
        self.people = people
        self.s3 = s3
        self.last_event: dict[str, Any] | None = None

    def function_for(self, method: str, route_template: str) -> str:
        key = (method.upper(), route_template)
        assert key in self.routes, f"{key} is not a route of template.yaml"
        return self.routes[key]

    def call(self, method: str, route_template: str, **kwargs: Any) -> Reply:
        logical_id = self.function_for(method, route_template)
        event = build_event(method, route_template, **kwargs)
        try:
            context = self._authorize(event["routeKey"], event["headers"])
        except Denied:
            body = '{"message":"Unauthorized"}'
            return Reply(401, json.loads(body), {"content-type": "application/json"}, body)
        if context is not None:
            event["requestContext"]["authorizer"] = context
        return self._invoke(logical_id, event)

    def invoke_without_authorizer(self, method: str, route_template: str, **kwargs: Any) -> Reply:
        """The function alone, as `sam local invoke` runs it: no authorizer context at all."""
        logical_id = self.function_for(method, route_template)
        return self._invoke(logical_id, build_event(method, route_template, **kwargs))

    def _invoke(self, logical_id: str, event: dict[str, Any]) -> Reply:
        self.last_event = event
        response = self._handlers[logical_id](event, self._contexts[logical_id])
        raw = response.get("body") or ""
        if response.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
        headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
        is_json = headers.get("content-type", "application/json").startswith("application/json")
        parsed = json.loads(raw) if raw and is_json else raw
        return Reply(int(response["statusCode"]), parsed, headers, raw)

    # --- people ---------------------------------------------------------------------------

    @property
    def admin_email(self) -> str:
        return self.people.admin_email

    @property
    def admin_password(self) -> str:
        return self.people.admin_password

    @property
    def crew_password(self) -> str:
        return self.people.crew_password

    def sign_in(self, email: str, password: str) -> Reply:
        return self.call("POST", "/api/auth/login", body={"email": email, "password": password})

    def login(self, email: str = ADMIN_EMAIL, password: str | None = None) -> str:
        if password is None:
            password = self.admin_password if email == self.admin_email else self.crew_password
        reply = self.sign_in(email, password)
        assert reply.status == 200, reply.raw
        assert reply.body["status"] == "signed_in", reply.raw
        return str(reply.body["token"])

    def person_id(self, email: str) -> str:
        user = self.people.cognito.admin_get_user(
            UserPoolId=self.people.user_pool_id, Username=email
        )
        return str(user["Username"])

    def id_token_claims(self, **changes: Any) -> dict[str, Any]:
        """Claims of an admin ID token from this pool (for tokens a test forges)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": self.person_id(self.admin_email),
            "email": self.admin_email,
            "cognito:groups": ["admin"],
            "token_use": "id",
            "aud": self.people.client_id,
            "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{self.people.user_pool_id}",
            "iat": now,
            "auth_time": now,
            "exp": now + 900,
        }
        claims.update(changes)
        return claims

    def sign_as_cognito(self, claims: dict[str, Any]) -> str:
        """A token signed with the pool's real key (so only the claims can make it wrong)."""
        return self.people.sign_with_pool_key(claims)

    def other_pool_token(self) -> str:
        return self.people.other_pool_token()

    def snapshot(self) -> dict[str, Any]:
        """Everything a request could change: both tables and who is in the pool, as what."""
        cognito = self.people.cognito
        pool = self.people.user_pool_id
        users = cognito.list_users(UserPoolId=pool)["Users"]
        people = sorted(
            (
                str(u["Username"]),
                bool(u["Enabled"]),
                str(u["UserStatus"]),
                tuple(
                    sorted(
                        g["GroupName"]
                        for g in cognito.admin_list_groups_for_user(
                            UserPoolId=pool, Username=u["Username"]
                        )["Groups"]
                    )
                ),
            )
            for u in users
        )
        return {
            "ledger": self.table_items(),
            "revocations": scan_items(self.ddb, self.revocations_table_name, key=("sub",)),
            "people": people,
        }

    # --- conveniences ---------------------------------------------------------------------

    def log_payment(self, event_id: str, body: Mapping[str, Any], token: str) -> Reply:
        return self.call(
            "POST",
            "/api/g/{event_id}/payment",
            path_params={"event_id": event_id},
            body=dict(body),
            token=token,
        )

    def payments(self, event_id: str, token: str, **query: str) -> Reply:
        return self.call(
            "GET",
            "/api/g/{event_id}/payments",
            path_params={"event_id": event_id},
            token=token,
            query=query or None,
        )

    def table_items(self) -> list[dict[str, Any]]:
        return scan_items(self.ddb, self.table_name)

    def payment_items(self) -> list[dict[str, Any]]:
        return [i for i in self.table_items() if str(i["sk"]).startswith("PAYMENT#")]


# --- shared assertions -------------------------------------------------------------------------


def assert_error(reply: Reply, status: int, field: str | None = None) -> dict[str, Any]:
    """The error contract: JSON `{"status":"error","error":{"code","message","fields"}}`,
    naming the offending field, and never a stack trace."""
    assert reply.status == status, f"expected {status}, got {reply.status}: {reply.raw}"
    assert reply.headers.get("content-type", "").startswith("application/json"), reply.headers
    assert "Traceback" not in reply.raw
    assert 'File "' not in reply.raw
    assert isinstance(reply.body, dict), reply.raw
    assert set(reply.body) == {"status", "error"}, reply.raw
    assert reply.body["status"] == "error"
    error = reply.body["error"]
    assert {"code", "message", "fields"} <= set(error), reply.raw
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["fields"], dict)
    if field is not None:
        assert field in error["fields"], f"{field!r} not named in {error['fields']}"
        assert isinstance(error["fields"][field], str)
        assert error["fields"][field]
    return dict(error)


def payment_body(**changes: Any) -> dict[str, Any]:
    """VALID_PAYMENT with fields changed; a value of `DROP` removes the field."""
    body = dict(VALID_PAYMENT)
    for name, value in changes.items():
        if value is DROP:
            body.pop(name, None)
        else:
            body[name] = value
    return body


DROP: Any = object()


def new_uuid7(millis: int | None = None) -> str:
    return new_payment_id(millis if millis is not None else int(time.time() * 1000))


# --- template conditions -----------------------------------------------------------------------

NO_VALUE = object()  # what `!Ref AWS::NoValue` resolves to: the property is left out


def evaluate_conditions(
    template: Mapping[str, Any], parameters: Mapping[str, str]
) -> dict[str, bool]:
    """The template's Conditions for these parameter values, as CloudFormation evaluates them
    (Fn::Equals/Not/And/Or, Condition, Ref to a parameter or its Default)."""
    declared = template.get("Parameters") or {}
    raw = template.get("Conditions") or {}
    done: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            name = node["Ref"]
            if name in parameters:
                return str(parameters[name])
            return str(declared[name].get("Default", ""))
        return node

    def condition(name: str) -> bool:
        if name not in done:
            done[name] = evaluate(raw[name])
        return done[name]

    def evaluate(node: Any) -> bool:
        (function, argument), *_ = node.items()
        if function == "Fn::Equals":
            return bool(value(argument[0]) == value(argument[1]))
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function == "Fn::And":
            return all(evaluate(a) for a in argument)
        if function == "Fn::Or":
            return any(evaluate(a) for a in argument)
        if function == "Condition":
            return condition(argument)
        raise AssertionError(f"unsupported condition function {function}")

    return {name: condition(name) for name in raw}


def choose(value: Any, conditions: Mapping[str, bool]) -> Any:
    """`value` with every Fn::If decided; NO_VALUE where it resolves to AWS::NoValue."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        return choose(when_true if conditions[name] else when_false, conditions)
    if isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}:
        return NO_VALUE
    return value


def declared_environment(
    template: Mapping[str, Any], variables: Mapping[str, Any], parameters: Mapping[str, str]
) -> dict[str, Any]:
    """`variables` with conditions applied: variables that resolve to NoValue are dropped."""
    conditions = evaluate_conditions(template, parameters)
    chosen = {name: choose(value, conditions) for name, value in variables.items()}
    return {name: value for name, value in chosen.items() if value is not NO_VALUE}
