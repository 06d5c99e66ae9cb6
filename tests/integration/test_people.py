"""Signing in through Cognito and the admin's People routes, through the PeopleFunction.

Cognito is moto's, played by the AWS rules where moto lacks them (devstack.cognito): the
invitation and the reset code arrive as e-mails in `mail_dir`, token lifetimes follow the app
client, and a wrong reset code is refused.
"""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CREW_EMAIL,
    CREW_PASSWORD,
    Api,
    assert_error,
    payment_body,
)

NEW_PASSWORD = "a much longer passphrase"


def _mails(mail_dir: Path, kind: str) -> list[Any]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(mail_dir.glob(f"*{kind}*.eml"))
    ]


def _body(message: Any) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return str(part.get_content())


def _invite(api: Api, token: str, address: str, role: str = "crew", name: str = "Dee Hand") -> Any:
    return api.call(
        "POST", "/api/people", body={"email": address, "name": name, "role": role}, token=token
    )


def _temporary_password(mail_dir: Path, address: str) -> str:
    mail = next(m for m in _mails(mail_dir, "invitation") if address in str(m["To"]))
    match = re.search(r"temporary password (\S+?)(?: -|\s|$)", _body(mail))
    assert match, _body(mail)
    return match.group(1)


def _person(api: Api, token: str, address: str) -> dict[str, Any]:
    reply = api.call("GET", "/api/people", token=token)
    assert reply.status == 200, reply.raw
    return next(p for p in reply.body["people"] if p["email"] == address)


def _post(api: Api, path: str, person_id: str, token: str, **body: Any) -> Any:
    kwargs: dict[str, Any] = {"path_params": {"person_id": person_id}, "token": token}
    if body:
        kwargs["body"] = body
    return api.call("POST", path, **kwargs)


# --- signing in ------------------------------------------------------------------------------


def test_signing_in_returns_the_id_token_its_expiry_a_refresh_token_and_who_you_are(
    api: Api,
) -> None:
    before = datetime.now(UTC)
    reply = api.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)

    assert reply.status == 200, reply.raw
    body = reply.body
    assert body["status"] == "signed_in"
    assert body["token"].count(".") == 2
    assert body["refresh_token"]
    assert body["user"] == {
        "person_id": api.person_id(ADMIN_EMAIL),
        "email": ADMIN_EMAIL,
        "name": None,
        "role": "admin",
    }
    # The app client's IdTokenValidity (TokenValidityMinutes, 15 by default) sets the expiry.
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert body["expires_in"] == 15 * 60
    assert before + timedelta(minutes=15) - timedelta(seconds=2) <= expires_at
    assert expires_at <= datetime.now(UTC) + timedelta(minutes=15)


def test_the_token_from_sign_in_opens_the_routes_of_the_persons_role(
    api: Api, seeded_event: str
) -> None:
    crew = api.login(CREW_EMAIL, CREW_PASSWORD)
    assert api.log_payment(seeded_event, payment_body(), crew).status == 201
    assert_error(api.call("GET", "/api/people", token=crew), 403)
    assert api.call("GET", "/api/people", token=api.login()).status == 200


def test_a_wrong_password_and_an_unknown_email_get_the_identical_401(api: Api) -> None:
    wrong = api.sign_in(ADMIN_EMAIL, "not the password at all")
    unknown = api.sign_in("nobody@scc.example", "not the password at all")
    assert_error(wrong, 401)
    assert_error(unknown, 401)
    assert wrong.body == unknown.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "x"}, "email"),
        ({"email": "a@b.example"}, "password"),
        ({"email": "", "password": "x"}, "email"),
        ({"email": "a@b.example", "password": "x", "role": "admin"}, "role"),
    ],
)
def test_a_malformed_sign_in_is_a_400_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    assert_error(api.call("POST", "/api/auth/login", body=body), 400, field)


def test_a_refresh_gives_a_new_id_token_for_the_same_person(api: Api) -> None:
    signed_in = api.sign_in(CREW_EMAIL, CREW_PASSWORD).body
    reply = api.call(
        "POST", "/api/auth/refresh", body={"refresh_token": signed_in["refresh_token"]}
    )
    assert reply.status == 200, reply.raw
    assert reply.body["user"]["email"] == CREW_EMAIL
    assert reply.body["user"]["role"] == "crew"
    assert reply.body["token"].count(".") == 2
    assert "refresh_token" not in reply.body


def test_signing_out_ends_the_refresh_token_and_the_id_token_at_once(
    api: Api, seeded_event: str
) -> None:
    signed_in = api.sign_in(CREW_EMAIL, CREW_PASSWORD).body
    out = api.call("POST", "/api/auth/logout", body={"refresh_token": signed_in["refresh_token"]})
    assert out.status == 200, out.raw
    assert out.body == {"status": "signed_out"}

    refused = api.call(
        "POST", "/api/auth/refresh", body={"refresh_token": signed_in["refresh_token"]}
    )
    assert_error(refused, 401)
    assert_error(api.log_payment(seeded_event, payment_body(), signed_in["token"]), 401)
    assert api.payment_items() == []
    # Signing out twice is harmless.
    again = api.call("POST", "/api/auth/logout", body={"refresh_token": signed_in["refresh_token"]})
    assert again.status == 200


# --- invitations and the first sign-in -------------------------------------------------------


def test_an_invited_person_signs_in_with_the_mailed_password_and_chooses_their_own(
    api: Api, mail_dir: Path, seeded_event: str
) -> None:
    # Given an admin invites a deckhand as crew
    admin = api.login()
    invited = _invite(api, admin, "new.hand@scc.example")
    assert invited.status == 201, invited.raw
    assert invited.body["role"] == "crew"
    assert invited.body["status"] == "FORCE_CHANGE_PASSWORD"
    assert invited.body["enabled"] is True

    # When they sign in with the temporary password from Cognito's invitation
    temporary = _temporary_password(mail_dir, "new.hand@scc.example")
    first = api.sign_in("new.hand@scc.example", temporary)
    assert first.status == 200, first.raw
    assert first.body["status"] == "challenge"
    assert first.body["challenge"] == "NEW_PASSWORD_REQUIRED"

    # Then a too-short new password is refused by name, and a good one signs them in
    challenge = {
        "email": "new.hand@scc.example",
        "session": first.body["session"],
        "challenge": "NEW_PASSWORD_REQUIRED",
    }
    short = api.call("POST", "/api/auth/challenge", body={**challenge, "new_password": "short"})
    assert_error(short, 400, "new_password")
    done = api.call("POST", "/api/auth/challenge", body={**challenge, "new_password": NEW_PASSWORD})
    assert done.status == 200, done.raw
    assert done.body["status"] == "signed_in"
    assert done.body["user"]["role"] == "crew"
    assert done.body["user"]["name"] == "Dee Hand"
    assert api.log_payment(seeded_event, payment_body(), done.body["token"]).status == 201
    assert _person(api, admin, "new.hand@scc.example")["status"] == "CONFIRMED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address", "name": "X", "role": "crew"}, "email"),
        ({"email": "x@scc.example", "name": "X", "role": "captain"}, "role"),
        ({"email": "x@scc.example", "name": "\u200b\u200b", "role": "crew"}, "name"),
        ({"email": "x@scc.example", "role": "crew"}, "name"),
    ],
)
def test_a_bad_invitation_is_a_400_naming_the_field_and_invites_nobody(
    api: Api, body: dict[str, Any], field: str
) -> None:
    admin = api.login()
    before = api.snapshot()
    assert_error(api.call("POST", "/api/people", body=body, token=admin), 400, field)
    assert api.snapshot() == before


def test_inviting_someone_already_in_the_pool_is_a_409(api: Api) -> None:
    admin = api.login()
    before = api.snapshot()
    assert_error(_invite(api, admin, CREW_EMAIL), 409, "email")
    assert api.snapshot() == before


def test_the_people_list_shows_each_persons_role_and_status(api: Api) -> None:
    admin = api.login()
    _invite(api, admin, "pending@scc.example", role="admin", name="Pat Pending")
    people = {p["email"]: p for p in api.call("GET", "/api/people", token=admin).body["people"]}
    assert people[ADMIN_EMAIL]["role"] == "admin"
    assert people[CREW_EMAIL]["role"] == "crew"
    assert people["pending@scc.example"]["role"] == "admin"
    assert people["pending@scc.example"]["status"] == "FORCE_CHANGE_PASSWORD"
    assert people["pending@scc.example"]["name"] == "Pat Pending"
    assert all(p["enabled"] for p in people.values())


# --- disable, enable, roles --------------------------------------------------------------------


def test_a_disabled_person_is_refused_at_once_and_can_neither_refresh_nor_sign_in(
    api: Api, seeded_event: str
) -> None:
    crew = api.sign_in(CREW_EMAIL, CREW_PASSWORD).body
    admin = api.login()
    person_id = api.person_id(CREW_EMAIL)

    disabled = _post(api, "/api/people/{person_id}/disable", person_id, admin)
    assert disabled.status == 200, disabled.raw
    assert disabled.body["enabled"] is False

    assert_error(api.log_payment(seeded_event, payment_body(), crew["token"]), 401)
    assert api.payment_items() == []
    assert_error(
        api.call("POST", "/api/auth/refresh", body={"refresh_token": crew["refresh_token"]}), 401
    )
    assert_error(api.sign_in(CREW_EMAIL, CREW_PASSWORD), 401)

    # Enabled again, they sign in afresh and work; the old token stays void.
    assert _post(api, "/api/people/{person_id}/enable", person_id, admin).status == 200
    fresh = api.login(CREW_EMAIL, CREW_PASSWORD)
    assert api.log_payment(seeded_event, payment_body(), fresh).status == 201
    assert_error(api.log_payment(seeded_event, payment_body(), crew["token"]), 401)


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(api: Api) -> None:
    admin = api.login()
    me = api.person_id(ADMIN_EMAIL)
    before = api.snapshot()
    assert_error(_post(api, "/api/people/{person_id}/disable", me, admin), 409, "person_id")
    assert_error(
        _post(api, "/api/people/{person_id}/role", me, admin, role="crew"), 409, "person_id"
    )
    assert api.snapshot() == before


def test_a_disabled_second_admin_does_not_count_as_active(api: Api) -> None:
    admin = api.login()
    crew_id = api.person_id(CREW_EMAIL)
    assert _post(api, "/api/people/{person_id}/role", crew_id, admin, role="admin").status == 200
    assert _post(api, "/api/people/{person_id}/disable", crew_id, admin).status == 200
    me = api.person_id(ADMIN_EMAIL)
    assert_error(_post(api, "/api/people/{person_id}/disable", me, admin), 409)


def test_a_role_change_ends_the_persons_sessions_and_applies_at_their_next_sign_in(
    api: Api, seeded_event: str
) -> None:
    crew = api.login(CREW_EMAIL, CREW_PASSWORD)
    admin = api.login()
    crew_id = api.person_id(CREW_EMAIL)

    promoted = _post(api, "/api/people/{person_id}/role", crew_id, admin, role="admin")
    assert promoted.status == 200, promoted.raw
    assert promoted.body["role"] == "admin"

    assert_error(api.call("GET", "/api/events", token=crew), 401)
    now_admin = api.login(CREW_EMAIL, CREW_PASSWORD)
    assert api.call("GET", "/api/people", token=now_admin).status == 200

    # With two admins, the first may be demoted; their own token is void from then on.
    me = api.person_id(ADMIN_EMAIL)
    assert _post(api, "/api/people/{person_id}/role", me, now_admin, role="crew").status == 200
    assert_error(api.call("GET", "/api/people", token=admin), 401)
    assert_error(api.call("GET", "/api/people", token=api.login()), 403)


def test_an_unknown_person_is_a_404_and_a_malformed_id_a_400(api: Api) -> None:
    admin = api.login()
    assert_error(
        _post(
            api, "/api/people/{person_id}/disable", "0a0a0a0a-0000-4000-8000-000000000000", admin
        ),
        404,
        "person_id",
    )
    assert_error(_post(api, "/api/people/{person_id}/enable", "a b/c", admin), 400, "person_id")


# --- forgotten passwords -----------------------------------------------------------------------


def test_a_forgotten_password_is_reset_with_the_mailed_code(api: Api, mail_dir: Path) -> None:
    sent = api.call("POST", "/api/auth/forgot", body={"email": CREW_EMAIL})
    assert sent.status == 202, sent.raw
    assert sent.body["status"] == "code_sent"
    mail = _mails(mail_dir, "reset")[-1]
    assert CREW_EMAIL in str(mail["To"])
    code = re.search(r"\b(\d{6})\b", _body(mail))
    assert code, _body(mail)

    reset = {"email": CREW_EMAIL, "new_password": NEW_PASSWORD}
    wrong = "000000" if code.group(1) != "000000" else "111111"
    assert_error(api.call("POST", "/api/auth/reset", body={**reset, "code": wrong}), 400, "code")
    assert_error(
        api.call(
            "POST",
            "/api/auth/reset",
            body={**reset, "code": code.group(1), "new_password": "short"},
        ),
        400,
        "new_password",
    )
    done = api.call("POST", "/api/auth/reset", body={**reset, "code": code.group(1)})
    assert done.status == 200, done.raw
    assert api.login(CREW_EMAIL, NEW_PASSWORD)
    assert_error(api.sign_in(CREW_EMAIL, CREW_PASSWORD), 401)


def test_asking_for_a_reset_code_for_an_unknown_address_looks_the_same(api: Api) -> None:
    known = api.call("POST", "/api/auth/forgot", body={"email": CREW_EMAIL})
    unknown = api.call("POST", "/api/auth/forgot", body={"email": "ghost@scc.example"})
    assert known.status == unknown.status == 202
    assert set(known.body) == set(unknown.body)
