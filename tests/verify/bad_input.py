"""`make verify` suite: bad input against the running local stack.

Two sources of requests, both checked against the OpenAPI document the stack serves:

- schemathesis generates requests for every operation of `/api/openapi.json` (valid ones and
  ones that break the schema), once signed in as the admin and once as the crew member, and
  checks each answer (not_a_server_error, status_code_conformance,
  response_schema_conformance);
- a list of hostile requests, sent as they are over HTTP: the amounts, texts, bodies, content
  types and ids the API must refuse (taken from the integration and e2e tests' cases).

Figures (every one but `requests` must be 0):
- `requests`: requests sent;
- `server_errors`: answers of 500 or more (or no answer at all);
- `undocumented_statuses`: other answers the document does not describe: a status it does not
  list for the route, or a body its schema for that status refuses;
- `writes_from_rejected_requests`: ledger items written by requests answered 4xx (for the
  hostile list: the ledger's item count around each request; for the generated requests: new
  items that no 2xx answer named, or more new items than 2xx writes).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.api_client import HttpReply, http, uuid7
from tests.e2e.stack_process import StackProcess
from tests.verify.support import (
    OPENAPI_PATH,
    Contract,
    Ledger,
    People,
    create_event,
    invite_person,
    item_id,
    log_payment,
    strings_in,
)

log = logging.getLogger(__name__)

ROLES = ("admin", "crew")
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Operations whose whole input space is smaller than their share run again (new random draws)
# until the run has sent `examples` requests; this bounds how often.
MAX_PASSES = 5
REQUEST_TIMEOUT_SECONDS = 30


@dataclass
class Tally:
    requests: int = 0
    server_errors: int = 0
    undocumented_statuses: int = 0
    writes_from_rejected_requests: int = 0
    findings: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # every answer, by status

    def figures(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "server_errors": self.server_errors,
            "undocumented_statuses": self.undocumented_statuses,
            "writes_from_rejected_requests": self.writes_from_rejected_requests,
        }

    def finding(self, text: str) -> None:
        self.findings.append(text)
        log.warning("bad input: %s", text)


def run(stack: StackProcess, *, examples: int) -> dict[str, int]:
    """Both parts against `stack`, with at least `examples` generated requests."""
    people = People(stack)
    tally = Tally()
    fuzz(stack, people, tally, examples=examples)
    hostile(stack, people, tally)
    log.info(
        "bad input: %s; answers by status %s", tally.figures(), dict(sorted(tally.statuses.items()))
    )
    return tally.figures()


# --- generated requests (schemathesis) -------------------------------------------------------


def fuzz(stack: StackProcess, people: People, tally: Tally, *, examples: int) -> None:
    schema = schemathesis.openapi.from_url(stack.url + OPENAPI_PATH)
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    admin = people.token("admin")
    event_id = create_event(stack, admin, "fuzz")
    real = {
        "event_id": event_id,
        "payment_id": log_payment(stack, admin, event_id),
        "person_id": invite_person(stack, admin, "fuzz"),
    }
    strategies = [
        (role, operation.as_strategy(generation_mode=mode))
        for role in ROLES
        for operation in operations
        for mode in MODES
    ]
    # Generated ids hardly ever name a real resource: the same operations again with real ids
    # in the path, so that generated bodies reach the ledger and the user pool too.
    strategies += [
        (role, operation.as_strategy(path_parameters=_real_ids(operation, real)))
        for role in ROLES
        for operation in operations
        if _real_ids(operation, real)
    ]
    share = max(1, math.ceil(examples / len(strategies)))
    ledger = Ledger(stack)
    before = ledger.keys()
    named: set[str] = set()
    writes = [0]
    session = requests.Session()
    start = tally.requests

    def send(role: str, case: Any) -> None:
        label = f"{case.operation.label} as {role}"
        tally.requests += 1
        try:
            response = case.call(
                session=session,
                headers={"Authorization": f"Bearer {people.token(role)}"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            tally.server_errors += 1
            tally.finding(f"{label}: no answer ({exc}): {case.as_curl_command()}")
            return
        status = response.status_code
        tally.statuses[status] += 1
        if status >= 500:
            tally.server_errors += 1
            tally.finding(f"{label}: {status} {response.text[:300]}: {case.as_curl_command()}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as failure:
            tally.undocumented_statuses += 1
            summary = " ".join(str(failure).split())[:400]
            tally.finding(f"{label}: {status}: {summary}: {case.as_curl_command()}")
        if 200 <= status < 300:
            if case.method.upper() == "POST":
                writes[0] += 1
            with contextlib.suppress(ValueError):  # a CSV export names no ledger item
                named.update(strings_in(response.json()))

    for _ in range(MAX_PASSES):
        for role, strategy in strategies:
            _explore(strategy, share, functools.partial(send, role))
        if tally.requests - start >= examples:
            break
    new = ledger.keys() - before
    unnamed = [key for key in new if item_id(key) not in named]
    excess = len(new) - writes[0]
    rejected_writes = max(len(unnamed), excess, 0)
    if rejected_writes:
        tally.finding(f"{rejected_writes} ledger items no 2xx answer accounts for: {unnamed}")
    tally.writes_from_rejected_requests += rejected_writes
    log.info(
        "bad input: %d generated requests wrote %d ledger items", tally.requests - start, len(new)
    )


def _real_ids(operation: Any, real: Mapping[str, str]) -> dict[str, str]:
    names = {parameter.name for parameter in operation.path_parameters}
    return {name: real[name] for name in names} if names and names <= set(real) else {}


def _explore(strategy: Any, examples: int, send: Callable[[Any], None]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        verbosity=Verbosity.quiet,
    )
    def explore(case: Any) -> None:
        send(case)

    # Unsatisfiable: nothing to make invalid (an operation without parameters or a body).
    with contextlib.suppress(Unsatisfiable):
        explore()


# --- hostile requests ------------------------------------------------------------------------

PAY = "POST /api/g/{event_id}/payment"
LOG = "POST /api/payment/log"
EVENTS = "POST /api/events"
VOID = "POST /api/g/{event_id}/payments/{payment_id}/void"
CLOSE = "POST /api/g/{event_id}/closeouts"
PAYMENTS = "GET /api/g/{event_id}/payments"
EVENT = "GET /api/events/{event_id}"
RANGE_CSV = "GET /api/payments.csv"
INVITE = "POST /api/people"
ROLE = "POST /api/people/{person_id}/role"
DISABLE = "POST /api/people/{person_id}/disable"
LOGIN = "POST /api/auth/login"
CHALLENGE = "POST /api/auth/challenge"
FORGOT = "POST /api/auth/forgot"
RESET = "POST /api/auth/reset"
REFRESH = "POST /api/auth/refresh"

# Path parameters naming the resources made for the run.
REAL_EVENT = "<event>"
REAL_PAYMENT = "<payment>"
REAL_PERSON = "<person>"
_REAL = {"event_id": REAL_EVENT, "payment_id": REAL_PAYMENT, "person_id": REAL_PERSON}

_DEFAULT_ROLE = {PAY: "crew", LOG: "crew", PAYMENTS: "crew", EVENT: "crew"}
_VALID_BODY: dict[str, dict[str, Any]] = {
    PAY: {"patron_name": "Ada Lovelace", "amount": "150.00", "payment_method": "cash"},
    LOG: {
        "event_id": REAL_EVENT,
        "patron_name": "Ada Lovelace",
        "amount": "150.00",
        "payment_method": "cash",
    },
    EVENTS: {"event_name": "Hostile Gala", "date": "2026-05-23"},
    VOID: {"reason": "entered twice"},
    CLOSE: {"counted": {"cash": "0", "card": "0", "check": "0", "venmo": "0", "other": "0"}},
    INVITE: {"email": "hostile@scc.local", "name": "Hostile", "role": "crew"},
    ROLE: {"role": "crew"},
    LOGIN: {"email": "nobody@scc.local", "password": "not the password"},
    CHALLENGE: {
        "email": "nobody@scc.local",
        "session": "s" * 40,
        "challenge": "NEW_PASSWORD_REQUIRED",
        "new_password": "Aa1!long-enough-password",
    },
    FORGOT: {"email": "nobody@scc.local"},
    RESET: {"email": "nobody@scc.local", "code": "123456", "new_password": "Aa1!long-enough-pw"},
    REFRESH: {"refresh_token": "not-a-refresh-token"},
}
DROP: Any = object()


@dataclass(frozen=True)
class Hostile:
    """One request the API must refuse, and the status it must refuse it with."""

    name: str
    route: str
    expect: int = 400
    body: Mapping[str, Any] | None = None
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    path: Mapping[str, str] = field(default_factory=dict)
    query: str = ""
    role: str | None = None  # None: the route's own (crew for crew routes, admin otherwise)


def _with(route: str, **changes: Any) -> dict[str, Any]:
    body = dict(_VALID_BODY[route])
    for name, value in changes.items():
        if value is DROP:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def _raw(route: str, **fields: str) -> bytes:
    """A valid body with fields written by hand (NaN, 1e309, ... that json.dumps cannot)."""
    body = {k: v for k, v in _VALID_BODY[route].items() if k not in fields}
    text = json.dumps(body)[:-1]
    extra = ",".join(f'"{name}":{value}' for name, value in fields.items())
    return (text + ("," if body else "") + extra + "}").encode()


def _pay(name: str, expect: int = 400, **changes: Any) -> Hostile:
    return Hostile(name, PAY, expect, body=_with(PAY, **changes))


def _pay_raw(
    name: str, raw: bytes, expect: int = 400, headers: Mapping[str, str] | None = None
) -> Hostile:
    return Hostile(name, PAY, expect, raw=raw, headers=dict(headers or {}))


_DEEP = ('{"a":' * 10_000 + "1" + "}" * 10_000).encode()
_BIG = json.dumps(_with(PAY, notes="x" * (64 * 1024 + 1))).encode()
_HUGE = b"x" * (1024 * 1024 + 1)
_CURSOR = "eyJwayI6IHsiUyI6ICJFVkVOVCMxIn19"  # base64 of another event's key

HOSTILE: tuple[Hostile, ...] = (
    # amounts
    _pay("amount zero", amount=0),
    _pay("amount zero string", amount="0.00"),
    _pay("amount negative", amount=-5),
    _pay("amount negative string", amount="-5.00"),
    _pay("amount not a number", amount="abc"),
    _pay("amount empty", amount=""),
    _pay("amount exponent string", amount="1e309"),
    _pay_raw("amount 1e309", _raw(PAY, amount="1e309")),
    _pay_raw("amount NaN", _raw(PAY, amount="NaN")),
    _pay_raw("amount Infinity", _raw(PAY, amount="Infinity")),
    _pay_raw("amount -Infinity", _raw(PAY, amount="-Infinity")),
    _pay_raw("amount three decimals", _raw(PAY, amount="10.005")),
    _pay("amount three decimals string", amount="10.005"),
    _pay_raw("amount above maximum", _raw(PAY, amount="100000.01")),
    _pay("amount above maximum string", amount="100000.01"),
    _pay_raw("amount huge", _raw(PAY, amount="1" + "0" * 400)),
    _pay_raw("amount beyond precision", _raw(PAY, amount="1234567890123456789012345678901.001")),
    _pay("amount boolean", amount=True),
    _pay("amount null", amount=None),
    _pay("amount object", amount={"value": 150}),
    _pay("amount array", amount=[150]),
    # fields
    _pay("patron name missing", patron_name=DROP),
    _pay("amount missing", amount=DROP),
    _pay("unknown method", payment_method="bitcoin"),
    _pay("empty method", payment_method=""),
    _pay("empty patron name", patron_name=""),
    _pay("whitespace patron name", patron_name=" \t  "),
    _pay("patron name 121 long", patron_name="x" * 121),
    _pay("patron name a number", patron_name=42),
    _pay("notes 1001 long", notes="n" * 1001),
    _pay("patron name NUL", patron_name="Ada\u0000Lovelace"),
    _pay("patron name BEL", patron_name="Ada\u0007Lovelace"),
    _pay("patron name bidi override", patron_name="Ada \u202eecalevoL"),
    _pay_raw("patron name lone surrogate", _raw(PAY, patron_name='"Ada \\ud800"')),
    _pay("notes NUL", notes="paid\u0000in full"),
    _pay("reference 101 long", reference="r" * 101),
    _pay("patron email not an address", patron_email="not-an-address"),
    _pay("unknown field", tip="5.00"),
    _pay("received_at text", received_at="yesterday"),
    _pay("received_at without offset", received_at="2026-05-23T18:30:00"),
    _pay("received_at far future", received_at="2999-01-01T00:00:00Z"),
    _pay("payment_id text", payment_id="not-a-uuid"),
    _pay("payment_id UUIDv4", payment_id="8c5b3b0e-4a4f-4f43-9c8e-2f0f4a3e2b1d"),
    _pay("payment_id upper case", payment_id=uuid7().upper()),
    _pay("payment_id in braces", payment_id="{" + uuid7() + "}"),
    # bodies and content types
    _pay_raw("body form text", b"patron_name=Ada&amount=150"),
    _pay_raw("body truncated JSON", b'{"patron_name": "Ada", '),
    _pay_raw("body empty array", b"[]"),
    _pay_raw("body array of a payment", json.dumps([_VALID_BODY[PAY]]).encode()),
    _pay_raw("body a string", b'"Ada Lovelace paid 150"'),
    _pay_raw("body a number", b"150"),
    _pay_raw("body null", b"null"),
    _pay_raw("body empty", b""),
    _pay_raw("body whitespace", b"   \n"),
    _pay_raw(
        "body with a byte order mark", b"\xef\xbb\xbf" + json.dumps(_VALID_BODY[PAY]).encode()
    ),
    _pay_raw("body UTF-16", json.dumps(_VALID_BODY[PAY]).encode("utf-16")),
    _pay_raw("body not UTF-8", b'{"patron_name":"\xff\xfe","amount":"1.00"}'),
    _pay_raw("body nested 10000 deep", _DEEP),
    _pay_raw("body over 64 KiB", _BIG, expect=413),
    _pay_raw("body over 1 MiB", _HUGE, expect=413),
    _pay_raw(
        "duplicated key",
        b'{"patron_name":"Ada","amount":"1.00","payment_method":"cash","amount":"1000.00"}',
    ),
    _pay_raw(
        "content type text/plain",
        json.dumps(_VALID_BODY[PAY]).encode(),
        headers={"content-type": "text/plain"},
    ),
    _pay_raw(
        "content type form",
        json.dumps(_VALID_BODY[PAY]).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    _pay_raw(
        "content type XML",
        b"<payment><amount>150</amount></payment>",
        headers={"content-type": "application/xml"},
    ),
    _pay_raw(
        "content type multipart",
        b'--b\r\nContent-Disposition: form-data; name="amount"\r\n\r\n150\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b"},
    ),
    # event ids
    Hostile("unknown event", PAY, 404, body=_VALID_BODY[PAY], path={"event_id": "2026-05-24-none"}),
    Hostile("event id ../x", PAY, body=_VALID_BODY[PAY], path={"event_id": "../x"}),
    Hostile(
        "event id traversal", PAY, body=_VALID_BODY[PAY], path={"event_id": "../../etc/passwd"}
    ),
    Hostile("event id key prefix", PAY, body=_VALID_BODY[PAY], path={"event_id": "EVENT#1"}),
    Hostile("event id NUL", PAY, body=_VALID_BODY[PAY], path={"event_id": "2026-05-23-a\x00"}),
    Hostile("event id newline", PAY, body=_VALID_BODY[PAY], path={"event_id": "2026-05-23-a\n"}),
    Hostile("event id upper case", PAY, body=_VALID_BODY[PAY], path={"event_id": "2026-05-23-A"}),
    Hostile(
        "event id too long", PAY, body=_VALID_BODY[PAY], path={"event_id": "2026-05-23-" + "a" * 80}
    ),
    Hostile("body route event id a number", LOG, body=_with(LOG, event_id=42)),
    Hostile("body route event id missing", LOG, body=_with(LOG, event_id=DROP)),
    Hostile("body route event id traversal", LOG, body=_with(LOG, event_id="../../x")),
    Hostile("body route NaN", LOG, raw=_raw(LOG, amount="NaN")),
    # creating events
    Hostile("event name empty", EVENTS, body=_with(EVENTS, event_name="")),
    Hostile("event name NUL", EVENTS, body=_with(EVENTS, event_name="Gala\u0000")),
    Hostile("event name 500 long", EVENTS, body=_with(EVENTS, event_name="g" * 500)),
    Hostile("event date not a day", EVENTS, body=_with(EVENTS, date="2026-02-30")),
    Hostile("event date text", EVENTS, body=_with(EVENTS, date="yesterday")),
    Hostile("event currency unknown", EVENTS, body=_with(EVENTS, currency="XXX")),
    Hostile("event expected total negative", EVENTS, body=_with(EVENTS, expected_total="-1.00")),
    Hostile("event expected total NaN", EVENTS, raw=_raw(EVENTS, expected_total="NaN")),
    Hostile("event location control", EVENTS, body=_with(EVENTS, location="Hall\u0007")),
    Hostile("event unknown field", EVENTS, body=_with(EVENTS, owner="me")),
    # voids
    Hostile(
        "void unknown payment", VOID, 404, body=_VALID_BODY[VOID], path={"payment_id": uuid7()}
    ),
    Hostile(
        "void payment id text", VOID, body=_VALID_BODY[VOID], path={"payment_id": "not-a-uuid"}
    ),
    Hostile(
        "void payment id traversal", VOID, body=_VALID_BODY[VOID], path={"payment_id": "../.."}
    ),
    Hostile("void reason empty", VOID, body=_with(VOID, reason="")),
    Hostile("void reason missing", VOID, body=_with(VOID, reason=DROP)),
    Hostile("void reason NUL", VOID, body=_with(VOID, reason="twice\u0000")),
    Hostile("void unknown field", VOID, body=_with(VOID, amount="1.00")),
    # close-outs
    Hostile("closeout counted missing", CLOSE, body=_with(CLOSE, counted=DROP)),
    Hostile(
        "closeout counted negative",
        CLOSE,
        body=_with(CLOSE, counted={**_VALID_BODY[CLOSE]["counted"], "cash": "-1.00"}),
    ),
    Hostile(
        "closeout counted unknown method",
        CLOSE,
        body=_with(CLOSE, counted={**_VALID_BODY[CLOSE]["counted"], "bitcoin": "1.00"}),
    ),
    Hostile("closeout counted NaN", CLOSE, raw=_raw(CLOSE, counted='{"cash": NaN}')),
    Hostile("closeout note NUL", CLOSE, body=_with(CLOSE, note="short\u0000")),
    Hostile("closeout id text", CLOSE, body=_with(CLOSE, closeout_id="not-a-uuid")),
    # queries
    Hostile("payments limit 0", PAYMENTS, query="limit=0"),
    Hostile("payments limit 501", PAYMENTS, query="limit=501"),
    Hostile("payments limit text", PAYMENTS, query="limit=abc"),
    Hostile("payments from month 13", PAYMENTS, query="from=2026-13-01"),
    Hostile("payments from Feb 30", PAYMENTS, query="from=2026-02-30"),
    Hostile("payments to before from", PAYMENTS, query="from=2026-05-02&to=2026-05-01"),
    Hostile("payments unknown method", PAYMENTS, query="method=bitcoin"),
    Hostile("payments q NUL", PAYMENTS, query="q=a%00b"),
    Hostile("payments cursor garbage", PAYMENTS, query="cursor=%7B%7D%7B"),
    Hostile("payments cursor of another event", PAYMENTS, query=f"cursor={_CURSOR}"),
    Hostile("payments event id traversal", PAYMENTS, path={"event_id": "../../x"}),
    Hostile("event unknown", EVENT, 404, path={"event_id": "2026-05-24-none"}),
    Hostile("event id traversal", EVENT, path={"event_id": "..\\..\\x"}),
    Hostile("export without from", RANGE_CSV, query="to=2026-05-01"),
    Hostile("export from not a day", RANGE_CSV, query="from=2026-02-30&to=2026-03-01"),
    Hostile("export over two years", RANGE_CSV, query="from=2020-01-01&to=2026-01-01"),
    # people
    Hostile("invite email not an address", INVITE, body=_with(INVITE, email="nobody")),
    Hostile("invite email over 128", INVITE, body=_with(INVITE, email="a" * 130 + "@scc.local")),
    Hostile("invite role root", INVITE, body=_with(INVITE, role="root")),
    Hostile("invite name NUL", INVITE, body=_with(INVITE, name="Eve\u0000")),
    Hostile("invite name missing", INVITE, body=_with(INVITE, name=DROP)),
    Hostile("role owner", ROLE, body=_with(ROLE, role="owner")),
    Hostile("role person traversal", ROLE, body=_VALID_BODY[ROLE], path={"person_id": "../x"}),
    Hostile("role unknown person", ROLE, 404, body=_VALID_BODY[ROLE], path={"person_id": uuid7()}),
    Hostile("disable person id with a space", DISABLE, path={"person_id": "a b"}),
    # signing in
    Hostile("login email empty", LOGIN, body=_with(LOGIN, email="")),
    Hostile("login password missing", LOGIN, body=_with(LOGIN, password=DROP)),
    Hostile("login email 300 long", LOGIN, body=_with(LOGIN, email="a" * 300)),
    Hostile("login password 300 long", LOGIN, body=_with(LOGIN, password="p" * 300)),
    Hostile("login body array", LOGIN, raw=b"[]"),
    Hostile("login unknown field", LOGIN, body=_with(LOGIN, remember=True)),
    Hostile("challenge session short", CHALLENGE, body=_with(CHALLENGE, session="abc")),
    Hostile("challenge session huge", CHALLENGE, body=_with(CHALLENGE, session="s" * 4000)),
    Hostile("challenge unknown", CHALLENGE, body=_with(CHALLENGE, challenge="BOGUS")),
    Hostile("challenge code letters", CHALLENGE, body=_with(CHALLENGE, code="12ab56")),
    Hostile("forgot email empty", FORGOT, body=_with(FORGOT, email="")),
    Hostile("reset code empty", RESET, body=_with(RESET, code="")),
    Hostile("reset password short", RESET, body=_with(RESET, new_password="short")),
    Hostile("reset email over 128", RESET, body=_with(RESET, email="a" * 130 + "@scc.local")),
    Hostile("refresh token empty", REFRESH, body=_with(REFRESH, refresh_token="")),
    Hostile("refresh token garbage", REFRESH, 401, body=_VALID_BODY[REFRESH]),
)


@dataclass(frozen=True)
class Outcome:
    case: Hostile
    status: int
    problem: str | None  # the document does not describe the answer
    writes: int  # ledger items the request wrote


def hostile(stack: StackProcess, people: People, tally: Tally) -> list[Outcome]:
    """Send every hostile request once; count what it got and what it wrote."""
    contract = Contract.served_by(stack)
    admin = people.token("admin")
    event_id = create_event(stack, admin, "hostile")
    real = {
        REAL_EVENT: event_id,
        REAL_PAYMENT: log_payment(stack, admin, event_id),
        REAL_PERSON: invite_person(stack, admin, "hostile"),
    }
    ledger = Ledger(stack)
    outcomes: list[Outcome] = []
    count = ledger.count()
    for case in HOSTILE:
        operation = contract.operation(case.route)
        path = {name: real.get(value, value) for name, value in {**_REAL, **case.path}.items()}
        url = operation.url(stack.url, **path) + (f"?{case.query}" if case.query else "")
        role = case.role or _DEFAULT_ROLE.get(case.route, "admin")
        body = None if case.body is None else _resolve(case.body, real)
        reply = _send(
            operation.method, url, body, case, people.token(role) if operation.signed_in else None
        )
        after = ledger.count()
        written = after - count
        count = after
        tally.requests += 1
        tally.statuses[reply.status] += 1
        problem = None if reply.status >= 500 else contract.problem(operation, reply)
        outcome = Outcome(case, reply.status, problem, written)
        outcomes.append(outcome)
        if reply.status >= 500:
            tally.server_errors += 1
            tally.finding(f"hostile {case.name!r}: {reply.status} {reply.raw[:300]!r}")
        elif problem is not None:
            tally.undocumented_statuses += 1
            tally.finding(f"hostile {case.name!r}: {problem}")
        if 400 <= reply.status < 500 and written > 0:
            tally.writes_from_rejected_requests += written
            tally.finding(
                f"hostile {case.name!r}: {reply.status} but {written} ledger items written"
            )
        if reply.status != case.expect:
            log.warning(
                "bad input: hostile %r answered %d, not %d: %r",
                case.name,
                reply.status,
                case.expect,
                reply.raw[:300],
            )
    return outcomes


def _resolve(body: Mapping[str, Any], real: Mapping[str, str]) -> dict[str, Any]:
    return {k: real.get(v, v) if isinstance(v, str) else v for k, v in body.items()}


def _send(method: str, url: str, body: Any, case: Hostile, token: str | None) -> HttpReply:
    if case.raw is not None:
        return http(url, method, raw_body=case.raw, token=token, headers=case.headers)
    if body is not None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        return http(url, method, raw_body=raw, token=token, headers=case.headers)
    return http(url, method, token=token, headers=case.headers)
