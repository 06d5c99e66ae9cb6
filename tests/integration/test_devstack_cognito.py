"""devstack.cognito against an in-process moto: the template's user pool created through the
cognito-idp API from its own properties, the template moto's CloudFormation gets, and
Cognito's rules where moto lacks them (token lifetimes, invitations, password reset codes)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack.cognito import (
    DEFAULT_SENDER,
    INVITATION,
    PASSWORD_RESET,
    Provisioned,
    ProvisionError,
    add_person,
    cognito_rules,
    filled_in,
    generate_password,
    mail_text,
    provision_cognito,
    read_mails,
    without_provisioned,
)
from devstack.intrinsics import references
from devstack.template import load_template, stack_parameters, translate

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ADMIN_EMAIL = "first.admin@scc.example"
ADMIN_PASSWORD = "a long enough passphrase"
PARAMETERS = {"Stage": "dev", "AdminEmail": ADMIN_EMAIL, "AllowedOrigin": "http://127.0.0.1:1"}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def translated(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam, PARAMETERS, region=REGION)


@pytest.fixture
def cognito() -> Iterator[Any]:
    with mock_aws():
        yield boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        ).client("cognito-idp")


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rules(mail_dir: Path, clock: Clock) -> Iterator[None]:
    with cognito_rules(mail_dir, clock=clock):
        yield


def provision(cognito: Any, translated: dict[str, Any], **passwords: str) -> dict[str, Provisioned]:
    return provision_cognito(
        cognito,
        translated,
        stack_parameters(translated, PARAMETERS),
        REGION,
        ACCOUNT_ID,
        user_passwords=dict(passwords.items()) or None,
    )


def template_resource(sam: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return dict(sam["Resources"][logical_id]["Properties"])


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def sign_in(cognito: Any, client_id: str, email: str, password: str) -> dict[str, Any]:
    return dict(
        cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    )


def only_mail(mail_dir: Path, kind: str) -> tuple[Path, EmailMessage]:
    paths = sorted(mail_dir.glob(f"*-cognito-{kind}-*.eml"))
    assert len(paths) == 1, paths
    parsed = BytesParser(policy=email_policy.default).parsebytes(paths[0].read_bytes())
    assert isinstance(parsed, EmailMessage)
    return paths[0], parsed


# --- provisioning ------------------------------------------------------------------------------


def test_given_the_template_when_provisioned_then_the_pool_has_the_declared_settings(
    cognito: Any, translated: dict[str, Any], sam: dict[str, Any]
) -> None:
    created = provision(cognito, translated)

    pool_id = created["UserPool"].ref
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    declared = template_resource(sam, "UserPool")
    assert pool["Name"] == "scc-payments-dev"
    assert pool["UsernameAttributes"] == declared["UsernameAttributes"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["DeletionProtection"] == "ACTIVE"  # the template's condition, default true
    assert pool["UserPoolTags"] == {"application": "scc-payments", "stage": "dev"}
    mfa = cognito.get_user_pool_mfa_config(UserPoolId=pool_id)
    assert mfa["MfaConfiguration"] == "OPTIONAL"
    assert mfa["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    assert created["UserPool"].attributes == {
        "Arn": pool["Arn"],
        "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "ProviderURL": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "UserPoolId": pool_id,
    }


def test_given_the_template_when_provisioned_then_the_client_has_its_token_settings(
    cognito: Any, translated: dict[str, Any]
) -> None:
    created = provision(cognito, translated)

    client = cognito.describe_user_pool_client(
        UserPoolId=created["UserPool"].ref, ClientId=created["UserPoolClient"].ref
    )["UserPoolClient"]
    assert client["ClientName"] == "scc-payments-spa-dev"
    assert "ClientSecret" not in client
    # Number parameters arrive as text and are sent as the integers the API wants.
    assert client["IdTokenValidity"] == 15
    assert client["AccessTokenValidity"] == 15
    assert client["RefreshTokenValidity"] == 30
    assert client["TokenValidityUnits"] == {
        "AccessToken": "minutes",
        "IdToken": "minutes",
        "RefreshToken": "days",
    }
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert created["UserPoolClient"].attributes["ClientId"] == created["UserPoolClient"].ref


def test_given_the_template_when_provisioned_then_groups_and_the_first_admin_exist(
    cognito: Any, translated: dict[str, Any]
) -> None:
    created = provision(cognito, translated)

    pool_id = created["UserPool"].ref
    groups = {g["GroupName"]: g for g in cognito.list_groups(UserPoolId=pool_id)["Groups"]}
    assert set(groups) == {"admin", "crew"}
    assert groups["admin"]["Precedence"] == 1
    assert created["AdminGroup"].ref == "admin"
    assert created["FirstAdmin"].ref == ADMIN_EMAIL
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=ADMIN_EMAIL)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == ADMIN_EMAIL
    assert attributes["email_verified"] == "true"
    in_group = cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username=ADMIN_EMAIL)
    assert [g["GroupName"] for g in in_group["Groups"]] == ["admin"]


def test_given_a_local_password_when_provisioned_then_the_admin_signs_in_without_invitation(
    cognito: Any, translated: dict[str, Any], rules: None, mail_dir: Path
) -> None:
    created = provision(cognito, translated, **{ADMIN_EMAIL.upper(): ADMIN_PASSWORD})

    result = sign_in(cognito, created["UserPoolClient"].ref, ADMIN_EMAIL, ADMIN_PASSWORD)

    assert "AuthenticationResult" in result
    assert read_mails(mail_dir) == []


def test_given_no_local_password_when_provisioned_under_cognitos_rules_then_the_admin_is_invited(
    cognito: Any, translated: dict[str, Any], rules: None, mail_dir: Path
) -> None:
    created = provision(cognito, translated)

    _, mail = only_mail(mail_dir, INVITATION)
    assert mail["To"] == ADMIN_EMAIL
    template = translated["Resources"]["UserPool"]["Properties"]["AdminCreateUserConfig"]
    temporary = filled_in(mail_text(mail), template["InviteMessageTemplate"]["EmailMessage"])
    challenge = sign_in(cognito, created["UserPoolClient"].ref, ADMIN_EMAIL, temporary)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_given_a_password_the_policy_refuses_then_provisioning_says_so(
    cognito: Any, translated: dict[str, Any]
) -> None:
    with pytest.raises(ProvisionError, match="MinimumLength 12"):
        provision(cognito, translated, **{ADMIN_EMAIL: "short"})


def test_given_a_property_the_api_does_not_know_then_provisioning_names_it(
    cognito: Any, translated: dict[str, Any]
) -> None:
    broken = {**translated, "Resources": dict(translated["Resources"])}
    pool = dict(broken["Resources"]["UserPool"])
    pool["Properties"] = {**pool["Properties"], "MadeUpSetting": "x"}
    broken["Resources"]["UserPool"] = pool

    with pytest.raises(ProvisionError, match="MadeUpSetting"):
        provision(cognito, broken)


def test_given_resources_in_any_order_then_each_is_created_after_what_it_refers_to(
    cognito: Any, translated: dict[str, Any]
) -> None:
    reordered = dict(reversed(list(translated["Resources"].items())))

    created = provision(cognito, {**translated, "Resources": reordered})

    assert {"UserPool", "UserPoolClient", "AdminGroup", "CrewGroup", "FirstAdmin"} <= set(created)
    assert list(created).index("UserPool") < list(created).index("UserPoolClient")
    assert list(created).index("FirstAdmin") < list(created).index("FirstAdminIsAdmin")


# --- the template moto gets --------------------------------------------------------------------


def test_the_template_for_moto_has_real_ids_and_no_cognito_resources(
    cognito: Any, translated: dict[str, Any]
) -> None:
    created = provision(cognito, translated)

    rewritten = without_provisioned(translated, created)

    resources = rewritten["Resources"]
    assert not [k for k, v in resources.items() if v["Type"].startswith("AWS::Cognito::")]
    assert not (references(rewritten) & set(created))
    variables = resources["PeopleFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["USER_POOL_ID"] == created["UserPool"].ref
    assert variables["USER_POOL_CLIENT_ID"] == created["UserPoolClient"].ref
    policy = resources["PeopleFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert policy["Statement"][0]["Resource"] == created["UserPool"].attributes["Arn"]
    jwt_configuration = resources["HttpApi"]["Properties"]["Body"]["components"]["securitySchemes"][
        "CognitoJwt"
    ]["x-amazon-apigateway-authorizer"]["jwtConfiguration"]
    assert jwt_configuration["issuer"] == {
        "Fn::Sub": f"https://cognito-idp.${{AWS::Region}}.amazonaws.com/{created['UserPool'].ref}"
    }
    assert jwt_configuration["audience"] == [created["UserPoolClient"].ref]
    # The input is left as it was.
    assert "UserPool" in translated["Resources"]


def test_dependencies_on_removed_resources_are_dropped_and_others_kept() -> None:
    template = {
        "Resources": {
            "Pool": {"Type": "AWS::Cognito::UserPool"},
            "Queue": {"Type": "AWS::SQS::Queue"},
            "One": {"Type": "AWS::SQS::Queue", "DependsOn": "Pool"},
            "Both": {"Type": "AWS::SQS::Queue", "DependsOn": ["Pool", "Queue"]},
            "Sub": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "Name": {"Fn::Sub": ["${Pool}-${Pool.Arn}-${!Pool}-${Mine}", {"Mine": "x"}]},
                    "Shadowed": {"Fn::Sub": ["${Pool}", {"Pool": "mine"}]},
                },
            },
        }
    }
    pool = Provisioned(ref="pool-1", attributes={"Arn": "arn:pool-1"}, resource_type="x")

    rewritten = without_provisioned(template, {"Pool": pool})

    resources = rewritten["Resources"]
    assert "Pool" not in resources
    assert "DependsOn" not in resources["One"]
    assert resources["Both"]["DependsOn"] == ["Queue"]
    assert resources["Sub"]["Properties"]["Name"] == {
        "Fn::Sub": ["pool-1-arn:pool-1-${!Pool}-${Mine}", {"Mine": "x"}]
    }
    assert resources["Sub"]["Properties"]["Shadowed"] == {"Fn::Sub": ["${Pool}", {"Pool": "mine"}]}


# --- Cognito's rules: tokens -------------------------------------------------------------------


def test_given_cognitos_rules_then_tokens_live_as_long_as_the_client_says(
    cognito: Any, translated: dict[str, Any], rules: None
) -> None:
    created = provision(cognito, translated, **{ADMIN_EMAIL: ADMIN_PASSWORD})

    result = sign_in(cognito, created["UserPoolClient"].ref, ADMIN_EMAIL, ADMIN_PASSWORD)

    tokens = result["AuthenticationResult"]
    assert tokens["ExpiresIn"] == 15 * 60
    for name in ("IdToken", "AccessToken"):
        claims = jwt.decode(tokens[name], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 15 * 60, name


def test_given_a_client_without_validity_settings_then_tokens_live_cognitos_default_hour(
    cognito: Any, rules: None
) -> None:
    pool_id = cognito.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    hours = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="h", IdTokenValidity=2, AccessTokenValidity=2
    )["UserPoolClient"]["ClientId"]
    add_person(cognito, pool_id, ADMIN_EMAIL, "Passw0rd!long")

    default = sign_in(cognito, client_id, ADMIN_EMAIL, "Passw0rd!long")["AuthenticationResult"]
    in_hours = sign_in(cognito, hours, ADMIN_EMAIL, "Passw0rd!long")["AuthenticationResult"]

    assert default["ExpiresIn"] == 3600
    # Cognito's default unit for ID and access token validity is hours.
    assert in_hours["ExpiresIn"] == 2 * 3600


def test_after_the_block_moto_issues_its_own_one_hour_tokens_again(
    cognito: Any, translated: dict[str, Any], mail_dir: Path
) -> None:
    with cognito_rules(mail_dir):
        created = provision(cognito, translated, **{ADMIN_EMAIL: ADMIN_PASSWORD})

    result = sign_in(cognito, created["UserPoolClient"].ref, ADMIN_EMAIL, ADMIN_PASSWORD)

    assert result["AuthenticationResult"]["ExpiresIn"] == 3600


def test_the_rules_cannot_be_installed_twice(mail_dir: Path, rules: None) -> None:
    with pytest.raises(RuntimeError, match="already active"), cognito_rules(mail_dir):
        pass


# --- Cognito's rules: invitations --------------------------------------------------------------


@pytest.fixture
def pool(cognito: Any, translated: dict[str, Any], rules: None, mail_dir: Path) -> dict[str, str]:
    created = provision(cognito, translated, **{ADMIN_EMAIL: ADMIN_PASSWORD})
    return {"pool": created["UserPool"].ref, "client": created["UserPoolClient"].ref}


def invite(cognito: Any, pool_id: str, email: str, **extra: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "UserPoolId": pool_id,
        "Username": email,
        "UserAttributes": [
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
        "DesiredDeliveryMediums": ["EMAIL"],
        **extra,
    }
    return dict(cognito.admin_create_user(**arguments)["User"])


def test_given_an_invitation_then_the_mail_follows_the_pools_template(
    cognito: Any, pool: dict[str, str], mail_dir: Path, translated: dict[str, Any]
) -> None:
    invite(cognito, pool["pool"], "deckhand@scc.example")

    path, mail = only_mail(mail_dir, INVITATION)
    assert re.fullmatch(r"\d{8}T\d{12}Z-cognito-invitation-[0-9a-f]{8}\.eml", path.name)
    template = translated["Resources"]["UserPool"]["Properties"]["AdminCreateUserConfig"][
        "InviteMessageTemplate"
    ]
    assert mail["From"] == DEFAULT_SENDER
    assert mail["To"] == "deckhand@scc.example"
    assert mail["Subject"] == template["EmailSubject"]
    assert mail["Date"] is not None
    text = mail_text(mail)
    assert "deckhand@scc.example" in text
    assert "{####}" not in text
    assert "{username}" not in text
    temporary = filled_in(text, template["EmailMessage"])
    # Generated like Cognito's: it meets the pool's policy (12 characters at least).
    assert len(temporary) >= 12
    challenge = sign_in(cognito, pool["client"], "deckhand@scc.example", temporary)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert read_mails(mail_dir, INVITATION, "DECKHAND@scc.example")[0]["To"] == mail["To"]


def test_given_message_action_suppress_then_no_invitation_is_written(
    cognito: Any, pool: dict[str, str], mail_dir: Path
) -> None:
    invite(cognito, pool["pool"], "quiet@scc.example", MessageAction="SUPPRESS")

    assert read_mails(mail_dir, INVITATION) == []


def test_given_no_email_delivery_medium_then_cognito_defaults_to_sms_and_no_mail_is_written(
    cognito: Any, pool: dict[str, str], mail_dir: Path
) -> None:
    cognito.admin_create_user(
        UserPoolId=pool["pool"],
        Username="sms@scc.example",
        UserAttributes=[{"Name": "email", "Value": "sms@scc.example"}],
    )

    assert read_mails(mail_dir, INVITATION) == []
    user = cognito.admin_get_user(UserPoolId=pool["pool"], Username="sms@scc.example")
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_given_a_temporary_password_the_policy_refuses_then_the_user_is_not_created(
    cognito: Any, pool: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as error:
        invite(cognito, pool["pool"], "weak@scc.example", TemporaryPassword="short")

    assert error_code(error) == "InvalidPasswordException"
    users = cognito.list_users(UserPoolId=pool["pool"])["Users"]
    assert "weak@scc.example" not in str(users)


def test_given_resend_then_the_same_person_gets_a_new_temporary_password(
    cognito: Any, pool: dict[str, str], mail_dir: Path, translated: dict[str, Any]
) -> None:
    invite(cognito, pool["pool"], "again@scc.example")
    invite(cognito, pool["pool"], "again@scc.example", MessageAction="RESEND")

    template = translated["Resources"]["UserPool"]["Properties"]["AdminCreateUserConfig"][
        "InviteMessageTemplate"
    ]["EmailMessage"]
    first, second = (filled_in(mail_text(m), template) for m in read_mails(mail_dir, INVITATION))
    assert first != second
    users = cognito.list_users(UserPoolId=pool["pool"], Filter='email = "again@scc.example"')
    assert len(users["Users"]) == 1
    with pytest.raises(ClientError):
        sign_in(cognito, pool["client"], "again@scc.example", first)
    assert "ChallengeName" in sign_in(cognito, pool["client"], "again@scc.example", second)


def test_given_resend_for_a_confirmed_person_then_cognito_refuses(
    cognito: Any, pool: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as error:
        cognito.admin_create_user(
            UserPoolId=pool["pool"], Username=ADMIN_EMAIL, MessageAction="RESEND"
        )

    assert error_code(error) == "UnsupportedUserStateException"


# --- Cognito's rules: password reset -----------------------------------------------------------


def reset_code(mail_dir: Path, translated: dict[str, Any], email: str) -> str:
    template = translated["Resources"]["UserPool"]["Properties"]["VerificationMessageTemplate"]
    mails = read_mails(mail_dir, PASSWORD_RESET, email)
    assert mails, f"no reset mail for {email}"
    assert mails[-1]["Subject"] == template["EmailSubject"]
    return filled_in(mail_text(mails[-1]), template["EmailMessage"])


def test_given_forgot_password_then_a_six_digit_code_is_mailed_and_only_it_works(
    cognito: Any, pool: dict[str, str], mail_dir: Path, translated: dict[str, Any]
) -> None:
    cognito.forgot_password(ClientId=pool["client"], Username=ADMIN_EMAIL)
    code = reset_code(mail_dir, translated, ADMIN_EMAIL)
    assert re.fullmatch(r"\d{6}", code)

    wrong = "000000" if code != "000000" else "111111"
    for attempt in (wrong, "moto-confirmation-code:123456", "anything"):
        with pytest.raises(ClientError) as error:
            cognito.confirm_forgot_password(
                ClientId=pool["client"],
                Username=ADMIN_EMAIL,
                ConfirmationCode=attempt,
                Password="a brand new passphrase",
            )
        assert error_code(error) == "CodeMismatchException"

    cognito.confirm_forgot_password(
        ClientId=pool["client"],
        Username=ADMIN_EMAIL,
        ConfirmationCode=code,
        Password="a brand new passphrase",
    )

    assert "AuthenticationResult" in sign_in(
        cognito, pool["client"], ADMIN_EMAIL, "a brand new passphrase"
    )
    with pytest.raises(ClientError) as reused:
        cognito.confirm_forgot_password(
            ClientId=pool["client"],
            Username=ADMIN_EMAIL,
            ConfirmationCode=code,
            Password="yet another passphrase",
        )
    assert error_code(reused) == "ExpiredCodeException"


def test_given_an_hour_passed_then_the_code_has_expired(
    cognito: Any, pool: dict[str, str], mail_dir: Path, translated: dict[str, Any], clock: Clock
) -> None:
    cognito.forgot_password(ClientId=pool["client"], Username=ADMIN_EMAIL)
    code = reset_code(mail_dir, translated, ADMIN_EMAIL)

    clock.now += 3601

    with pytest.raises(ClientError) as error:
        cognito.confirm_forgot_password(
            ClientId=pool["client"],
            Username=ADMIN_EMAIL,
            ConfirmationCode=code,
            Password="a brand new passphrase",
        )
    assert error_code(error) == "ExpiredCodeException"


def test_given_no_code_was_asked_for_then_any_code_is_expired(
    cognito: Any, pool: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as error:
        cognito.confirm_forgot_password(
            ClientId=pool["client"],
            Username=ADMIN_EMAIL,
            ConfirmationCode="123456",
            Password="a brand new passphrase",
        )

    assert error_code(error) == "ExpiredCodeException"


def test_given_a_new_password_the_policy_refuses_then_the_code_stays_usable(
    cognito: Any, pool: dict[str, str], mail_dir: Path, translated: dict[str, Any]
) -> None:
    cognito.forgot_password(ClientId=pool["client"], Username=ADMIN_EMAIL)
    code = reset_code(mail_dir, translated, ADMIN_EMAIL)

    with pytest.raises(ClientError) as error:
        cognito.confirm_forgot_password(
            ClientId=pool["client"], Username=ADMIN_EMAIL, ConfirmationCode=code, Password="short"
        )
    assert error_code(error) == "InvalidPasswordException"

    cognito.confirm_forgot_password(
        ClientId=pool["client"],
        Username=ADMIN_EMAIL,
        ConfirmationCode=code,
        Password="a brand new passphrase",
    )


def test_given_an_unknown_person_then_reset_reveals_nothing_and_mails_nobody(
    cognito: Any, pool: dict[str, str], mail_dir: Path
) -> None:
    result = cognito.forgot_password(ClientId=pool["client"], Username="nobody@scc.example")

    assert result["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert result["CodeDeliveryDetails"]["Destination"] == "n***@s***"
    assert read_mails(mail_dir, PASSWORD_RESET) == []
    with pytest.raises(ClientError) as error:
        cognito.confirm_forgot_password(
            ClientId=pool["client"],
            Username="nobody@scc.example",
            ConfirmationCode="123456",
            Password="a brand new passphrase",
        )
    assert error_code(error) == "CodeMismatchException"


def test_given_an_invited_person_who_never_signed_in_then_reset_is_refused(
    cognito: Any, pool: dict[str, str], mail_dir: Path
) -> None:
    invite(cognito, pool["pool"], "new@scc.example")

    with pytest.raises(ClientError) as error:
        cognito.forgot_password(ClientId=pool["client"], Username="new@scc.example")

    assert error_code(error) == "NotAuthorizedException"
    assert read_mails(mail_dir, PASSWORD_RESET) == []


def test_given_a_disabled_person_then_reset_is_refused(
    cognito: Any, pool: dict[str, str], mail_dir: Path
) -> None:
    cognito.admin_disable_user(UserPoolId=pool["pool"], Username=ADMIN_EMAIL)

    with pytest.raises(ClientError) as error:
        cognito.forgot_password(ClientId=pool["client"], Username=ADMIN_EMAIL)

    assert error_code(error) == "NotAuthorizedException"


def test_given_a_session_cognito_never_issued_when_its_challenge_is_answered_then_not_authorized(
    cognito: Any, pool: dict[str, str]
) -> None:
    # Given a session string no sign-in handed out
    with pytest.raises(ClientError) as error:
        # When a new password is sent for it
        cognito.respond_to_auth_challenge(
            ClientId=pool["client"],
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session="s" * 40,
            ChallengeResponses={"USERNAME": ADMIN_EMAIL, "NEW_PASSWORD": "Aa1!another-passphrase"},
        )

    # Then Cognito's answer: not authorized (moto alone says the resource is not found)
    assert error_code(error) == "NotAuthorizedException"


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("minimum", [6, 12, 40])
def test_generated_passwords_meet_any_policy(minimum: int) -> None:
    password = generate_password({"MinimumLength": minimum})

    assert len(password) >= minimum
    assert re.search(r"[a-z]", password)
    assert re.search(r"[A-Z]", password)
    assert re.search(r"\d", password)
    assert re.search(r"[^A-Za-z0-9]", password)
    assert generate_password() != generate_password()
