"""Signing in and managing people, as plain functions over the directory and revocations."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from services.people.directory import ROLE_GROUPS, Directory, PendingChallenge, Person, Tokens
from services.people.models import (
    Challenge,
    ChallengeRequest,
    CodeSent,
    InviteRequest,
    PersonView,
    RoleName,
    SignedIn,
    UserView,
)
from shared.auth import Caller, parse_groups
from shared.errors import Conflict, Unauthorized, ValidationFailed
from shared.revocations import Revocations
from shared.timeutil import iso_z

LAST_ADMIN = "There must always be at least one active admin"


# --- signing in -------------------------------------------------------------------------------


def sign_in(directory: Directory, email: str, password: str, now: datetime) -> SignedIn | Challenge:
    return _answer(directory.sign_in(email, password), email, now)


def answer_challenge(
    directory: Directory, request: ChallengeRequest, now: datetime
) -> SignedIn | Challenge:
    if request.challenge == "NEW_PASSWORD_REQUIRED":
        if request.new_password is None:
            raise ValidationFailed.field("new_password", "is required")
        answers = {"NEW_PASSWORD": request.new_password}
    else:
        if request.code is None:
            raise ValidationFailed.field("code", "is required")
        answers = {"SOFTWARE_TOKEN_MFA_CODE": request.code}
    outcome = directory.answer_challenge(request.email, request.challenge, request.session, answers)
    return _answer(outcome, request.email, now)


def refresh(directory: Directory, refresh_token: str, now: datetime) -> SignedIn:
    return signed_in(directory.refresh(refresh_token), now)


def sign_out(
    directory: Directory, revocations: Revocations, refresh_token: str, now: datetime
) -> None:
    """End every session of the refresh token's owner: Cognito revokes their refresh tokens
    (GlobalSignOut) and the API refuses their ID tokens from now on. An already revoked
    refresh token means there is nothing left to end."""
    try:
        tokens = directory.refresh(refresh_token)
    except Unauthorized:
        return
    directory.sign_out_everywhere(tokens.access_token)
    revocations.revoke(str(token_claims(tokens.id_token)["sub"]), now_epoch=int(now.timestamp()))


def send_reset_code(directory: Directory, email: str) -> CodeSent:
    return CodeSent(delivery=directory.send_reset_code(email))


def _answer(outcome: Tokens | PendingChallenge, email: str, now: datetime) -> SignedIn | Challenge:
    if isinstance(outcome, PendingChallenge):
        return Challenge(challenge=outcome.name, session=outcome.session, email=email)
    return signed_in(outcome, now)


def signed_in(tokens: Tokens, now: datetime) -> SignedIn:
    claims = token_claims(tokens.id_token)
    return SignedIn(
        token=tokens.id_token,
        expires_at=iso_z(now + timedelta(seconds=tokens.expires_in)),
        expires_in=tokens.expires_in,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        user=UserView(
            person_id=str(claims.get("sub", "")),
            email=str(claims.get("email", "")),
            name=str(claims["name"]) if claims.get("name") else None,
            role=_role(parse_groups(claims.get("cognito:groups"))),
        ),
    )


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a token Cognito has just handed us over TLS. Only read for display and
    the subject; nothing is authorised on it (the API's JWT authorizer verifies tokens)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _role(groups: frozenset[str] | set[str]) -> RoleName | None:
    if "admin" in groups:
        return "admin"
    if "crew" in groups:
        return "crew"
    return None


# --- people -----------------------------------------------------------------------------------


def list_people(directory: Directory) -> list[PersonView]:
    admins, crew = directory.members("admin"), directory.members("crew")
    people = directory.people()
    views = [
        view(p, "admin" if p.person_id in admins else "crew" if p.person_id in crew else None)
        for p in people
    ]
    return sorted(views, key=lambda v: (v.name or v.email).casefold())


def invite(directory: Directory, request: InviteRequest) -> PersonView:
    person = directory.invite(request.email, request.name, request.role)
    return view(person, request.role)


def change_role(
    directory: Directory,
    revocations: Revocations,
    person_id: str,
    role: RoleName,
    caller: Caller,
    now: datetime,
) -> PersonView:
    """Move a person to `role`. Their sessions end (their tokens carry the old groups), so the
    new role applies from their next sign-in; the last active admin cannot be demoted."""
    person = directory.person(person_id)
    groups = directory.groups_of(person_id) & set(ROLE_GROUPS)
    if groups == {role}:
        return view(person, role)
    if "admin" in groups and role != "admin" and person.enabled:
        _keep_an_admin(directory, person_id)
    directory.add_to_group(person_id, role)
    for group in groups - {role}:
        directory.remove_from_group(person_id, group)
    _end_sessions(directory, revocations, person, now)
    return view(directory.person(person_id), role)


def disable(
    directory: Directory, revocations: Revocations, person_id: str, now: datetime
) -> PersonView:
    """Lock a person out: no more sign-ins, every session ends at once."""
    person = directory.person(person_id)
    role = _role(directory.groups_of(person_id))
    if role == "admin" and person.enabled:
        _keep_an_admin(directory, person_id)
    directory.disable(person_id)
    _end_sessions(directory, revocations, person, now)
    return view(directory.person(person_id), role)


def enable(directory: Directory, person_id: str) -> PersonView:
    directory.enable(person_id)
    return view(directory.person(person_id), _role(directory.groups_of(person_id)))


def _keep_an_admin(directory: Directory, leaving: str) -> None:
    others = directory.members("admin") - {leaving}
    if not any(directory.person(other).enabled for other in others):
        raise Conflict(LAST_ADMIN, {"person_id": "is the last active admin"})


def _end_sessions(
    directory: Directory, revocations: Revocations, person: Person, now: datetime
) -> None:
    # By the e-mail alias (Cognito takes either): the name the person signs in with.
    directory.sign_out_person(person.email or person.person_id)
    revocations.revoke(person.sub, now_epoch=int(now.timestamp()))


def view(person: Person, role: RoleName | None) -> PersonView:
    return PersonView(
        person_id=person.person_id,
        email=person.email,
        name=person.name,
        role=role,
        enabled=person.enabled,
        status=person.status,
        created_at=None if person.created_at is None else iso_z(person.created_at),
    )
