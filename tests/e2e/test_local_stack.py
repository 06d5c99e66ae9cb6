"""The local stack end to end, over HTTP: what `make dev` gives a developer, and the README's
curl walk-through, against the real handlers running in their worker processes on moto."""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.api_client import SignedIn, assert_error_envelope, http, sign_in, uuid7
from tests.e2e.stack_process import StackProcess, start_stack_process

pytestmark = pytest.mark.e2e


# --- the stack is up -------------------------------------------------------------------------


def test_health_answers_ok_once_the_stack_is_up(local_stack: StackProcess) -> None:
    reply = http(local_stack.url + "/api/health")

    assert reply.status == 200
    assert reply.json == {"status": "ok"}


def test_the_frontend_index_is_served_as_html(local_stack: StackProcess) -> None:
    reply = http(local_stack.url + "/")

    assert reply.status == 200
    assert reply.header("content-type").startswith("text/html")
    # Relative: served at the site root, the page's `app.js` and `api/...` resolve under `/`
    assert b'<script type="module" src="app.js">' in reply.raw
    assert "script-src 'self'" in reply.header("content-security-policy")


def test_the_frontend_script_and_styles_have_their_content_types(local_stack: StackProcess) -> None:
    script, styles = http(local_stack.url + "/app.js"), http(local_stack.url + "/app.css")

    assert script.status == 200
    assert script.header("content-type").startswith("text/javascript")
    assert styles.status == 200
    assert styles.header("content-type").startswith("text/css")
    for sink in (b"innerHTML", b"outerHTML", b"insertAdjacentHTML", b"document.write"):
        assert sink not in script.raw


def test_the_demo_events_are_seeded_through_the_api(local_stack: StackProcess) -> None:
    reply = http(local_stack.url + "/api/events", token=sign_in(local_stack))

    assert reply.status == 200
    names = {event["event_name"] for event in reply.json["events"]}
    assert {"Corporate Mixer", "Sunset Cruise"} <= names


def test_the_printed_banner_names_both_people_but_not_passwords_it_was_given(
    local_stack: StackProcess,
) -> None:
    output = local_stack.output()

    assert local_stack.url in output
    assert local_stack.admin_email in output
    assert local_stack.crew_email in output
    # Passwords set through the environment are the developer's own: never echoed.
    assert local_stack.admin_password not in output
    assert local_stack.crew_password not in output
    assert "(the ADMIN_PASSWORD you set)" in output
    assert "moto's memory" in output


def test_the_stack_file_says_which_user_pool_and_client_to_trust(
    local_stack: StackProcess,
) -> None:
    details = local_stack.details()

    assert details["user_pool_id"].startswith(details["region"] + "_")
    assert details["user_pool_client_id"]
    assert details["issuer"] == (
        f"https://cognito-idp.{details['region']}.amazonaws.com/{details['user_pool_id']}"
    )


def test_both_people_sign_in_with_their_roles(
    admin_session: SignedIn, crew_session: SignedIn, local_stack: StackProcess
) -> None:
    assert admin_session.user["email"] == local_stack.admin_email
    assert admin_session.user["role"] == "admin"
    assert crew_session.user["email"] == local_stack.crew_email
    assert crew_session.user["role"] == "crew"
    assert admin_session.token != crew_session.token


# --- the README walk-through -----------------------------------------------------------------


def test_the_readme_walk_through_logs_replays_and_lists_a_payment(
    local_stack: StackProcess,
) -> None:
    api = local_stack.url + "/api"
    # Given a signed-in admin and a new event
    token = sign_in(local_stack)
    name = f"Harbor Lights Cruise {secrets.token_hex(3)}"
    created = http(
        api + "/events",
        "POST",
        token=token,
        body={
            "event_name": name,
            "date": "2026-06-14",
            "location": "Dock 3",
            "expected_total": "2400.00",
        },
    )
    assert created.status == 201, created.raw
    event_id = created.json["event_id"]
    assert event_id.startswith("2026-06-14-harbor-lights-cruise-")
    payment_url = f"{api}/g/{event_id}/payment"
    payment = {
        "payment_id": uuid7(),
        "patron_name": "John Smith",
        "amount": "150.00",
        "payment_method": "card",
        "notes": "CC ending 4242",
    }

    # When the payment is logged
    logged = http(payment_url, "POST", token=token, body=payment)
    # Then it is created
    assert logged.status == 201, logged.raw
    assert logged.json["status"] == "success"
    assert logged.json["payment_id"] == payment["payment_id"]

    # When the same request is replayed (a retry after a lost response)
    replayed = http(payment_url, "POST", token=token, body=payment)
    # Then the original result comes back
    assert replayed.status == 200, replayed.raw
    assert replayed.json["payment_id"] == logged.json["payment_id"]
    assert replayed.json["timestamp"] == logged.json["timestamp"]

    # When the same payment_id arrives with another body
    conflict = http(payment_url, "POST", token=token, body={**payment, "amount": "999.00"})
    # Then it is a conflict
    assert_error_envelope(conflict, 409)

    # When the event's payments are listed
    listed = http(f"{api}/g/{event_id}/payments", token=token)
    # Then the payment is there once, exactly as logged, by the signed-in admin
    assert listed.status == 200, listed.raw
    payments = [p for p in listed.json["payments"] if p["payment_id"] == payment["payment_id"]]
    assert len(payments) == 1
    assert payments[0]["amount"] == "150.00"
    assert payments[0]["amount_cents"] == 15000
    assert payments[0]["logged_by"] == local_stack.admin_email
    assert payments[0]["patron_name"] == "John Smith"


def test_writing_without_a_token_is_refused_by_the_authorizer(local_stack: StackProcess) -> None:
    reply = http(
        local_stack.url + "/api/events",
        "POST",
        body={"event_name": "Sneaky", "date": "2026-07-01"},
    )

    # API Gateway's own 401: the function never ran
    assert reply.status == 401
    assert reply.json == {"message": "Unauthorized"}
    assert reply.header("www-authenticate").startswith("Bearer ")


# --- the gateway itself ----------------------------------------------------------------------


def test_an_unknown_api_route_is_a_json_404(local_stack: StackProcess) -> None:
    reply = http(local_stack.url + "/api/definitely/not/a/route")

    assert_error_envelope(reply, 404, "not_found")
    assert reply.json["error"]["fields"] == {}


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "PATCH"])
def test_a_method_no_route_takes_is_a_json_404_like_api_gateway_not_an_html_501(
    local_stack: StackProcess, method: str
) -> None:
    reply = http(local_stack.url + "/api/events", method=method)

    assert_error_envelope(reply, 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/../template.yaml",
        "/%2e%2e/template.yaml",
        "/%2e%2e%2ftemplate.yaml",
        "/..%2f..%2fetc%2fpasswd",
        "/frontend/../template.yaml",
        "/.local/stack.json",
    ],
)
def test_static_paths_never_leak_files_outside_the_frontend(
    local_stack: StackProcess, path: str
) -> None:
    reply = http(local_stack.url + path)

    assert reply.status == 404
    assert b"AWSTemplateFormatVersion" not in reply.raw
    assert b"root:" not in reply.raw


def test_a_preflight_from_the_allowed_origin_gets_cors_headers(local_stack: StackProcess) -> None:
    reply = http(
        local_stack.url + "/api/events",
        "OPTIONS",
        headers={
            "Origin": local_stack.url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )

    assert reply.status == 204
    assert reply.header("access-control-allow-origin") == local_stack.url


def test_another_origin_gets_no_cors_headers(local_stack: StackProcess) -> None:
    reply = http(local_stack.url + "/api/health", headers={"Origin": "http://evil.example"})

    assert reply.status == 200
    assert reply.header("access-control-allow-origin") == ""


def test_a_body_over_one_mebibyte_is_refused_at_the_gateway(local_stack: StackProcess) -> None:
    reply = http(local_stack.url + "/api/events", "POST", raw_body=b"x" * (1024 * 1024 + 1))

    assert_error_envelope(reply, 413)


# --- stopping --------------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    children: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent has not reaped it yet).
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_sigterm_stops_the_stack_and_its_workers_and_exits_zero(tmp_path: Path) -> None:
    # Given a stack that has started worker processes
    stack = start_stack_process(tmp_path / "stack", SEED="0")
    try:
        assert http(stack.url + "/api/health").status == 200  # public: starts a worker
        workers = _children(stack.pid)
        assert workers, "expected at least one worker process"
        assert stack.stack_file.exists()
    except BaseException:
        stack.process.kill()
        stack.process.wait()
        raise

    # When it receives SIGTERM
    code = stack.stop()

    # Then it exits 0, its workers are gone and its stack file is removed
    assert code == 0, stack.output()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert not stack.stack_file.exists()
    assert "stopped" in stack.output()


def test_the_stack_refuses_to_start_on_a_bad_setting(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="PORT must be"):
        start_stack_process(tmp_path / "bad", PORT="not-a-port")


def test_sigint_is_as_clean_as_sigterm(tmp_path: Path) -> None:
    stack = start_stack_process(tmp_path / "stack", SEED="0")
    try:
        stack.process.send_signal(signal.SIGINT)
        assert stack.process.wait(timeout=30) == 0, stack.output()
    finally:
        if stack.process.poll() is None:  # never leave a stack running after a failure
            stack.stop()
