"""`python -m devstack` (what `make dev` runs): the whole system on loopback, one command.

Settings come from the environment: PORT (8000; 0 picks a free port), ADMIN_EMAIL,
ADMIN_PASSWORD (random and printed when unset), CREW_EMAIL, CREW_PASSWORD (the demo crew
member; random and printed when unset), MAIL_DIR (.local/mail), STACK_FILE
(.local/stack.json), SEED (1), WORKERS (4 per function), TEMPLATE (template.yaml).
Ctrl-C or SIGTERM stops everything it started and exits 0.

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


def banner(stack: LocalStack, settings: Settings) -> str:
    password = stack.admin_password if stack.password_generated else "(the ADMIN_PASSWORD you set)"
    consumers = ", ".join(p.name for p in stack.pollers) or "(no stream consumers in the template)"
    lines = [
        "",
        "SCC Payments local stack is up",
        f"  URL:       {stack.url}/",
        f"  Admin:     {stack.admin_email}   password: {password}",
    ]
    if stack.crew_email is not None:
        crew_password = (
            stack.crew_password if stack.crew_password_generated else "(the CREW_PASSWORD you set)"
        )
        lines.append(f"  Crew:      {stack.crew_email}   password: {crew_password}")
    cognito = stack.info.cognito
    if cognito is not None:
        lines.append(
            f"  Cognito:   user pool {cognito.user_pool_id}, app client {cognito.user_pool_client_id}"
        )
    lines += [
        f"  Mail dir:  {settings.mail_dir}   (one .eml file per mail sent, invitations included)",
        f"  Streams:   {consumers}",
        f"  moto:      {stack.moto_endpoint}   (table {stack.table_name})",
        "  Totals check: make reconcile",
        "  Data lives in moto's memory: it is gone when this process stops.",
        "  Ctrl-C to stop.",
        "",
    ]
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
