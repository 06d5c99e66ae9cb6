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

The placeholder `{{ADMIN_TOKEN}}` anywhere in the event (the samples' Authorization headers)
is replaced by a valid admin token minted with the function's signing key.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from devstack.runner import FunctionPool, InvokeError, lambda_environment
from devstack.template import DEFAULT_REGION, FunctionSpec, deploy

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
TOKEN_PLACEHOLDER = "{{ADMIN_TOKEN}}"  # noqa: S105 - a placeholder, not a secret
ADMIN_EMAIL = "admin@scc.local"
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
    from shared.auth import hash_password

    return {
        "Stage": "dev",
        "AdminEmail": ADMIN_EMAIL,
        # Nobody signs in with it: sample requests carry a minted token instead.
        "AdminPasswordHash": hash_password(secrets.token_urlsafe(16), n=2**10),
        "TokenSigningKey": secrets.token_urlsafe(32),
        "AllowedOrigin": "http://localhost:8000",
    }


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


def with_token(event: Any, environment: dict[str, str]) -> Any:
    text = json.dumps(event)
    if TOKEN_PLACEHOLDER not in text:
        return event
    key = environment.get("TOKEN_SIGNING_KEY")
    if not key:
        raise SystemExit(
            "the event wants an admin token, but the function has no TOKEN_SIGNING_KEY"
        )
    from shared.auth import issue_token

    token = issue_token(ADMIN_EMAIL, key=key, ttl_seconds=900, now=datetime.now(UTC)).token
    return json.loads(text.replace(TOKEN_PLACEHOLDER, token))


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
        else:
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            cleanup.callback(server.stop)
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            info = deploy(_session(), endpoint, TEMPLATE_PATH, template_parameters())
            if function not in info.functions:
                raise SystemExit(
                    f"{function}: no such function in template.yaml ({sorted(info.functions)})"
                )
            spec = info.functions[function]
            seed(endpoint, info.tables["PaymentsTable"], spec.environment)
        env = lambda_environment(
            spec, endpoint_url=endpoint, region=DEFAULT_REGION, repo_root=REPO_ROOT
        )
        pool = FunctionPool(spec, env, cwd=REPO_ROOT, max_workers=1)
        cleanup.callback(pool.stop)
        try:
            result = pool.invoke(with_token(event, spec.environment))
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
