"""The people function's request bodies and response views (only this function uses them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from shared.models import Email, Model, Request, visible_text
from shared.validators import EMAIL_MAX

PERSON_NAME_MAX = 120
# Cognito's own bounds: the pool's policy sets the minimum (12), Cognito caps at 256.
PASSWORD_MIN = 12
PASSWORD_MAX = 256

RoleName = Literal["admin", "crew"]
PersonName = Annotated[str, Field(max_length=4 * PERSON_NAME_MAX), visible_text(PERSON_NAME_MAX)]
# A person's sign-in address: the one e-mail rule, then all lower case, like the address the
# API reads from a caller's token (shared.auth), so one person is one spelling.
PersonEmail = Annotated[Email, AfterValidator(str.lower)]
# Sign-in takes what was typed: the pool decides whether it names anyone.
TypedEmail = Annotated[str, Field(min_length=1, max_length=EMAIL_MAX)]
Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]
NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]


class LoginRequest(Request):
    email: TypedEmail
    password: Password


class ChallengeRequest(Request):
    email: TypedEmail
    # Cognito's bounds for a session: anything else cannot be one it issued.
    session: Annotated[str, Field(min_length=20, max_length=2048)]
    challenge: Literal["NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA"]
    new_password: NewPassword | None = None
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")] | None = None


class RefreshRequest(Request):
    refresh_token: Annotated[str, Field(min_length=1, max_length=8192)]


class ForgotPasswordRequest(Request):
    email: TypedEmail


class ResetPasswordRequest(Request):
    email: TypedEmail
    code: Annotated[str, Field(min_length=1, max_length=64)]
    new_password: NewPassword


class InviteRequest(Request):
    email: PersonEmail
    name: PersonName
    role: RoleName


class RoleRequest(Request):
    role: RoleName


class UserView(Model):
    """Who signed in, from the ID token Cognito just issued."""

    person_id: str
    email: str
    name: str | None
    role: RoleName | None


class SignedIn(Model):
    status: Literal["signed_in"] = "signed_in"
    token: str  # the ID token: the bearer token every API route takes
    expires_at: str
    expires_in: int
    access_token: str
    refresh_token: str | None = None  # only on sign-in; a refresh keeps the one it was given
    user: UserView


class Challenge(Model):
    status: Literal["challenge"] = "challenge"
    challenge: str
    session: str
    email: str


class SignedOut(Model):
    status: Literal["signed_out"] = "signed_out"


class CodeSent(Model):
    status: Literal["code_sent"] = "code_sent"
    delivery: str


class PasswordReset(Model):
    status: Literal["password_reset"] = "password_reset"


class PersonView(Model):
    person_id: str
    email: str
    name: str | None
    role: RoleName | None
    enabled: bool
    status: str  # Cognito's: FORCE_CHANGE_PASSWORD (invited), CONFIRMED, RESET_REQUIRED, ...
    created_at: str | None


class PeopleList(Model):
    people: list[PersonView]
