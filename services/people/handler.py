"""PeopleFunction (template.yaml): sign-in through Cognito and the admin's People screen
(services/people/logic.py over the Cognito adapter, services/people/directory.py).

The `/api/auth/*` routes are public (no JWT authorizer: they are how a token is obtained);
everything under `/api/people` needs the admin role, checked by `lambda_handler`'s guard before
the resolver routes the request.
"""

from __future__ import annotations

from shared.coldstart import cold_start

with cold_start():
    import re
    from typing import Annotated, Any

    from aws_lambda_powertools.event_handler.openapi.params import Body
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from services.people import logic
    from services.people.config import PeopleConfig
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
    from shared.config import load_config
    from shared.errors import ValidationFailed
    from shared.http import Access, api_resolver, cors_policy, current_caller, guard, json_response
    from shared.observability import get_logger
    from shared.responses import Answers, one_of, ref, responses_for, success
    from shared.revocations import Revocations
    from shared.timeutil import utc_now

    logger = get_logger()
    config = load_config(PeopleConfig)
    directory = Directory.connect(
        user_pool_id=config.user_pool_id, client_id=config.user_pool_client_id
    )
    revocations = Revocations.connect(config.revocations_table_name)
    cors = cors_policy(config.allowed_origin)
    app = api_resolver(cors)

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

_SIGNED_IN = success(
    "Signed in, or a challenge to answer first (a new password, an MFA code)",
    one_of("SignedIn", "Challenge"),
)
_COGNITO_BUSY = "or Cognito refused too many attempts"
_BAD_PERSON_ID = "the person id is malformed"
_NO_PERSON = "No person with this id"
_PERSON = success("The person, as they are now", ref("PersonView"))
# What each route answers; the guard's and API Gateway's statuses are added by responses_for.
RESPONSES = responses_for(
    ACCESS,
    {
        "POST /api/auth/login": Answers(
            {200: _SIGNED_IN},
            {
                400: "Cognito refused the request",
                401: "Wrong e-mail or password, a disabled account or a password to reset",
                429: _COGNITO_BUSY,
            },
        ),
        "POST /api/auth/challenge": Answers(
            {200: _SIGNED_IN},
            {
                400: "the code or new password is missing, wrong or against the policy",
                401: "This sign-in has expired",
                429: _COGNITO_BUSY,
            },
        ),
        "POST /api/auth/refresh": Answers(
            {200: success("New tokens (the refresh token stays the one sent)", ref("SignedIn"))},
            {401: "The refresh token no longer works: sign in again", 429: _COGNITO_BUSY},
        ),
        "POST /api/auth/logout": Answers(
            {200: success("Every session of the token's owner has ended", ref("SignedOut"))},
            {401: "The session has already ended", 429: _COGNITO_BUSY},
        ),
        "POST /api/auth/forgot": Answers(
            {202: success("A reset code is on its way", ref("CodeSent"))},
            {
                400: "Cognito refused the request",
                401: "This account cannot reset its password itself",
                429: _COGNITO_BUSY,
            },
        ),
        "POST /api/auth/reset": Answers(
            {200: success("The password is reset", ref("PasswordReset"))},
            {
                400: "the code is wrong or has expired, or the password is against the policy",
                401: "This account cannot reset its password itself",
                429: _COGNITO_BUSY,
            },
        ),
        "GET /api/people": Answers(
            {200: success("Everyone in the user pool with their role", ref("PeopleList"))},
            {429: _COGNITO_BUSY},
        ),
        "POST /api/people": Answers(
            {201: success("The person, invited by e-mail", ref("PersonView"))},
            {400: "Cognito refused the request", 409: "Already invited", 429: _COGNITO_BUSY},
        ),
        "POST /api/people/{person_id}/role": Answers(
            {200: _PERSON},
            {
                400: _BAD_PERSON_ID,
                404: _NO_PERSON,
                409: "The last active admin cannot be demoted",
                429: _COGNITO_BUSY,
            },
        ),
        "POST /api/people/{person_id}/disable": Answers(
            {200: _PERSON},
            {
                400: _BAD_PERSON_ID,
                404: _NO_PERSON,
                409: "The last active admin cannot be disabled",
                429: _COGNITO_BUSY,
            },
        ),
        "POST /api/people/{person_id}/enable": Answers(
            {200: _PERSON}, {400: _BAD_PERSON_ID, 404: _NO_PERSON, 429: _COGNITO_BUSY}
        ),
    },
    bodiless=BODILESS,
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


@app.post("/api/auth/login", responses=RESPONSES["POST /api/auth/login"])
def login(body: Annotated[LoginRequest, Body()]) -> Any:
    outcome = logic.sign_in(directory, body.email, body.password, utc_now())
    return json_response(200, _signed_in_payload(outcome))


@app.post("/api/auth/challenge", responses=RESPONSES["POST /api/auth/challenge"])
def challenge(body: Annotated[ChallengeRequest, Body()]) -> Any:
    outcome = logic.answer_challenge(directory, body, utc_now())
    return json_response(200, _signed_in_payload(outcome))


@app.post("/api/auth/refresh", responses=RESPONSES["POST /api/auth/refresh"])
def refresh(body: Annotated[RefreshRequest, Body()]) -> Any:
    outcome = logic.refresh(directory, body.refresh_token, utc_now())
    return json_response(200, _signed_in_payload(outcome))


@app.post("/api/auth/logout", responses=RESPONSES["POST /api/auth/logout"])
def logout(body: Annotated[RefreshRequest, Body()]) -> Any:
    logic.sign_out(directory, revocations, body.refresh_token, utc_now())
    return json_response(200, SignedOut().model_dump())


@app.post("/api/auth/forgot", responses=RESPONSES["POST /api/auth/forgot"])
def forgot(body: Annotated[ForgotPasswordRequest, Body()]) -> Any:
    return json_response(202, logic.send_reset_code(directory, body.email).model_dump())


@app.post("/api/auth/reset", responses=RESPONSES["POST /api/auth/reset"])
def reset(body: Annotated[ResetPasswordRequest, Body()]) -> Any:
    directory.reset_password(body.email, body.code, body.new_password)
    return json_response(200, PasswordReset().model_dump())


@app.get("/api/people", responses=RESPONSES["GET /api/people"])
def list_people() -> Any:
    people = PeopleList(people=logic.list_people(directory))
    return json_response(200, people.model_dump())


@app.post("/api/people", responses=RESPONSES["POST /api/people"])
def invite(body: Annotated[InviteRequest, Body()]) -> Any:
    person = logic.invite(directory, body)
    logger.info("person invited", extra={"person_id": person.person_id, "role": body.role})
    return json_response(201, person.model_dump())


@app.post("/api/people/<person_id>/role", responses=RESPONSES["POST /api/people/{person_id}/role"])
def change_role(person_id: str, body: Annotated[RoleRequest, Body()]) -> Any:
    person = logic.change_role(
        directory, revocations, _person_id(person_id), body.role, current_caller(app), utc_now()
    )
    logger.info("role changed", extra={"person_id": person_id, "role": body.role})
    return json_response(200, person.model_dump())


@app.post(
    "/api/people/<person_id>/disable",
    responses=RESPONSES["POST /api/people/{person_id}/disable"],
)
def disable(person_id: str) -> Any:
    person = logic.disable(directory, revocations, _person_id(person_id), utc_now())
    logger.info("person disabled", extra={"person_id": person_id})
    return json_response(200, person.model_dump())


@app.post(
    "/api/people/<person_id>/enable", responses=RESPONSES["POST /api/people/{person_id}/enable"]
)
def enable(person_id: str) -> Any:
    person = logic.enable(directory, _person_id(person_id))
    logger.info("person enabled", extra={"person_id": person_id})
    return json_response(200, person.model_dump())


@logger.inject_lambda_context(clear_state=True)
@guard(app=app, cors=cors, access=ACCESS, revocations=revocations, bodiless=BODILESS)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
