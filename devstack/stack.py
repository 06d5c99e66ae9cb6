"""The whole local stack: moto server + template.yaml deployed into it + workers + gateway.

`start_stack()` brings it up in order and `LocalStack.close()` takes it down in reverse;
`python -m devstack` (devstack/__main__.py) adds settings, signals and the banner.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from devstack.authorizer import moto_jwks
from devstack.cognito import ProvisionError, add_person, cognito_rules, generate_password
from devstack.gateway import Api, FunctionFailed, GatewayServer, RouteTable
from devstack.pollers import PollerGroup, describe, moto_iterator_janitor, start_pollers
from devstack.runner import DEFAULT_MAX_WORKERS, FunctionRunner, InvokeError
from devstack.seed import seed_demo_events
from devstack.template import DEFAULT_REGION, StackInfo, deploy

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


class StartupError(RuntimeError):
    """The stack cannot start for a reason the message fully explains (no traceback needed)."""


@dataclass(frozen=True)
class Settings:
    """Everything `python -m devstack` can be told, read from the environment once."""

    port: int = 8000
    admin_email: str = "admin@scc.local"
    admin_password: str | None = None
    crew_email: str = "crew@scc.local"
    crew_password: str | None = None
    mail_dir: Path = REPO_ROOT / ".local" / "mail"
    stack_file: Path = REPO_ROOT / ".local" / "stack.json"
    template_path: Path = REPO_ROOT / "template.yaml"
    static_root: Path = REPO_ROOT / "frontend"
    seed: bool = True
    max_workers: int = DEFAULT_MAX_WORKERS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        defaults = cls()
        return cls(
            port=_int_setting(env, "PORT", defaults.port, 0, 65535),
            admin_email=env.get("ADMIN_EMAIL") or defaults.admin_email,
            admin_password=env.get("ADMIN_PASSWORD") or None,
            crew_email=env.get("CREW_EMAIL") or defaults.crew_email,
            crew_password=env.get("CREW_PASSWORD") or None,
            mail_dir=_path_setting(env, "MAIL_DIR", defaults.mail_dir),
            stack_file=_path_setting(env, "STACK_FILE", defaults.stack_file),
            template_path=_path_setting(env, "TEMPLATE", defaults.template_path),
            seed=env.get("SEED", "1") not in ("0", "false", "no"),
            max_workers=_int_setting(env, "WORKERS", defaults.max_workers, 1, 32),
        )


def _int_setting(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _path_setting(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name)
    return Path(raw).expanduser().resolve() if raw else default


@dataclass
class LocalStack:
    """A running stack; `close()` stops what `start_stack` started (and nothing else)."""

    url: str
    moto_endpoint: str
    info: StackInfo
    admin_email: str
    admin_password: str
    password_generated: bool
    runner: FunctionRunner
    mail_dir: Path | None = None
    # The demo crew member (None when the template's pool has no `crew` group).
    crew_email: str | None = None
    crew_password: str | None = None
    crew_password_generated: bool = False
    pollers: PollerGroup = field(default_factory=lambda: PollerGroup([]))
    seeded_event_ids: list[str] = field(default_factory=list)
    _cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    @property
    def table_name(self) -> str:
        tables = self.info.tables
        return tables.get("PaymentsTable") or next(iter(tables.values()), "")

    def close(self) -> None:
        # The current pollers first: restart_stream_consumers may have replaced the first ones.
        self.pollers.stop()
        self._cleanup.close()

    def restart_stream_consumers(self) -> dict[str, int]:
        """Play a crash of Lambda's stream pollers: stop them mid-batch, SIGKILL the workers of
        their functions (an invocation in flight dies with them), then start new pollers that
        resume from each shard's checkpoint, so the batch in flight is delivered again, as
        Lambda does after a failure. Returns how many workers each function lost."""
        old = self.pollers
        for poller in old:
            poller.stop()
        killed = {poller.name: self.runner.kill(poller.name) for poller in old}
        old.join()
        self.pollers = _start_pollers(
            self.info, self.runner, self.moto_endpoint, resume_after=old.positions()
        )
        return killed


def start_stack(settings: Settings, *, announce: Callable[[str], None] = log.info) -> LocalStack:
    """Start moto (with Cognito's rules), the gateway (answering 503 meanwhile), deploy
    (Cognito first), the demo crew member, workers, the gateway's routes and authorizers, seed."""
    quiet_moto()
    if settings.crew_email.strip().lower() == settings.admin_email.strip().lower():
        raise StartupError("CREW_EMAIL must differ from ADMIN_EMAIL")
    cleanup = contextlib.ExitStack()
    try:
        moto_endpoint = _start_moto(cleanup)
        announce(f"moto server on {moto_endpoint}")
        settings.mail_dir.mkdir(parents=True, exist_ok=True)
        # Invitations and password-reset codes land in MAIL_DIR as .eml files.
        cleanup.enter_context(cognito_rules(settings.mail_dir))
        gateway, stop_gateway = _start_gateway(cleanup, settings)
        password = settings.admin_password or generate_password()
        parameters = template_parameters(settings.admin_email, gateway.url)
        try:
            info = deploy(
                _moto_session(),
                moto_endpoint,
                settings.template_path,
                parameters,
                user_passwords={settings.admin_email: password},
            )
        except ProvisionError as exc:
            raise StartupError(f"{exc} (ADMIN_PASSWORD)") from exc
        crew_password = _add_demo_crew(info, moto_endpoint, settings, announce)
        announce(
            f"deployed {settings.template_path.name}: {len(info.functions)} functions, "
            f"{len(info.routes)} routes, {len(info.tables)} tables, {len(info.event_sources)} event sources"
        )
        for address in verify_mail_senders(info, moto_endpoint):
            announce(f"SES sender identity verified in moto: {address}")
        runner = FunctionRunner.for_functions(
            info.functions,
            endpoint_url=moto_endpoint,
            region=info.region,
            repo_root=REPO_ROOT,
            max_workers=settings.max_workers,
            # The notifier's SpoolingSender keeps every sent mail here as an .eml file.
            extra_env={"MAIL_DIR": str(settings.mail_dir)},
        )
        cleanup.callback(runner.stop)
        pollers = _start_pollers(info, runner, moto_endpoint)
        # Registered after the runner, so it runs before it on the way down: no new batch
        # starts once workers are being stopped.
        cleanup.callback(pollers.stop)
        for poller in pollers:
            announce(f"stream poller: {describe(poller.settings)}")
        # Registered again so that, on the way down, no request arrives once workers stop.
        cleanup.callback(stop_gateway)
        gateway.api = Api(
            routes=RouteTable(info.routes),
            cors=info.cors,
            invoke=_invoker(runner),
            account_id=_account_id(info),
            authorizers=info.authorizers,
            jwks=moto_jwks(moto_endpoint),
        )
        for authorizer in info.authorizers.values():
            announce(f"JWT authorizer {authorizer.name}: issuer {authorizer.issuer}")
        stack = LocalStack(
            url=gateway.url,
            moto_endpoint=moto_endpoint,
            info=info,
            admin_email=settings.admin_email,
            admin_password=password,
            password_generated=settings.admin_password is None,
            runner=runner,
            mail_dir=settings.mail_dir,
            pollers=pollers,
            crew_email=settings.crew_email if crew_password is not None else None,
            crew_password=crew_password,
            crew_password_generated=settings.crew_password is None,
        )
        if settings.seed:
            stack.seeded_event_ids = seed_demo_events(gateway.url, settings.admin_email, password)
            announce(f"seeded demo events: {', '.join(stack.seeded_event_ids)}")
        gateway.ready.set()
        _write_stack_file(cleanup, settings.stack_file, stack)
    except BaseException:
        cleanup.close()
        raise
    stack._cleanup = cleanup
    return stack


def template_parameters(admin_email: str, url: str) -> dict[str, str]:
    """Parameter values for template.yaml (the rest keep their Default).

    AdminEmail and AllowedOrigin have no Default: every stack names them. The local stack's
    CORS origin is its own gateway's (`http://127.0.0.1:<port>`, the port PORT chose); moto
    does not enforce AllowedPattern or Rules, which keep deployed stacks to https.
    """
    return {"Stage": "dev", "AdminEmail": admin_email, "AllowedOrigin": url}


def _add_demo_crew(
    info: StackInfo, moto_endpoint: str, settings: Settings, announce: Callable[[str], None]
) -> str | None:
    """CREW_EMAIL, signed up with a permanent password in the pool's `crew` group; None when
    the template's pool has no such group."""
    cognito = info.cognito
    if cognito is None or "crew" not in cognito.groups.values():
        announce("no `crew` group in the template's user pool: no demo crew member")
        return None
    password = settings.crew_password or generate_password()
    try:
        add_person(
            _moto_client("cognito-idp", moto_endpoint),
            cognito.user_pool_id,
            settings.crew_email,
            password,
            group="crew",
        )
    except ProvisionError as exc:
        raise StartupError(f"{exc} (CREW_PASSWORD)") from exc
    return password


def quiet_moto() -> None:
    """moto logs every request and warns about resources it skips on purpose (the HTTP API,
    which devstack's gateway serves); everything else it says still gets through."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_logger = logging.getLogger("moto")
    if not any(isinstance(f, _SkippedResourceFilter) for f in moto_logger.filters):
        moto_logger.addFilter(_SkippedResourceFilter())
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)


class _SkippedResourceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No Moto CloudFormation support for")


def _start_moto(cleanup: contextlib.ExitStack) -> str:
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    cleanup.callback(server.stop)
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def _start_gateway(
    cleanup: contextlib.ExitStack, settings: Settings
) -> tuple[GatewayServer, Callable[[], None]]:
    try:
        gateway = GatewayServer((LOOPBACK, settings.port), static_root=settings.static_root)
    except OSError as exc:
        raise StartupError(
            f"cannot listen on {LOOPBACK}:{settings.port} ({exc.strerror}); "
            "set PORT to a free port, or PORT=0 to pick one"
        ) from exc
    thread = threading.Thread(target=gateway.serve_forever, name="gateway", daemon=True)
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        gateway.shutdown()
        gateway.server_close()
        thread.join(timeout=5)

    cleanup.callback(stop)
    return gateway, stop


def _moto_session() -> boto3.Session:
    # Explicit fake credentials: the developer's real ones must never reach the local stack.
    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        region_name=DEFAULT_REGION,
    )


def _invoker(runner: FunctionRunner) -> Callable[[str, dict[str, Any]], Any]:
    def invoke(logical_id: str, event: dict[str, Any]) -> Any:
        try:
            result = runner.invoke(logical_id, event)
        except InvokeError as exc:
            # Lambda reports an init failure, a crash or a timeout as a function error, which
            # API Gateway turns into a 500 (the details are in the function's log above).
            raise FunctionFailed(500, "internal", f"{exc.kind}: {exc}") from exc
        if not result.ok:
            error = result.error
            raise FunctionFailed(
                500,
                "internal",
                f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}",
            )
        return result.payload

    return invoke


def _moto_client(service: str, endpoint_url: str) -> Any:
    # Account-id based endpoints break moto's DynamoDB Streams (describe_stream answers
    # "404 Not yet implemented" with botocore >= 1.44.4 unless they are disabled).
    return _moto_session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        config=Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2}),
    )


def verify_mail_senders(info: StackInfo, moto_endpoint: str) -> list[str]:
    """Verify, in moto's SES, every sender address a function is configured with.

    SES (and so moto) refuses mail from an unverified identity; in AWS the operator verifies
    the sender once per account. Any function with SES_SENDER_EMAIL counts, not a named one.
    """
    addresses = sorted(
        {
            parseaddr(spec.environment["SES_SENDER_EMAIL"])[1]
            for spec in info.functions.values()
            if spec.environment.get("SES_SENDER_EMAIL")
        }
        - {""}
    )
    if addresses:
        sesv2 = _moto_client("sesv2", moto_endpoint)
        for address in addresses:
            sesv2.create_email_identity(EmailIdentity=address)
    return addresses


def _start_pollers(
    info: StackInfo,
    runner: FunctionRunner,
    moto_endpoint: str,
    resume_after: Mapping[str, Mapping[str, str]] | None = None,
) -> PollerGroup:
    """Lambda's side of every DynamoDB stream mapping in the template (devstack/pollers.py)."""
    try:
        return start_pollers(
            info,
            runner,
            streams=_moto_client("dynamodbstreams", moto_endpoint),
            sqs=_moto_client("sqs", moto_endpoint),
            forget_iterator=moto_iterator_janitor(_account_id(info), info.region),
            resume_after=resume_after,
        )
    except ValueError as exc:  # an invalid FilterCriteria pattern: AWS would refuse it too
        raise StartupError(f"event source mapping refused: {exc}") from exc


def _account_id(info: StackInfo) -> str:
    for spec in info.functions.values():
        parts = spec.arn.split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    return "123456789012"


def _write_stack_file(cleanup: contextlib.ExitStack, path: Path, stack: LocalStack) -> None:
    """`.local/stack.json` tells other tools (tests, scripts) where the running stack is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cognito = stack.info.cognito
    content = {
        "url": stack.url,
        "moto_endpoint": stack.moto_endpoint,
        "table_name": stack.table_name,
        "pid": os.getpid(),
        "tables": stack.info.tables,
        "functions": {k: v.name for k, v in stack.info.functions.items()},
        "mail_dir": str(stack.mail_dir) if stack.mail_dir is not None else None,
        "stream_consumers": [p.name for p in stack.pollers],
        "region": stack.info.region,
        "user_pool_id": cognito.user_pool_id if cognito else None,
        "user_pool_client_id": cognito.user_pool_client_id if cognito else None,
        "issuer": cognito.issuer if cognito else None,
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)  # atomic: readers never see half a file

    def remove() -> None:
        # Only our own file: another stack may have been started since and own it now.
        with contextlib.suppress(FileNotFoundError, ValueError, OSError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()

    cleanup.callback(remove)
