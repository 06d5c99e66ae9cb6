"""`python -m devstack` (what `make dev` runs): the whole system on loopback, one command.

Settings come from the environment: PORT (8000; 0 picks a free port), ADMIN_EMAIL,
ADMIN_PASSWORD (random and printed when unset), CREW_EMAIL, CREW_PASSWORD (the demo crew
member; random and printed when unset), MAIL_DIR (DEV_DATA/mail, else .local/mail), STACK_FILE
(.local/stack.json), SEED (1), WORKERS (4 per function), TEMPLATE (template.yaml),
DEV_DATA (a directory to keep data in across restarts; unset: moto's memory only; `make dev`
sets .devdata), RESET (1: forget what DEV_DATA holds), PARAMS (template parameter overrides,
"Key=Value ..." as `sam deploy --parameter-overrides` takes them), SMTP (1: start a local
SMTP server for the notifier; 0: never; unset: when PARAMS point the notifier at a loopback
port nothing listens on) and SMTP_PASSWORD (the SMTP password when PARAMS set SmtpUser).
Ctrl-C or SIGTERM stops everything it started and exits 0 (with DEV_DATA: after the stream
consumers caught up and a last snapshot was written).

`kill -USR1 <pid>` plays a crash of the stream pollers (`make verify` uses it): they stop
mid-batch, the workers running their functions are killed, and new pollers resume from the
checkpoints, delivering the batch in flight again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from devstack.cognito import ProvisionError
from devstack.seed import SeedError
from devstack.stack import LocalStack, Settings, StartupError, start_stack
from devstack.template import DeployError

log = logging.getLogger("devstack")


class _StopRequested(Exception):
    """Raised in the main thread by the first SIGINT/SIGTERM."""


def _on_stop_signal(signum: int, _frame: FrameType | None) -> None:
    # A second signal while stopping means "now": workers notice their closed stdin and exit.
    signal.signal(signal.SIGINT, _force_exit)
    signal.signal(signal.SIGTERM, _force_exit)
    raise _StopRequested(signal.Signals(signum).name)


def _force_exit(_signum: int, _frame: FrameType | None) -> None:
    os._exit(1)


def _shown(password: str | None, generated: bool, note: str | None, variable: str) -> str:
    if generated and password:
        return password
    return note or f"(the {variable} you set)"


def banner(stack: LocalStack, settings: Settings) -> str:
    password = _shown(
        stack.admin_password, stack.password_generated, stack.admin_password_note, "ADMIN_PASSWORD"
    )
    consumers = ", ".join(p.name for p in stack.pollers) or "(no stream consumers in the template)"
    lines = [
        "",
        "SCC Payments local stack is up",
        f"  URL:       {stack.url}/",
        f"  Admin:     {stack.admin_email}   password: {password}",
    ]
    if stack.crew_email is not None:
        crew_password = _shown(
            stack.crew_password,
            stack.crew_password_generated,
            stack.crew_password_note,
            "CREW_PASSWORD",
        )
        lines.append(f"  Crew:      {stack.crew_email}   password: {crew_password}")
    cognito = stack.info.cognito
    if cognito is not None:
        lines.append(
            f"  Cognito:   user pool {cognito.user_pool_id}, app client {cognito.user_pool_client_id}"
        )
    lines += [
        f"  Mail dir:  {settings.mail_dir}   (one .eml file per mail sent, invitations included)",
    ]
    if stack.smtp_server is not None:
        lines.append(f"  SMTP:      local server {stack.smtp_server.describe()}")
    elif stack.smtp_target is not None:
        lines.append(f"  SMTP:      the notifier sends to {stack.smtp_target}")
    lines += [
        f"  Streams:   {consumers}",
        f"  moto:      {stack.moto_endpoint}   (table {stack.table_name})",
        "  Totals check: make reconcile",
    ]
    if stack.data_dir is not None:
        lines.append(
            f"  Data:      kept in {stack.data_dir} (every few seconds and at Ctrl-C); "
            "make dev RESET=1 starts clean"
        )
        if stack.restored:
            lines.append(f"             restored: {stack.restored}")
    else:
        lines.append("  Data lives in moto's memory: it is gone when this process stops.")
    lines += ["  Ctrl-C to stop.", ""]
    return "\n".join(lines)


def main() -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    try:
        settings = Settings.from_env(os.environ)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    signal.signal(signal.SIGINT, _on_stop_signal)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    restart_requested = threading.Event()
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: restart_requested.set())
    stack: LocalStack | None = None
    try:
        stack = start_stack(settings)
        print(banner(stack, settings), flush=True)
        while True:
            if restart_requested.wait(1.0):
                restart_requested.clear()
                killed = stack.restart_stream_consumers()
                log.info(
                    "stream pollers restarted after a crash (workers killed: %s); "
                    "resuming from their checkpoints",
                    ", ".join(f"{name} {count}" for name, count in killed.items()),
                )
    except _StopRequested as stop:
        log.info("%s received: stopping", stop)
        return 0
    except (StartupError, SeedError, DeployError, ProvisionError) as exc:
        log.error("the local stack failed to start: %s", exc)
        return 1
    except Exception:
        log.exception("the local stack failed to start")
        return 1
    finally:
        if stack is not None:
            stack.close()
            log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
