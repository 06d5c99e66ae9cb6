"""`make dev` keeps its data across restarts (DEV_DATA), RESET=1 starts clean, and PARAMS can
send the notifier's mail over SMTP to the local aiosmtpd server: the local stack run as a
subprocess (`python -m devstack`, as `make dev` runs it), stopped by its PID.

Four stack starts in all, shared by the tests of this module:
1. the first run logs an event, payments, a void and a close-out, invites two people (one
   chooses a password, one is disabled), and is stopped gracefully;
2. the second run, on the same data directory, must show all of it and mail nothing twice;
3. a copy of that directory is started with RESET=1 (empty), with the notifier pointed at an
   SMTP port nothing listens on, and killed (SIGKILL) before a payment's mail could go out;
4. the restart after the kill starts the local SMTP server on that port: the mail arrives there
   as an `.eml`, exactly once.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.cognito import INVITATION, filled_in, mail_text, read_mails
from devstack.smtp import is_listening
from devstack.template import load_template
from tests.e2e.api_client import HttpReply, http, sign_in_as, uuid7
from tests.e2e.stack_process import REPO_ROOT, StackProcess, new_password, start_stack_process

pytestmark = pytest.mark.e2e

DEADLINE_SECONDS = 60.0
SMTP_USER = "dispatch@scc.example"
SMTP_PASSWORD = "local-app-password"
NOTIFY = "owner@scc.example"
INVITED = "e2e-invited@scc.local"
DISABLED = "e2e-disabled@scc.local"
_PAYMENT_ID_LINE = re.compile(r"^Payment id:\s+(\S+)\s*$", re.MULTILINE)
_CREW_LINE = re.compile(r"^\s*Crew:\s+\S+\s+password: (\S+)\s*$", re.MULTILINE)


# --- helpers -----------------------------------------------------------------------------------


def eventually(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_SECONDS) -> Any:
    """Poll `condition` until it returns something truthy (returned), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


def ok(reply: HttpReply, *statuses: int) -> Any:
    assert reply.status in (statuses or (200,)), reply.raw[:500]
    return reply.json


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(workdir: Path, data_dir: Path, passwords: tuple[str, str], **env: str) -> StackProcess:
    """The local stack keeping its data in `data_dir` (mail in data_dir/mail), with the given
    admin password; CREW_PASSWORD="" lets the stack generate (and print) the crew's."""
    admin_password, crew_password = passwords
    stack = start_stack_process(
        workdir,
        DEV_DATA=str(data_dir),
        MAIL_DIR=str(data_dir / "mail"),
        SEED="0",
        ADMIN_PASSWORD=admin_password,
        CREW_PASSWORD=crew_password,
        **env,
    )
    printed = _CREW_LINE.search(stack.output())
    crew = crew_password or (printed.group(1) if printed else "")
    return dataclasses.replace(stack, admin_password=admin_password, crew_password=crew)


def kill(stack: StackProcess) -> None:
    """SIGKILL the stack this test started (by its PID), as a crash or `kill -9` would."""
    if stack.process.poll() is None:
        os.kill(stack.pid, signal.SIGKILL)
        stack.process.wait(timeout=30)


def mails(folder: Path) -> Counter[tuple[str, str]]:
    """(logged|voided, payment id) -> how many admin mails `folder` holds for it."""
    found: Counter[tuple[str, str]] = Counter()
    for path in folder.glob("*.eml") if folder.is_dir() else ():
        message: Any = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        match = _PAYMENT_ID_LINE.search(body.get_content()) if body is not None else None
        if match is None:
            continue
        kind = "voided" if str(message["Subject"]).startswith("Payment voided") else "logged"
        found[kind, match.group(1)] += 1
    return found


def create_event(stack: StackProcess, token: str, name: str) -> str:
    body = {"event_name": f"{name} {uuid7()[-6:]}", "date": "2026-09-12"}
    return str(ok(http(f"{stack.url}/api/events", "POST", body=body, token=token), 201)["event_id"])


def log_payment(stack: StackProcess, token: str, event_id: str, amount: str, method: str) -> str:
    payment_id = uuid7()
    body = {
        "payment_id": payment_id,
        "patron_name": f"Patron {amount}",
        "amount": amount,
        "payment_method": method,
    }
    ok(http(f"{stack.url}/api/g/{event_id}/payment", "POST", body=body, token=token), 201)
    return payment_id


def event_view(stack: StackProcess, token: str, event_id: str) -> dict[str, Any]:
    return dict(ok(http(f"{stack.url}/api/events/{event_id}", token=token)))


def people(stack: StackProcess, token: str) -> dict[str, dict[str, Any]]:
    listed = ok(http(f"{stack.url}/api/people", token=token))["people"]
    return {person["email"]: person for person in listed}


def invitation_password(stack: StackProcess, recipient: str) -> str:
    pool = load_template(REPO_ROOT / "template.yaml")["Resources"]["UserPool"]["Properties"]
    template = pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]
    invitation = eventually(
        lambda: read_mails(stack.mail_dir, INVITATION, recipient), f"invitation to {recipient}"
    )[-1]
    return filled_in(mail_text(invitation), template)


def log_in(stack: StackProcess, email_address: str, password: str) -> HttpReply:
    return http(
        f"{stack.url}/api/auth/login",
        "POST",
        body={"email": email_address, "password": password},
    )


# --- the first run, and the second one on the same data ------------------------------------------


@dataclass
class FirstRun:
    workdir: Path
    data_dir: Path
    passwords: tuple[str, str]  # ADMIN_PASSWORD, and "" so that the crew's is generated
    crew_password: str  # the one the first run generated and printed
    event_id: str
    payments: list[str]
    voided: str
    event: dict[str, Any]
    payment_page: dict[str, Any]
    closeouts: dict[str, Any]
    people: dict[str, dict[str, Any]]
    invited_password: str
    id_token: str
    refresh_token: str
    copy_for_reset: Path


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    workdir = tmp_path_factory.mktemp("kept-data")
    data_dir = workdir / "data"
    passwords = (new_password(), "")
    stack = start(workdir / "first", data_dir, passwords)
    try:
        admin = sign_in_as(stack, stack.admin_email, stack.admin_password)
        token = admin.token
        event_id = create_event(stack, token, "Kept")
        payments = [
            log_payment(stack, token, event_id, "10.00", "cash"),
            log_payment(stack, token, event_id, "20.50", "card"),
            log_payment(stack, token, event_id, "5.25", "venmo"),
        ]
        voided = payments[2]
        ok(
            http(
                f"{stack.url}/api/g/{event_id}/payments/{voided}/void",
                "POST",
                body={"reason": "logged twice"},
                token=token,
            ),
            201,
        )
        eventually(
            lambda: (event_view(stack, token, event_id)["summary"] or {}).get("void_count") == 1,
            "the summary to count three payments and the void",
        )
        counted = {"cash": "10.00", "card": "20.50", "check": "0", "venmo": "0", "other": "0"}
        ok(
            http(
                f"{stack.url}/api/g/{event_id}/closeouts",
                "POST",
                body={"counted": counted},
                token=token,
            ),
            201,
        )
        # Two people invited: one chooses a password, one is disabled
        for address, name in ((INVITED, "Pat Invited"), (DISABLED, "Dana Disabled")):
            invite = {"email": address, "name": name, "role": "crew"}
            ok(http(f"{stack.url}/api/people", "POST", body=invite, token=token), 201)
        challenge = ok(log_in(stack, INVITED, invitation_password(stack, INVITED)))
        assert challenge["challenge"] == "NEW_PASSWORD_REQUIRED"
        invited_password = new_password()
        answer = {
            "email": INVITED,
            "session": challenge["session"],
            "challenge": "NEW_PASSWORD_REQUIRED",
            "new_password": invited_password,
        }
        assert ok(http(f"{stack.url}/api/auth/challenge", "POST", body=answer))["status"] == (
            "signed_in"
        )
        disabled_id = people(stack, token)[DISABLED]["person_id"]
        ok(http(f"{stack.url}/api/people/{disabled_id}/disable", "POST", token=token))
        eventually(
            lambda: (
                mails(stack.mail_dir)
                == Counter({**{("logged", p): 1 for p in payments}, ("voided", voided): 1})
            ),
            "one mail per payment and one for the void",
        )
        event = eventually(
            lambda: (e := event_view(stack, token, event_id))["summary"]["closeout"] and e,
            "the close-out in the summary",
        )
        run = FirstRun(
            workdir=workdir,
            data_dir=data_dir,
            passwords=passwords,
            crew_password=stack.crew_password,
            event_id=event_id,
            payments=payments,
            voided=voided,
            event=event,
            payment_page=ok(http(f"{stack.url}/api/g/{event_id}/payments", token=token)),
            closeouts=ok(http(f"{stack.url}/api/g/{event_id}/closeouts", token=token)),
            people=people(stack, token),
            invited_password=invited_password,
            id_token=token,
            refresh_token=str(admin.refresh_token),
            copy_for_reset=workdir / "data-copy",
        )
    finally:
        code = stack.stop()
    assert code == 0, stack.output()
    shutil.copytree(data_dir, run.copy_for_reset)
    return run


@pytest.fixture(scope="module")
def second_run(first_run: FirstRun) -> Iterator[StackProcess]:
    stack = start(first_run.workdir / "second", first_run.data_dir, first_run.passwords)
    try:
        yield stack
    finally:
        stack.stop()


def test_totals_payment_pages_and_close_outs_are_back_after_a_restart(
    first_run: FirstRun, second_run: StackProcess
) -> None:
    # Given the first run logged payments, a void and a close-out and was stopped
    # When the stack starts again on the same data directory
    token = sign_in_as(second_run, second_run.admin_email, second_run.admin_password).token
    event_id = first_run.event_id

    # Then the event with its totals, its payment page and its close-out are as they were
    assert event_view(second_run, token, event_id) == first_run.event
    page = ok(http(f"{second_run.url}/api/g/{event_id}/payments", token=token))
    assert page == first_run.payment_page
    closeouts = ok(http(f"{second_run.url}/api/g/{event_id}/closeouts", token=token))
    assert closeouts == first_run.closeouts
    assert "restored: " in second_run.output()


def test_people_sign_in_again_with_the_passwords_they_had(
    first_run: FirstRun, second_run: StackProcess
) -> None:
    # Given a person who chose a password, a disabled one and a generated crew password
    # When the stack has restarted
    # Then everyone is listed as before (same ids, roles, status, enabled flag) ...
    admin = sign_in_as(second_run, second_run.admin_email, second_run.admin_password)
    assert people(second_run, admin.token) == first_run.people
    assert first_run.people[DISABLED]["enabled"] is False
    # ... the invited person signs in with the password they chose ...
    assert sign_in_as(second_run, INVITED, first_run.invited_password).user["email"] == INVITED
    # ... the disabled one still cannot ...
    assert log_in(second_run, DISABLED, "whatever-they-had-1").status == 401
    # ... and the crew member's generated password is printed again, and works
    assert second_run.crew_password == first_run.crew_password
    sign_in_as(second_run, second_run.crew_email, first_run.crew_password)


def test_a_session_from_before_the_restart_goes_on(
    first_run: FirstRun, second_run: StackProcess
) -> None:
    # Given tokens issued by the first run (the pool and app client keep their ids)
    # Then the ID token is still accepted and the refresh token still refreshes
    assert http(f"{second_run.url}/api/events", token=first_run.id_token).status == 200
    refreshed = http(
        f"{second_run.url}/api/auth/refresh",
        "POST",
        body={"refresh_token": first_run.refresh_token},
    )
    assert ok(refreshed)["status"] == "signed_in"


def test_no_mail_is_sent_twice_after_a_restart(
    first_run: FirstRun, second_run: StackProcess
) -> None:
    # Given the first run mailed every payment and the void once
    token = sign_in_as(second_run, second_run.admin_email, second_run.admin_password).token

    # When a new payment is logged after the restart and its mail has gone out (the notifier
    # reads the stream in order: anything restored that it was handed would have gone first)
    later = log_payment(second_run, token, create_event(second_run, token, "After"), "7.00", "cash")
    eventually(lambda: mails(second_run.mail_dir)["logged", later], "the new payment's mail")

    # Then the mail directory holds exactly one mail per payment and for the void
    expected = {("logged", p): 1 for p in [*first_run.payments, later]}
    assert mails(second_run.mail_dir) == Counter({**expected, ("voided", first_run.voided): 1})


# --- RESET=1, a kill -9, and the SMTP path --------------------------------------------------------


@dataclass
class ResetRun:
    stack: StackProcess
    data_dir: Path
    smtp_port: int
    env: dict[str, str]
    events: list[Any]
    people: set[str]
    invited_login: int
    mail_files: list[str]


@pytest.fixture(scope="module")
def reset_run(first_run: FirstRun) -> Iterator[ResetRun]:
    """A copy of the first run's data started with RESET=1; the notifier sends over SMTP (as
    with Gmail: STARTTLS, a user, the password in SSM) to a loopback port nothing listens on."""
    port = free_port()
    env = {
        "PARAMS": (
            f"EmailTransport=smtp SmtpHost=127.0.0.1 SmtpPort={port} "
            f"SmtpUser={SMTP_USER} AdminNotifyEmails={NOTIFY}"
        ),
        "SMTP_PASSWORD": SMTP_PASSWORD,
    }
    data_dir = first_run.copy_for_reset
    stack = start(
        first_run.workdir / "reset", data_dir, first_run.passwords, RESET="1", SMTP="0", **env
    )
    try:
        token = sign_in_as(stack, stack.admin_email, stack.admin_password).token
        yield ResetRun(
            stack=stack,
            data_dir=data_dir,
            smtp_port=port,
            env=env,
            events=ok(http(f"{stack.url}/api/events", token=token))["events"],
            people=set(people(stack, token)),
            invited_login=log_in(stack, INVITED, first_run.invited_password).status,
            mail_files=sorted(p.name for p in stack.mail_dir.glob("*.eml")),
        )
    finally:
        stack.stop()


def test_reset_starts_an_empty_stack(reset_run: ResetRun) -> None:
    # Given a data directory holding the first run's events, people and mail
    # When the stack starts on it with RESET=1
    stack = reset_run.stack

    # Then there are no events, only the stack's own two people, and no kept mail
    assert reset_run.events == []
    assert reset_run.people == {stack.admin_email, stack.crew_email}
    assert reset_run.invited_login == 401
    assert reset_run.mail_files == []


def test_a_mail_not_sent_before_a_kill_goes_out_once_over_smtp_after_the_restart(
    first_run: FirstRun, reset_run: ResetRun
) -> None:
    # Given a payment whose mail cannot go out (nothing listens on the SMTP port)
    stack = reset_run.stack
    token = sign_in_as(stack, stack.admin_email, stack.admin_password).token
    waiting = log_payment(stack, token, create_event(stack, token, "Killed"), "42.00", "card")
    snapshot_file = reset_run.data_dir / "snapshot.json"

    def kept_as_pending() -> bool:
        kept = json.loads(snapshot_file.read_text(encoding="utf-8"))
        return any(waiting in key for key in kept["pending"].get("PaymentsTable", []))

    eventually(kept_as_pending, "a snapshot keeping the payment as not yet mailed")

    # When the stack is killed (no graceful stop) and started again with the same PARAMS,
    # now with nothing listening on that port, so it starts its own SMTP server there
    kill(stack)
    smtp_dir = reset_run.data_dir / "smtp"
    assert mails(smtp_dir)["logged", waiting] == 0
    again = start(
        first_run.workdir / "after-kill", reset_run.data_dir, first_run.passwords, **reset_run.env
    )
    try:
        assert f"local SMTP server on 127.0.0.1:{reset_run.smtp_port}" in again.output()
        # Then the payment's mail arrives at the SMTP server as an .eml file ...
        eventually(lambda: mails(smtp_dir)["logged", waiting], "the payment's mail over SMTP")
        # ... and, once a later payment's mail went out too, it was sent exactly once
        token = sign_in_as(again, again.admin_email, again.admin_password).token
        later = log_payment(again, token, create_event(again, token, "Later"), "3.00", "cash")
        eventually(lambda: mails(smtp_dir)["logged", later], "the later payment's mail")
        assert mails(smtp_dir) == Counter({("logged", waiting): 1, ("logged", later): 1})
        assert mails(again.mail_dir) == mails(smtp_dir)
        received = next(
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(smtp_dir.glob("*.eml"))
        )
        assert str(received["To"]) == NOTIFY
        assert str(received["Subject"]).startswith("Payment logged: $42.00")
    finally:
        code = again.stop()
    # And the stack stopped the SMTP server it had started
    assert code == 0, again.output()
    assert not is_listening("127.0.0.1", reset_run.smtp_port)
