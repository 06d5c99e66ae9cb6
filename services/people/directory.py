"""The Cognito user pool adapter: the only module that talks to cognito-idp.

Sign-in, refresh, challenges and password reset use the app client's public API (what the SPA
would call itself); people management uses the admin API on this pool. Cognito's errors become
the project's typed errors here, so the logic and the HTTP mapping never see a ClientError.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, ParamValidationError

from shared import clients
from shared.auth import SIGN_IN_AGAIN
from shared.errors import (
    Conflict,
    DomainError,
    NotFound,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
)

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient
else:
    CognitoIdentityProviderClient = Any

BAD_CREDENTIALS = "Wrong e-mail or password"
ROLE_GROUPS = ("admin", "crew")


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str | None
    expires_in: int


@dataclass(frozen=True)
class PendingChallenge:
    name: str
    session: str


@dataclass(frozen=True)
class Person:
    person_id: str  # the Cognito username, which in an e-mail-username pool is the sub
    sub: str
    email: str
    name: str | None
    enabled: bool
    status: str
    created_at: datetime | None


class Directory:
    def __init__(
        self, client: CognitoIdentityProviderClient, *, user_pool_id: str, client_id: str
    ) -> None:
        self._client = client
        self._pool = user_pool_id
        self._client_id = client_id

    @classmethod
    def connect(cls, *, user_pool_id: str, client_id: str) -> Directory:
        return cls(
            clients.aws_session().client("cognito-idp"),
            user_pool_id=user_pool_id,
            client_id=client_id,
        )

    # --- signing in (the public client API) ------------------------------------------------

    def sign_in(self, email: str, password: str) -> Tokens | PendingChallenge:
        with _cognito_errors(unauthorized=BAD_CREDENTIALS):
            response = self._client.initiate_auth(
                ClientId=self._client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
        return _outcome(response)

    def answer_challenge(
        self, email: str, name: str, session: str, answers: Mapping[str, str]
    ) -> Tokens | PendingChallenge:
        with _cognito_errors(
            unauthorized="This sign-in has expired; start again",
            field="new_password" if name == "NEW_PASSWORD_REQUIRED" else "code",
        ):
            response = self._client.respond_to_auth_challenge(
                ClientId=self._client_id,
                ChallengeName=name,  # type: ignore[arg-type]
                Session=session,
                ChallengeResponses={"USERNAME": email, **answers},
            )
        return _outcome(response)

    def refresh(self, refresh_token: str) -> Tokens:
        with _cognito_errors(unauthorized=SIGN_IN_AGAIN):
            response = self._client.initiate_auth(
                ClientId=self._client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        outcome = _outcome(response)
        if not isinstance(outcome, Tokens):
            raise Unauthorized(SIGN_IN_AGAIN)
        return outcome

    def sign_out_everywhere(self, access_token: str) -> None:
        """Revoke every refresh token of the access token's owner (Cognito GlobalSignOut)."""
        with _cognito_errors(unauthorized="Your session has already ended"):
            self._client.global_sign_out(AccessToken=access_token)

    def send_reset_code(self, email: str) -> str:
        """Cognito mails a code; returns where it went (masked). With the pool's
        PreventUserExistenceErrors an unknown address gets the same kind of answer."""
        with _cognito_errors(unauthorized="Ask an admin to reset your password"):
            response = self._client.forgot_password(ClientId=self._client_id, Username=email)
        return str(response.get("CodeDeliveryDetails", {}).get("Destination", ""))

    def reset_password(self, email: str, code: str, new_password: str) -> None:
        with _cognito_errors(unauthorized="Ask an admin to reset your password", field="code"):
            self._client.confirm_forgot_password(
                ClientId=self._client_id,
                Username=email,
                ConfirmationCode=code,
                Password=new_password,
            )

    # --- people (the admin API on this pool) -----------------------------------------------

    def people(self) -> list[Person]:
        people: list[Person] = []
        kwargs: dict[str, Any] = {"UserPoolId": self._pool, "Limit": 60}
        while True:
            with _cognito_errors():
                page = self._client.list_users(**kwargs)
            people.extend(_person(user, "Attributes") for user in page.get("Users", []))
            token = page.get("PaginationToken")
            if not token:
                return people
            kwargs["PaginationToken"] = token

    def members(self, group: str) -> set[str]:
        """Usernames (person ids) in a group."""
        names: set[str] = set()
        kwargs: dict[str, Any] = {"UserPoolId": self._pool, "GroupName": group, "Limit": 60}
        while True:
            with _cognito_errors():
                page = self._client.list_users_in_group(**kwargs)
            names.update(str(user["Username"]) for user in page.get("Users", []))
            token = page.get("NextToken")
            if not token:
                return names
            kwargs["NextToken"] = token

    def person(self, person_id: str) -> Person:
        with _cognito_errors(not_found=person_id):
            user = self._client.admin_get_user(UserPoolId=self._pool, Username=person_id)
        return _person(user, "UserAttributes")

    def groups_of(self, person_id: str) -> set[str]:
        with _cognito_errors(not_found=person_id):
            response = self._client.admin_list_groups_for_user(
                UserPoolId=self._pool, Username=person_id
            )
        return {str(group["GroupName"]) for group in response.get("Groups", [])}

    def invite(self, email: str, name: str, group: str) -> Person:
        """Create the person; Cognito e-mails the invitation with a temporary password."""
        with _cognito_errors(exists=email):
            response = self._client.admin_create_user(
                UserPoolId=self._pool,
                Username=email,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                    {"Name": "name", "Value": name},
                ],
                DesiredDeliveryMediums=["EMAIL"],
            )
        person = _person(response["User"], "Attributes")
        try:
            self.add_to_group(person.person_id, group)
        except DomainError:
            # Nobody without a role should be left behind: undo the half-made invitation.
            with _cognito_errors():
                self._client.admin_delete_user(UserPoolId=self._pool, Username=person.person_id)
            raise
        return person

    def add_to_group(self, person_id: str, group: str) -> None:
        with _cognito_errors(not_found=person_id):
            self._client.admin_add_user_to_group(
                UserPoolId=self._pool, Username=person_id, GroupName=group
            )

    def remove_from_group(self, person_id: str, group: str) -> None:
        with _cognito_errors(not_found=person_id):
            self._client.admin_remove_user_from_group(
                UserPoolId=self._pool, Username=person_id, GroupName=group
            )

    def disable(self, person_id: str) -> None:
        with _cognito_errors(not_found=person_id):
            self._client.admin_disable_user(UserPoolId=self._pool, Username=person_id)

    def enable(self, person_id: str) -> None:
        with _cognito_errors(not_found=person_id):
            self._client.admin_enable_user(UserPoolId=self._pool, Username=person_id)

    def sign_out_person(self, person_id: str) -> None:
        """Revoke every refresh token the person holds (AdminUserGlobalSignOut)."""
        with _cognito_errors(not_found=person_id):
            self._client.admin_user_global_sign_out(UserPoolId=self._pool, Username=person_id)


def _outcome(response: Mapping[str, Any]) -> Tokens | PendingChallenge:
    result = response.get("AuthenticationResult")
    if result:
        return Tokens(
            id_token=str(result["IdToken"]),
            access_token=str(result["AccessToken"]),
            refresh_token=result.get("RefreshToken"),
            expires_in=int(result.get("ExpiresIn", 0)),
        )
    name = response.get("ChallengeName")
    session = response.get("Session")
    if not name or not session:
        raise Unauthorized(BAD_CREDENTIALS)
    return PendingChallenge(name=str(name), session=str(session))


def _person(user: Mapping[str, Any], attributes_key: str) -> Person:
    attributes = {str(a["Name"]): str(a.get("Value", "")) for a in user.get(attributes_key, [])}
    created = user.get("UserCreateDate")
    return Person(
        person_id=str(user["Username"]),
        sub=attributes.get("sub", str(user["Username"])),
        email=attributes.get("email", ""),
        name=attributes.get("name") or None,
        enabled=bool(user.get("Enabled", True)),
        status=str(user.get("UserStatus", "UNKNOWN")),
        created_at=created if isinstance(created, datetime) else None,
    )


@contextmanager
def _cognito_errors(
    *,
    unauthorized: str = "Not allowed",
    field: str = "new_password",
    not_found: str | None = None,
    exists: str | None = None,
) -> Iterator[None]:
    """Turn Cognito's error codes into the project's typed errors for one call; anything
    else (a throttled or broken service) propagates and becomes a 500 with nothing saved."""
    try:
        yield
    except ParamValidationError:
        # botocore refuses, before sending, a value Cognito's API cannot take (a length out of
        # its bounds): the request's input is at fault, not the service.
        raise ValidationFailed("Cognito refused the request: a value is out of bounds") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        translated = _translate(code, message, unauthorized, field, not_found, exists)
        if translated is None:
            raise
        raise translated from None


def _translate(
    code: str,
    message: str,
    unauthorized: str,
    field: str,
    not_found: str | None,
    exists: str | None,
) -> DomainError | None:
    if code == "PasswordResetRequiredException":
        return Unauthorized("Your password must be reset: use 'Forgot password'")
    if code == "NotAuthorizedException":
        if "disabled" in message.lower():
            return Unauthorized("This account is disabled; ask an admin")
        return Unauthorized(unauthorized)
    if code == "UserNotFoundException":
        if not_found is not None:
            return NotFound(f"No person with id {not_found!r}", {"person_id": "unknown person"})
        # With PreventUserExistenceErrors Cognito itself answers like a wrong password.
        return Unauthorized(unauthorized)
    if code == "UsernameExistsException":
        return Conflict(
            f"{exists or 'This person'} has already been invited", {"email": "already invited"}
        )
    if code == "InvalidPasswordException":
        return ValidationFailed.field("new_password", _password_message(message))
    if code in ("CodeMismatchException", "ExpiredCodeException"):
        return ValidationFailed.field(field, "is wrong or has expired")
    if code in (
        "TooManyRequestsException",
        "LimitExceededException",
        "TooManyFailedAttemptsException",
    ):
        return TooManyAttempts("Too many attempts; wait a few minutes and try again")
    if code == "InvalidParameterException":
        return ValidationFailed("Cognito refused the request: " + message[:200])
    return None


def _password_message(cognito_message: str) -> str:
    # Cognito: "Password does not conform to policy: Password not long enough".
    detail = cognito_message.split(":", 1)[-1].strip()
    return f"does not meet the password policy ({detail})" if detail else "does not meet the policy"
