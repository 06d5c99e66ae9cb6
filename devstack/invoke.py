"""`make invoke FUNCTION=<LogicalId> EVENT=<file>`: run one function on one event, no Docker.

    python -m devstack.invoke --function QueryFunction --event events_schema/samples/query-health.json
    python -m devstack.invoke --function IngestFunction --event ... --stack-file .local/stack.json

The handler, its code location and its environment come from template.yaml, the way AWS reads
them: the template is deployed (devstack.template.deploy) into a moto server started in this
process, holding the template's resources, plus one demo event and payment so the sample
events have something to act on. With --stack-file the function runs against a running
`make dev` stack instead (its moto, its data, its environment). Either way the handler runs
in a fresh worker subprocess (devstack.worker: a real cold start, only the function's
environment) and its response is printed as JSON on stdout; logs go to stderr. Exit status 1
means the function raised.

Behind API Gateway's JWT authorizer a function never sees a token to check: it gets the
verified claims in `requestContext.authorizer.jwt.claims` (API Gateway's string format). The
samples of authenticated routes carry an admin's claims with placeholders that keep them
current and true to the stack they run against: `{{NOW}}` and `{{NOW+<seconds>}}` (epoch
seconds, for `iat`/`exp`), `{{USER_POOL_ID}}`, `{{USER_POOL_CLIENT_ID}}` and `{{ADMIN_SUB}}`
(the first admin's Cognito `sub`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from devstack.cognito import active_rules, cognito_rules, generate_password
from devstack.runner import FunctionPool, InvokeError, lambda_environment
from devstack.template import DEFAULT_REGION, FunctionSpec, StackInfo, deploy

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ADMIN_EMAIL = "admin@scc.local"
# A stand-in `sub` when the stack has no such admin (a `make dev` with another ADMIN_EMAIL).
UNKNOWN_SUB = "00000000-0000-4000-8000-0000000000ad"
# What the samples in events_schema/samples/ refer to.
DEMO_EVENT_ID = "2026-05-23-corporate-mixer"
DEMO_PAYMENT_ID = "0196f0c2-7a00-7000-8000-000000000001"


def _session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        region_name=DEFAULT_REGION,
    )


def _client(endpoint: str, name: str) -> Any:
    return _session().client(
        name,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        config=Config(account_id_endpoint_mode="disabled"),
    )


def template_parameters() -> dict[str, str]:
    return {"Stage": "dev", "AdminEmail": ADMIN_EMAIL, "AllowedOrigin": "http://localhost:8000"}


def deploy_for_samples(endpoint: str) -> StackInfo:
    """template.yaml in the moto at `endpoint`; the first admin gets a password nobody knows
    (the samples act as that admin through claims, not by signing in)."""
    return deploy(
        _session(),
        endpoint,
        TEMPLATE_PATH,
        template_parameters(),
        user_passwords={ADMIN_EMAIL: generate_password()},
    )


@dataclass(frozen=True)
class Placeholders:
    """What the samples' `{{...}}` placeholders stand for in one stack."""

    user_pool_id: str = "us-east-1_local"
    user_pool_client_id: str = "local-client"
    admin_sub: str = UNKNOWN_SUB

    @classmethod
    def from_moto(
        cls, endpoint: str, user_pool_id: str | None, client_id: str | None
    ) -> Placeholders:
        if not user_pool_id:
            return cls()
        sub = UNKNOWN_SUB
        cognito = _client(endpoint, "cognito-idp")
        with contextlib.suppress(cognito.exceptions.UserNotFoundException):
            user = cognito.admin_get_user(UserPoolId=user_pool_id, Username=ADMIN_EMAIL)
            attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes") or []}
            sub = attributes.get("sub", sub)
        return cls(user_pool_id, client_id or "local-client", sub)


_NOW = re.compile(r"\{\{NOW(?:([+-])(\d+))?\}\}")


def with_placeholders(event: Any, values: Placeholders, *, now: float | None = None) -> Any:
    """`event` with every `{{...}}` placeholder replaced (see the module docstring)."""
    text = json.dumps(event)
    moment = int(time.time() if now is None else now)

    def epoch(match: re.Match[str]) -> str:
        sign, amount = match.group(1), match.group(2)
        offset = int(amount) if amount else 0
        return str(moment - offset if sign == "-" else moment + offset)

    text = _NOW.sub(epoch, text)
    for name, value in (
        ("USER_POOL_ID", values.user_pool_id),
        ("USER_POOL_CLIENT_ID", values.user_pool_client_id),
        ("ADMIN_SUB", values.admin_sub),
    ):
        text = text.replace("{{" + name + "}}", value)
    return json.loads(text)


def seed(endpoint: str, table_name: str, environment: dict[str, str]) -> None:
    """A demo event and one payment (the samples' ids); the notifier's sender verified."""
    from shared.models import Event, Payment
    from shared.repository import LedgerTable

    now = datetime(2026, 5, 23, 18, 0, tzinfo=UTC)
    table = LedgerTable(_client(endpoint, "dynamodb"), table_name)
    table.put_event(
        Event(
            event_id=DEMO_EVENT_ID,
            event_name="Corporate Mixer",
            date=now.date(),
            location="Pier 39",
            currency="USD",
            expected_total_cents=500000,
            created_at=now,
            created_by=ADMIN_EMAIL,
        )
    )
    table.put_payment(
        Payment(
            payment_id=DEMO_PAYMENT_ID,
            event_id=DEMO_EVENT_ID,
            patron_name="John Smith",
            amount_cents=15000,
            currency="USD",
            payment_method="cash",
            received_at=now,
            logged_by=ADMIN_EMAIL,
            timestamp=now,
            request_fingerprint="0" * 64,
        )
    )
    sender = environment.get("SES_SENDER_EMAIL")
    if sender:
        _client(endpoint, "ses").verify_email_identity(EmailAddress=sender)


def _spec_from_moto(endpoint: str, logical_id: str, function_name: str) -> FunctionSpec:
    configuration = _client(endpoint, "lambda").get_function_configuration(
        FunctionName=function_name
    )
    variables = (configuration.get("Environment") or {}).get("Variables") or {}
    return FunctionSpec(
        logical_id=logical_id,
        name=function_name,
        handler=configuration["Handler"],
        environment={str(k): str(v) for k, v in variables.items()},
        timeout_seconds=int(configuration.get("Timeout") or 3),
        memory_mb=int(configuration.get("MemorySize") or 128),
        runtime=configuration.get("Runtime") or "",
        arn=configuration.get("FunctionArn") or "",
    )


def run(function: str, event: Any, stack_file: Path | None) -> tuple[bool, Any]:
    with contextlib.ExitStack() as cleanup:
        if stack_file is not None:
            stack = json.loads(stack_file.read_text(encoding="utf-8"))
            endpoint = str(stack["moto_endpoint"])
            if function not in stack["functions"]:
                raise SystemExit(
                    f"{function}: not in the running stack ({sorted(stack['functions'])})"
                )
            spec = _spec_from_moto(endpoint, function, stack["functions"][function])
            values = Placeholders.from_moto(
                endpoint, stack.get("user_pool_id"), stack.get("user_pool_client_id")
            )
        else:
            if active_rules() is None:
                # No mail leaves this one-off stack; Cognito's other rules still apply.
                cleanup.enter_context(cognito_rules(None))
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            cleanup.callback(server.stop)
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            info = deploy_for_samples(endpoint)
            if function not in info.functions:
                raise SystemExit(
                    f"{function}: no such function in template.yaml ({sorted(info.functions)})"
                )
            spec = info.functions[function]
            seed(endpoint, info.tables["PaymentsTable"], spec.environment)
            cognito = info.cognito
            values = Placeholders.from_moto(
                endpoint,
                cognito.user_pool_id if cognito else None,
                cognito.user_pool_client_id if cognito else None,
            )
        env = lambda_environment(
            spec, endpoint_url=endpoint, region=DEFAULT_REGION, repo_root=REPO_ROOT
        )
        pool = FunctionPool(spec, env, cwd=REPO_ROOT, max_workers=1)
        cleanup.callback(pool.stop)
        try:
            result = pool.invoke(with_placeholders(event, values))
        except InvokeError as exc:
            return False, {"errorType": exc.kind, "errorMessage": str(exc)}
        return result.ok, result.payload if result.ok else result.error


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.invoke", description=__doc__)
    parser.add_argument("--function", required=True, help="logical id, e.g. IngestFunction")
    parser.add_argument("--event", required=True, type=Path, help="a JSON event file")
    parser.add_argument(
        "--stack-file", type=Path, help="run against `make dev` (.local/stack.json)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
    event = json.loads(args.event.read_text(encoding="utf-8"))
    ok, payload = run(args.function, event, args.stack_file)
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
