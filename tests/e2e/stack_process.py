"""The real local stack (`python -m devstack`) as a subprocess: start it, wait until it is
healthy, stop it by its PID. Used by the e2e fixtures and by tests that need a stack of their own.

Two people can sign in at once: the first admin (ADMIN_EMAIL) and the demo crew member
(CREW_EMAIL), both with passwords chosen here; the rest of what the stack is (its moto
endpoint, tables, user pool, app client and issuer) is in its stack file (`details()`)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class StackProcess:
    """A running `python -m devstack` and how to reach it."""

    url: str
    admin_email: str
    admin_password: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stack_file: Path
    mail_dir: Path  # MAIL_DIR: one .eml per sent mail (notifier, Cognito invitations and codes)
    crew_email: str = ""
    crew_password: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def details(self) -> dict[str, Any]:
        """The stack file: url, moto_endpoint, region, tables, functions, mail_dir,
        user_pool_id, user_pool_client_id, issuer."""
        return dict(json.loads(self.stack_file.read_text(encoding="utf-8")))

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM (what Ctrl-C/`kill` send), then SIGKILL if it does not go; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


def _stack_environment(
    workdir: Path,
    admin_email: str,
    admin_password: str,
    crew_email: str,
    crew_password: str,
    **extra: str,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "PORT": "0",
            "ADMIN_EMAIL": admin_email,
            "ADMIN_PASSWORD": admin_password,
            "CREW_EMAIL": crew_email,
            "CREW_PASSWORD": crew_password,
            "MAIL_DIR": str(workdir / "mail"),
            "STACK_FILE": str(workdir / "stack.json"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def start_stack_process(workdir: Path, **extra_env: str) -> StackProcess:
    """Start the local stack and wait until /api/health answers 200 (after seeding)."""
    workdir.mkdir(parents=True, exist_ok=True)
    admin_email = "e2e-admin@scc.local"
    admin_password = new_password()
    crew_email = "e2e-crew@scc.local"
    crew_password = new_password()
    log_path = workdir / "devstack.log"
    stack_file = workdir / "stack.json"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=REPO_ROOT,
            env=_stack_environment(
                workdir, admin_email, admin_password, crew_email, crew_password, **extra_env
            ),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = _wait_until_healthy(process, stack_file, log_path)
    mail_dir = Path(extra_env.get("MAIL_DIR", workdir / "mail"))
    return StackProcess(
        url,
        admin_email,
        admin_password,
        process,
        log_path,
        stack_file,
        mail_dir,
        crew_email=crew_email,
        crew_password=crew_password,
    )


def new_password() -> str:
    """A password any Cognito password policy accepts (all four character classes, 24 long)."""
    return f"Aa1!{secrets.token_urlsafe(15)}"


def _wait_until_healthy(process: subprocess.Popen[bytes], stack_file: Path, log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    last_problem = "no stack file yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"python -m devstack exited with {process.returncode} before it was healthy:\n"
                + log_path.read_text(errors="replace")
            )
        url = _url_from(stack_file)
        if url is not None:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=5) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return url
            except (urllib.error.URLError, OSError) as exc:
                last_problem = str(exc)
        time.sleep(0.25)
    process.kill()
    process.wait()
    raise RuntimeError(
        f"the local stack was not healthy within {START_TIMEOUT_SECONDS:.0f} s ({last_problem}):\n"
        + log_path.read_text(errors="replace")
    )


def _url_from(stack_file: Path) -> str | None:
    try:
        return str(json.loads(stack_file.read_text(encoding="utf-8"))["url"])
    except (FileNotFoundError, ValueError, KeyError):
        return None
