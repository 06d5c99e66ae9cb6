"""People function routes: the sign-in pass-through to Cognito and the admin's People screen.

The `/api/auth/*` routes are public (no JWT authorizer: they are how a token is obtained);
everything under `/api/people` needs the admin role. Routing only.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body

from services.people import logic
from services.people.directory import Directory
from services.people.models import (
    Challenge,
    ChallengeRequest,
    ForgotPasswordRequest,
    InviteRequest,
    LoginRequest,
    PasswordReset,
    PeopleList,
    RefreshRequest,
    ResetPasswordRequest,
    RoleRequest,
    SignedIn,
    SignedOut,
)
from shared.auth import Role
from shared.config import PeopleConfig
from shared.errors import ValidationFailed
from shared.http import (
    Access,
    Handler,
    create_app,
    current_caller,
    json_response,
    logger,
    make_api_handler,
)
from shared.revocations import Revocations
from shared.timeutil import utc_now

ACCESS: Access = {
    "POST /api/auth/login": None,
    "POST /api/auth/challenge": None,
    "POST /api/auth/refresh": None,
    "POST /api/auth/logout": None,
    "POST /api/auth/forgot": None,
    "POST /api/auth/reset": None,
    "GET /api/people": Role.ADMIN,
    "POST /api/people": Role.ADMIN,
    "POST /api/people/{person_id}/role": Role.ADMIN,
    "POST /api/people/{person_id}/disable": Role.ADMIN,
    "POST /api/people/{person_id}/enable": Role.ADMIN,
}

# Actions on the person in the path: no body to send.
BODILESS = frozenset(
    {"POST /api/people/{person_id}/disable", "POST /api/people/{person_id}/enable"}
)

# A Cognito username: in this pool, the person's sub (a UUID).
_PERSON_ID = re.compile(r"^[\w.@+-]{1,128}$")


def _person_id(value: str) -> str:
    if _PERSON_ID.fullmatch(value) is None:
        raise ValidationFailed.field("person_id", "must be a person id from GET /api/people")
    return value


def _signed_in_payload(outcome: SignedIn | Challenge) -> dict[str, Any]:
    # A refresh answers without a refresh token (the client keeps the one it has).
    unset = isinstance(outcome, SignedIn) and outcome.refresh_token is None
    return outcome.model_dump(exclude={"refresh_token"} if unset else None)


def build_app(
    config: PeopleConfig, directory: Directory, revocations: Revocations
) -> APIGatewayHttpResolver:
    app = create_app(allowed_origin=config.allowed_origin)

    @app.post("/api/auth/login")
    def login(body: Annotated[LoginRequest, Body()]) -> Any:
        outcome = logic.sign_in(directory, body.email, body.password, utc_now())
        return json_response(200, _signed_in_payload(outcome))

    @app.post("/api/auth/challenge")
    def challenge(body: Annotated[ChallengeRequest, Body()]) -> Any:
        outcome = logic.answer_challenge(directory, body, utc_now())
        return json_response(200, _signed_in_payload(outcome))

    @app.post("/api/auth/refresh")
    def refresh(body: Annotated[RefreshRequest, Body()]) -> Any:
        outcome = logic.refresh(directory, body.refresh_token, utc_now())
        return json_response(200, _signed_in_payload(outcome))

    @app.post("/api/auth/logout")
    def logout(body: Annotated[RefreshRequest, Body()]) -> Any:
        logic.sign_out(directory, revocations, body.refresh_token, utc_now())
        return json_response(200, SignedOut().model_dump())

    @app.post("/api/auth/forgot")
    def forgot(body: Annotated[ForgotPasswordRequest, Body()]) -> Any:
        return json_response(202, logic.send_reset_code(directory, body.email).model_dump())

    @app.post("/api/auth/reset")
    def reset(body: Annotated[ResetPasswordRequest, Body()]) -> Any:
        directory.reset_password(body.email, body.code, body.new_password)
        return json_response(200, PasswordReset().model_dump())

    @app.get("/api/people")
    def list_people() -> Any:
        people = PeopleList(people=logic.list_people(directory))
        return json_response(200, people.model_dump())

    @app.post("/api/people")
    def invite(body: Annotated[InviteRequest, Body()]) -> Any:
        person = logic.invite(directory, body)
        logger.info("person invited", extra={"person_id": person.person_id, "role": body.role})
        return json_response(201, person.model_dump())

    @app.post("/api/people/<person_id>/role")
    def change_role(person_id: str, body: Annotated[RoleRequest, Body()]) -> Any:
        person = logic.change_role(
            directory, revocations, _person_id(person_id), body.role, current_caller(app), utc_now()
        )
        logger.info("role changed", extra={"person_id": person_id, "role": body.role})
        return json_response(200, person.model_dump())

    @app.post("/api/people/<person_id>/disable")
    def disable(person_id: str) -> Any:
        person = logic.disable(directory, revocations, _person_id(person_id), utc_now())
        logger.info("person disabled", extra={"person_id": person_id})
        return json_response(200, person.model_dump())

    @app.post("/api/people/<person_id>/enable")
    def enable(person_id: str) -> Any:
        person = logic.enable(directory, _person_id(person_id))
        logger.info("person enabled", extra={"person_id": person_id})
        return json_response(200, person.model_dump())

    return app


def make_handler(config: PeopleConfig, directory: Directory, revocations: Revocations) -> Handler:
    """The Lambda entry point for a given configuration (tests build one per case)."""
    return make_api_handler(
        build_app(config, directory, revocations),
        access=ACCESS,
        revocations=revocations,
        bodiless=BODILESS,
    )
