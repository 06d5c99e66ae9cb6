"""The whole local stack: moto server + template.yaml deployed into it + workers + gateway.

`start_stack()` brings it up in order and `LocalStack.close()` takes it down in reverse;
`python -m devstack` (devstack/__main__.py) adds settings, signals and the banner.

With a data directory (DEV_DATA; `make dev` uses `.devdata/`) the stack restores what it kept
before any stream poller starts and keeps its data across restarts (devstack/persist.py);
PARAMS overrides template parameters (devstack/params.py), and a local SMTP relay is started
when the parameters send mail over SMTP to a loopback port nobody listens on (devstack/smtp.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, TypeVar

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from devstack.authorizer import moto_jwks
from devstack.cognito import ProvisionError, add_person, cognito_rules, generate_password
from devstack.gateway import Api, FunctionFailed, GatewayServer, RouteTable
from devstack.params import ParameterError, parse_overrides, validate_overrides
from devstack.persist import (
    DataDir,
    DataError,
    RestoredPeople,
    Snapshotter,
    kept_generated_password,
    restore_cognito,
    restore_tables,
    stable_cognito_ids,
)
from devstack.pollers import (
    DeliveryGate,
    PollerGroup,
    describe,
    moto_iterator_janitor,
    start_pollers,
)
from devstack.runner import DEFAULT_MAX_WORKERS, FunctionRunner, InvokeError
from devstack.seed import seed_demo_events
from devstack.smtp import LocalSmtpServer, is_listening, is_loopback, make_tls_material
from devstack.template import DEFAULT_REGION, StackInfo, deploy, load_template, stack_parameters

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
# A graceful stop waits this long for the stream consumers to deliver what is in the stream.
DRAIN_SECONDS = 10.0
# SMTP=1 without SmtpHost/SmtpPort in PARAMS: the local relay listens here.
LOCAL_SMTP_PORT = 1025
_DEFAULT_SMTP_PORTS = {"starttls": 587, "tls": 465, "none": 25}  # the notifier's defaults
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

SmtpSwitch = Literal["auto", "on", "off"]
_T = TypeVar("_T")


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
    # DEV_DATA: where data is kept across restarts (None: in moto's memory only).
    data_dir: Path | None = None
    reset: bool = False  # RESET=1: forget what DEV_DATA holds, start clean
    # PARAMS: template parameter overrides, `sam deploy --parameter-overrides` style.
    parameter_overrides: tuple[tuple[str, str], ...] = ()
    # SMTP: "on" (1) starts the local SMTP relay, "off" (0) never, "auto" (unset) when the
    # parameters send mail over SMTP to a loopback port nobody listens on.
    smtp: SmtpSwitch = "auto"
    smtp_dir: Path = REPO_ROOT / ".local" / "smtp"
    # SMTP_PASSWORD (or SCC_GMAIL_PASSWORD): stored in the local SSM parameter the notifier
    # reads its SMTP password from when SmtpUser is set; the local relay expects it too.
    smtp_password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        defaults = cls()
        data_dir = _optional_path(env, "DEV_DATA")
        keep = DataDir(data_dir) if data_dir is not None else None
        return cls(
            port=_int_setting(env, "PORT", defaults.port, 0, 65535),
            admin_email=env.get("ADMIN_EMAIL") or defaults.admin_email,
            admin_password=env.get("ADMIN_PASSWORD") or None,
            crew_email=env.get("CREW_EMAIL") or defaults.crew_email,
            crew_password=env.get("CREW_PASSWORD") or None,
            mail_dir=_path_setting(env, "MAIL_DIR", keep.mail_dir if keep else defaults.mail_dir),
            stack_file=_path_setting(env, "STACK_FILE", defaults.stack_file),
            template_path=_path_setting(env, "TEMPLATE", defaults.template_path),
            seed=env.get("SEED", "1") not in ("0", "false", "no"),
            max_workers=_int_setting(env, "WORKERS", defaults.max_workers, 1, 32),
            data_dir=data_dir,
            reset=_flag_setting(env, "RESET", default=False),
            parameter_overrides=tuple(parse_overrides(env.get("PARAMS", "")).items()),
            smtp=_switch_setting(env, "SMTP"),
            smtp_dir=keep.smtp_dir if keep else defaults.smtp_dir,
            smtp_password=env.get("SMTP_PASSWORD") or env.get("SCC_GMAIL_PASSWORD") or None,
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


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else None


def _flag_setting(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be 1 or 0, got {raw!r}")


def _switch_setting(env: Mapping[str, str], name: str) -> SmtpSwitch:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return "auto"
    if raw in _TRUE:
        return "on"
    if raw in _FALSE:
        return "off"
    raise ValueError(f"{name} must be 1 (start the local SMTP server) or 0 (never), got {raw!r}")


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
    # Shown instead of a password the banner cannot print (one the person chose themselves).
    admin_password_note: str | None = None
    crew_password_note: str | None = None
    gate: DeliveryGate | None = None
    # Kept data (None: in moto's memory only): where, what was restored, the snapshots.
    data_dir: Path | None = None
    restored: str | None = None
    snapshotter: Snapshotter | None = None
    smtp_server: LocalSmtpServer | None = None
    smtp_target: str | None = None  # host:port the notifier sends to, when it uses SMTP
    stop_gateway: Callable[[], None] | None = field(default=None, repr=False)
    _cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    @property
    def table_name(self) -> str:
        tables = self.info.tables
        return tables.get("PaymentsTable") or next(iter(tables.values()), "")

    def close(self) -> None:
        """Stop taking requests, let the stream consumers deliver what is in the stream
        (kept data: up to DRAIN_SECONDS), stop them, keep a last snapshot, stop the rest."""
        snapshotter = self.snapshotter
        if snapshotter is not None:
            snapshotter.stop()
        if self.stop_gateway is not None:
            self.stop_gateway()
        if snapshotter is not None and len(self.pollers) and not self.pollers.drain(DRAIN_SECONDS):
            log.warning(
                "the stream consumers had not caught up after %.0f s; what they were "
                "not handed yet is kept and delivered after the next start",
                DRAIN_SECONDS,
            )
        # The current pollers: restart_stream_consumers may have replaced the first ones.
        self.pollers.stop()
        if snapshotter is not None:
            try:
                snapshotter.save(final=True, force=True)
                log.info("local data kept in %s", self.data_dir)
            except Exception:
                log.exception("the last snapshot failed; the one written before is kept")
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
            self.info, self.runner, self.moto_endpoint, resume_after=old.positions(), gate=self.gate
        )
        return killed


def start_stack(settings: Settings, *, announce: Callable[[str], None] = log.info) -> LocalStack:
    """Check PARAMS and the kept data, start moto (with Cognito's rules), the local SMTP relay
    when asked, the gateway (answering 503 meanwhile), deploy (Cognito first), the demo crew
    member, restore what was kept (before any poller starts), workers, pollers, the gateway's
    routes and authorizers, seed a fresh stack, then take snapshots while it runs."""
    quiet_moto()
    if settings.crew_email.strip().lower() == settings.admin_email.strip().lower():
        raise StartupError("CREW_EMAIL must differ from ADMIN_EMAIL")
    template = _read_template(settings.template_path)
    overrides, smtp_plan = resolve_parameters(template, settings)
    cleanup = contextlib.ExitStack()
    stack: LocalStack | None = None
    try:
        data_dir, snapshot = _open_data_dir(cleanup, settings, announce)
        moto_endpoint = _start_moto(cleanup)
        announce(f"moto server on {moto_endpoint}")
        settings.mail_dir.mkdir(parents=True, exist_ok=True)
        # Invitations and password-reset codes land in MAIL_DIR as .eml files.
        cleanup.enter_context(cognito_rules(settings.mail_dir))
        smtp_server, worker_env = _start_local_smtp(cleanup, smtp_plan, settings)
        if smtp_server is not None:
            announce(f"local SMTP server on {smtp_server.describe()}")
        gateway, stop_gateway = _start_gateway(cleanup, settings)
        password = settings.admin_password or generate_password()
        parameters = {**template_parameters(settings.admin_email, gateway.url), **overrides}
        # A kept user pool and app client get their ids back: tokens stay valid.
        with stable_cognito_ids(snapshot):
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
        people = _restoring(data_dir, lambda: restore_cognito(snapshot, info)) if snapshot else None
        admin = _settle_password(
            info,
            moto_endpoint,
            settings.admin_email,
            settings.admin_password,
            password,
            people,
            snapshot,
        )
        crew = (
            _settle_password(
                info,
                moto_endpoint,
                settings.crew_email,
                settings.crew_password,
                crew_password,
                people,
                snapshot,
            )
            if crew_password is not None
            else None
        )
        for address in verify_mail_senders(info, moto_endpoint):
            announce(f"SES sender identity verified in moto: {address}")
        for name in store_function_secrets(info, moto_endpoint, settings):
            announce(f"SSM SecureString {name} stored in moto (from SMTP_PASSWORD)")
        resume_after: dict[str, dict[str, str]] = {}
        restored = None
        if snapshot is not None:
            dynamodb = _moto_client("dynamodb", moto_endpoint)
            kept = snapshot
            tables = _restoring(
                data_dir,
                lambda: restore_tables(
                    kept,
                    info,
                    dynamodb,
                    _moto_client("dynamodbstreams", moto_endpoint),
                    moto_iterator_janitor(info.account_id, info.region),
                ),
            )
            resume_after = tables.resume_after
            # After the start positions were taken: these reach the stream consumers.
            replayed = _restoring(data_dir, lambda: tables.replay(dynamodb))
            restored = (
                f"{tables.items} items, {people.users if people else 0} people "
                f"(snapshot of {snapshot.get('written_at', '?')}"
                + (f"; {replayed} not yet delivered to the stream consumers" if replayed else "")
                + ")"
            )
            announce(f"restored from {data_dir.path if data_dir else '?'}: {restored}")
        runner = FunctionRunner.for_functions(
            info.functions,
            endpoint_url=moto_endpoint,
            region=info.region,
            repo_root=REPO_ROOT,
            max_workers=settings.max_workers,
            # The notifier's SpoolingSender keeps every sent mail here as an .eml file.
            extra_env={"MAIL_DIR": str(settings.mail_dir), **worker_env},
        )
        cleanup.callback(runner.stop)
        gate = DeliveryGate()
        pollers = _start_pollers(info, runner, moto_endpoint, resume_after=resume_after, gate=gate)
        # Registered after the runner, so it runs before it on the way down: no new batch
        # starts once workers are being stopped.
        cleanup.callback(pollers.stop)
        for poller in pollers:
            after = " (starts after the restored records)" if poller.name in resume_after else ""
            announce(f"stream poller: {describe(poller.settings)}{after}")
        # Registered again so that, on the way down, no request arrives once workers stop.
        cleanup.callback(stop_gateway)
        writes = _Counter()
        gateway.api = Api(
            routes=RouteTable(info.routes),
            cors=info.cors,
            invoke=_invoker(runner, writes),
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
            admin_password=admin.password,
            password_generated=admin.generated,
            runner=runner,
            mail_dir=settings.mail_dir,
            pollers=pollers,
            crew_email=settings.crew_email if crew is not None else None,
            crew_password=crew.password if crew is not None else None,
            crew_password_generated=crew.generated if crew is not None else False,
            admin_password_note=admin.note,
            crew_password_note=crew.note if crew is not None else None,
            gate=gate,
            data_dir=data_dir.path if data_dir is not None else None,
            restored=restored,
            smtp_server=smtp_server,
            smtp_target=smtp_plan.target if smtp_plan is not None else _smtp_target(overrides),
            stop_gateway=stop_gateway,
        )
        if settings.seed and snapshot is None:
            stack.seeded_event_ids = seed_demo_events(gateway.url, settings.admin_email, password)
            announce(f"seeded demo events: {', '.join(stack.seeded_event_ids)}")
        if data_dir is not None:
            stack.snapshotter = _start_snapshots(stack, data_dir, moto_endpoint, writes)
        gateway.ready.set()
        _write_stack_file(cleanup, settings.stack_file, stack)
    except BaseException:
        if stack is not None and stack.snapshotter is not None:
            stack.snapshotter.stop()
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


# --- PARAMS and the local SMTP relay ---------------------------------------------------------


def _read_template(path: Path) -> dict[str, Any]:
    try:
        return load_template(path)
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot read the template {path}: {exc}") from exc


@dataclass(frozen=True)
class SmtpPlan:
    """The local SMTP relay to start: where, how secured, whom it signs in."""

    host: str
    port: int
    security: str
    username: str | None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


def resolve_parameters(
    template: Mapping[str, Any], settings: Settings
) -> tuple[dict[str, str], SmtpPlan | None]:
    """PARAMS checked against the template (SMTP=1 fills in the local relay's address), and
    the local SMTP relay to start, if any. StartupError says what is wrong."""
    declared = template.get("Parameters") or {}
    overrides = dict(settings.parameter_overrides)
    name = settings.template_path.name
    if settings.smtp == "on":
        missing = [p for p in ("EmailTransport", "SmtpHost", "SmtpPort") if p not in declared]
        if missing:
            raise StartupError(f"SMTP=1: {name} has no parameter {', '.join(missing)}")
        if overrides.get("EmailTransport", "smtp") != "smtp":
            raise StartupError(
                "SMTP=1 starts a local SMTP server: PARAMS must not set EmailTransport"
            )
        overrides.setdefault("EmailTransport", "smtp")
        overrides.setdefault("SmtpHost", LOOPBACK)
        overrides.setdefault("SmtpPort", str(LOCAL_SMTP_PORT))
    try:
        validate_overrides(template, overrides, template_name=name)
    except ParameterError as exc:
        raise StartupError(str(exc)) from None
    resolved = stack_parameters(template, overrides)
    if resolved.get("EmailTransport", "ses").strip().lower() != "smtp":
        return overrides, None
    host = resolved.get("SmtpHost", "").strip()
    security = (resolved.get("SmtpSecurity") or "starttls").strip().lower()
    username = resolved.get("SmtpUser", "").strip() or None
    if username and settings.smtp_password is None:
        raise StartupError(
            f"PARAMS set SmtpUser={username}, so the notifier reads its SMTP password from an "
            "SSM parameter: give the password as SMTP_PASSWORD=... (or SCC_GMAIL_PASSWORD) in "
            "the environment; the local stack stores it in its own SSM"
        )
    raw_port = resolved.get("SmtpPort", "").strip()
    try:
        port = int(raw_port) if raw_port else _DEFAULT_SMTP_PORTS.get(security, 587)
    except ValueError:
        raise StartupError(f"SmtpPort must be a port number, got {raw_port!r}") from None
    if settings.smtp == "off" or not host or not is_loopback(host):
        if settings.smtp == "on":
            raise StartupError(
                f"SMTP=1 starts a local SMTP server: SmtpHost {host!r} is not loopback"
            )
        return overrides, None
    plan = SmtpPlan(host, port, security, username)
    if is_listening(host, port):
        if settings.smtp == "on":
            raise StartupError(
                f"SMTP=1: something already listens on {plan.target}; stop it, or drop SMTP=1 "
                "to send to it, or choose another SmtpPort"
            )
        log.info("SMTP: a server already listens on %s; the notifier sends to it", plan.target)
        return overrides, None
    return overrides, plan


def _smtp_target(overrides: Mapping[str, str]) -> str | None:
    if overrides.get("EmailTransport", "").lower() != "smtp":
        return None
    return f"{overrides.get('SmtpHost', '?')}:{overrides.get('SmtpPort', '(default)')}"


def _start_local_smtp(
    cleanup: contextlib.ExitStack, plan: SmtpPlan | None, settings: Settings
) -> tuple[LocalSmtpServer | None, dict[str, str]]:
    """The relay (stopped with the stack) and what the workers need to trust its TLS."""
    if plan is None:
        return None, {}
    worker_env: dict[str, str] = {}
    tls = None
    if plan.security != "none":
        folder = Path(tempfile.mkdtemp(prefix="devstack-smtp-tls-"))
        cleanup.callback(shutil.rmtree, folder, True)
        tls = make_tls_material(folder, (plan.host,))
        # The notifier verifies the relay's certificate with the default trust store, which
        # OpenSSL reads from SSL_CERT_FILE: only the local CA, only in the workers.
        worker_env["SSL_CERT_FILE"] = str(tls.ca_file)
    server = LocalSmtpServer(
        plan.host,
        plan.port,
        settings.smtp_dir,
        security=plan.security,
        tls=tls,
        username=plan.username,
        password=settings.smtp_password,
    )
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        hint = f"; choose SmtpPort={LOCAL_SMTP_PORT} in PARAMS" if plan.port < 1024 else ""
        raise StartupError(
            f"cannot start the local SMTP server on {plan.target}: {exc}{hint}"
        ) from exc
    cleanup.callback(server.stop)
    return server, worker_env


def store_function_secrets(info: StackInfo, moto_endpoint: str, settings: Settings) -> list[str]:
    """A function variable `<NAME>_PARAM` names an SSM SecureString it reads `<NAME>` from
    (shared/secrets.py); a deployed stack's operator creates it (docs/deploy.md). Locally the
    SMTP password comes from SMTP_PASSWORD (or SCC_GMAIL_PASSWORD) and is stored in moto's SSM.
    Returns the parameter names stored."""
    wanted: dict[str, str] = {}
    for spec in info.functions.values():
        for variable, parameter in spec.environment.items():
            if variable.endswith("_PARAM") and parameter.strip():
                secret = variable.removesuffix("_PARAM")
                if secret != "SMTP_PASSWORD":  # noqa: S105 - a variable name
                    raise StartupError(
                        f"{spec.logical_id} reads {secret} from the SSM parameter {parameter}; "
                        "the local stack only knows how to fill SMTP_PASSWORD"
                    )
                if settings.smtp_password is None:
                    raise StartupError(
                        f"{spec.logical_id} reads its SMTP password from the SSM parameter "
                        f"{parameter}: give it as SMTP_PASSWORD=... in the environment"
                    )
                wanted[parameter] = settings.smtp_password
    if wanted:
        ssm = _moto_client("ssm", moto_endpoint)
        for name, value in wanted.items():
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    return sorted(wanted)


# --- kept data -------------------------------------------------------------------------------


def _open_data_dir(
    cleanup: contextlib.ExitStack, settings: Settings, announce: Callable[[str], None]
) -> tuple[DataDir | None, dict[str, Any] | None]:
    """Lock DEV_DATA for this process, apply RESET=1, read the snapshot (refused when it is of
    a version this code does not read)."""
    if settings.data_dir is None:
        if settings.reset:
            announce("RESET=1: nothing to reset (no DEV_DATA: data lives in moto's memory)")
        return None, None
    data_dir = DataDir(settings.data_dir)
    try:
        data_dir.lock()
        cleanup.callback(data_dir.unlock)
        if settings.reset:
            removed = data_dir.reset()
            announce(
                f"RESET=1: starting clean in {data_dir.path}"
                + (f" (removed {', '.join(removed)})" if removed else "")
            )
        snapshot = data_dir.load()
    except DataError as exc:
        raise StartupError(str(exc)) from None
    if snapshot is None:
        announce(f"no kept data in {data_dir.path} yet: starting fresh")
    return data_dir, snapshot


def _restoring(data_dir: DataDir | None, step: Callable[[], _T]) -> _T:
    """One restore step; a failure (a template whose tables changed keys since, say) stops the
    start with what to do about it instead of a traceback."""
    try:
        return step()
    except (DataError, StartupError):
        raise
    except Exception as exc:
        where = data_dir.path if data_dir is not None else "DEV_DATA"
        raise StartupError(
            f"cannot restore the data kept in {where} into this template "
            f"({type(exc).__name__}: {exc}); "
            "start with RESET=1 to discard it (make dev RESET=1)"
        ) from exc


@dataclass(frozen=True)
class _Password:
    password: str
    generated: bool  # the banner may print it
    note: str | None = None  # printed instead when it may not


def _settle_password(
    info: StackInfo,
    moto_endpoint: str,
    email: str,
    given: str | None,
    created_with: str,
    people: RestoredPeople | None,
    snapshot: Mapping[str, Any] | None,
) -> _Password:
    """The password `email` signs in with after a restore: the one set in the environment
    (applied again), else the kept one (printed only if the local stack had generated it)."""
    kept = people.passwords.get(email.strip().lower()) if people is not None else None
    if kept is None:
        return _Password(given or created_with, given is None)
    if given is not None:
        cognito = info.cognito
        if cognito is not None and kept != given:
            _moto_client("cognito-idp", moto_endpoint).admin_set_user_password(
                UserPoolId=cognito.user_pool_id, Username=email, Password=given, Permanent=True
            )
        return _Password(given, False)
    if kept_generated_password(snapshot, email) == kept:
        return _Password(kept, True)
    return _Password(kept, False, "(unchanged since the last run)")


class _Counter:
    """Writes through the API (any method but GET, HEAD and OPTIONS): what makes a snapshot due."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._value += 1

    @property
    def value(self) -> int:
        return self._value


def _start_snapshots(
    stack: LocalStack, data_dir: DataDir, moto_endpoint: str, writes: _Counter
) -> Snapshotter:
    generated = {}
    if stack.password_generated:
        generated[stack.admin_email.lower()] = stack.admin_password
    if stack.crew_email and stack.crew_password and stack.crew_password_generated:
        generated[stack.crew_email.lower()] = stack.crew_password
    assert stack.gate is not None
    snapshotter = Snapshotter(
        data_dir=data_dir,
        info=stack.info,
        dynamodb=_moto_client("dynamodb", moto_endpoint),
        streams=_moto_client("dynamodbstreams", moto_endpoint),
        gate=stack.gate,
        pollers=lambda: stack.pollers,
        generated_passwords=generated,
    )
    # One right away: what this start restored, generated or seeded is kept from now on.
    snapshotter.save(force=True)

    def activity() -> int:
        return writes.value + sum(poller.invocations for poller in stack.pollers)

    snapshotter.start(activity)
    return snapshotter


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


def _invoker(
    runner: FunctionRunner, writes: _Counter | None = None
) -> Callable[[str, dict[str, Any]], Any]:
    def invoke(logical_id: str, event: dict[str, Any]) -> Any:
        if writes is not None:
            method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
            if str(method).upper() not in ("GET", "HEAD", "OPTIONS"):
                writes.add()
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
    gate: DeliveryGate | None = None,
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
            gate=gate,
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
        "data_dir": str(stack.data_dir) if stack.data_dir is not None else None,
        "smtp_dir": str(stack.smtp_server.folder) if stack.smtp_server is not None else None,
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
