"""What the `make verify` suites share: the served OpenAPI document as a contract to check
answers against, the ledger's item count on the stack's moto, signed-in people and the real
resources (an event, a payment, a person) whose ids fill path parameters."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jsonschema

from tests.e2e.api_client import HttpReply, http, moto_client, sign_in_as, uuid7
from tests.e2e.stack_process import StackProcess

OPENAPI_PATH = "/api/openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")
# The ledger's logical ids in the template: requests write there and nowhere else in DynamoDB
# (the projector writes summaries from its stream, revocations are their own table).
LEDGER_LOGICAL_IDS = ("LedgerTable", "PaymentsTable")
# ID tokens live 15 minutes; a long run signs in again before one runs out.
TOKEN_REFRESH_SECONDS = 10 * 60


# --- the contract: what the served document says each route answers -----------------------


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # the template, e.g. /api/g/{event_id}/payment
    spec: Mapping[str, Any]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def role(self) -> str | None:
        role = self.spec.get("x-scc-role")
        return None if role is None else str(role)

    @property
    def signed_in(self) -> bool:
        return bool(self.spec.get("security"))

    @property
    def statuses(self) -> set[int]:
        return {int(status) for status in self.spec.get("responses", {})}

    def url(self, base: str, **path_parameters: str) -> str:
        def fill(match: re.Match[str]) -> str:
            return quote(path_parameters[match.group(1)], safe="")

        return base + re.sub(r"\{([^}]+)\}", fill, self.path)


class Contract:
    """The served OpenAPI document, and whether it describes an answer."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.operations = [
            Operation(method.upper(), path, item[method])
            for path, item in document.get("paths", {}).items()
            for method in METHODS
            if method in item
        ]
        self._by_key = {operation.key: operation for operation in self.operations}

    @classmethod
    def served_by(cls, stack: StackProcess) -> Contract:
        reply = http(stack.url + OPENAPI_PATH)
        if reply.status != 200:
            raise RuntimeError(f"GET {OPENAPI_PATH} answered {reply.status}: {reply.raw[:200]!r}")
        return cls(reply.json)

    def operation(self, key: str) -> Operation:
        return self._by_key[key]

    def problem(self, operation: Operation, reply: HttpReply) -> str | None:
        """Why the document does not describe this answer (None: it does)."""
        response = operation.spec.get("responses", {}).get(str(reply.status))
        if response is None:
            return f"{operation.key}: {reply.status} is not documented"
        media_type = reply.header("content-type").split(";")[0].strip().lower()
        content = response.get("content") or {}
        if media_type not in content:
            return f"{operation.key}: {reply.status} as {media_type or 'no content type'} is not documented"
        if media_type != "application/json":
            return None
        try:
            body = json.loads(reply.raw)
        except ValueError:
            return f"{operation.key}: {reply.status} body is not JSON"
        schema = {
            **content[media_type].get("schema", {}),
            "components": self.document["components"],
        }
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(body)
        )
        if error is not None:
            return f"{operation.key}: {reply.status} body does not match its schema: {error.message[:300]}"
        return None


# --- the ledger on the stack's moto --------------------------------------------------------


def ledger_table_names(stack: StackProcess) -> list[str]:
    details = stack.details()
    tables: Mapping[str, str] = details.get("tables") or {}
    names = [tables[logical] for logical in LEDGER_LOGICAL_IDS if logical in tables]
    if not names and details.get("table_name"):
        names = [str(details["table_name"])]
    if not names:
        raise RuntimeError(f"the stack file names no ledger table: {sorted(tables)}")
    return names


class Ledger:
    """The ledger items on the stack's moto, counted or listed by key."""

    def __init__(self, stack: StackProcess) -> None:
        self._client = moto_client(stack, "dynamodb")
        self._tables = ledger_table_names(stack)

    def _pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for table in self._tables:
            request: dict[str, Any] = {"TableName": table, "ConsistentRead": True, **kwargs}
            while True:
                page = self._client.scan(**request)
                yield page
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def count(self) -> int:
        return sum(int(page["Count"]) for page in self._pages(Select="COUNT"))

    def keys(self) -> set[tuple[str, str]]:
        return {
            (item["pk"]["S"], item["sk"]["S"])
            for page in self._pages(ProjectionExpression="pk, sk")
            for item in page.get("Items", [])
        }


def item_id(key: tuple[str, str]) -> str:
    """The id an item is known by in the API: the event's for its META item, else the one after
    the sort key's prefix (PAYMENT#<payment_id>, VOID#<payment_id>, CLOSEOUT#<closeout_id>)."""
    pk, sk = key
    return pk.split("#", 1)[-1] if "#" not in sk else sk.split("#", 1)[1]


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON value (the ids a response names)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


# --- people and resources --------------------------------------------------------------------


@dataclass
class People:
    """The stack's admin and crew member, signed in again before their ID tokens run out."""

    stack: StackProcess
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def token(self, role: str) -> str:
        cached = self._tokens.get(role)
        if cached is None or time.monotonic() - cached[1] > TOKEN_REFRESH_SECONDS:
            if role == "admin":
                email, password = self.stack.admin_email, self.stack.admin_password
            else:
                email, password = self.stack.crew_email, self.stack.crew_password
            cached = (sign_in_as(self.stack, email, password).token, time.monotonic())
            self._tokens[role] = cached
        return cached[0]

    def access_token(self, role: str) -> str:
        email = self.stack.admin_email if role == "admin" else self.stack.crew_email
        password = self.stack.admin_password if role == "admin" else self.stack.crew_password
        return sign_in_as(self.stack, email, password).access_token


def _created(reply: HttpReply, what: str) -> Any:
    if reply.status != 201:
        raise RuntimeError(f"could not create {what}: {reply.status} {reply.raw[:300]!r}")
    return reply.json


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def create_event(stack: StackProcess, admin_token: str, label: str) -> str:
    """A new event (unique per call); its id."""
    body = {"event_name": f"Verify {label} {uuid7()[-12:]}", "date": _today()}
    reply = http(stack.url + "/api/events", "POST", body=body, token=admin_token)
    return str(_created(reply, "an event")["event_id"])


def log_payment(stack: StackProcess, token: str, event_id: str) -> str:
    """A new cash payment of 12.50 in the event; its id."""
    body = {"patron_name": "Verify Patron", "amount": "12.50", "payment_method": "cash"}
    url = f"{stack.url}/api/g/{quote(event_id, safe='')}/payment"
    return str(_created(http(url, "POST", body=body, token=token), "a payment")["payment_id"])


def invite_person(stack: StackProcess, admin_token: str, label: str) -> str:
    """A newly invited crew member (a person no check may harm); their person id."""
    body = {"email": f"verify-{label}-{uuid7()[-12:]}@scc.local", "name": "Verify", "role": "crew"}
    reply = http(stack.url + "/api/people", "POST", body=body, token=admin_token)
    return str(_created(reply, "a person")["person_id"])
