"""Amazon Cognito in the local stack: the template's user pool created through moto's
cognito-idp API, and Cognito's own behaviour where moto does not have it.

moto's CloudFormation creates no `AWS::Cognito::*` resource, but moto's cognito-idp API works.
So, before the stack is created:

1. `provision_cognito` creates every UserPool, UserPoolClient, UserPoolGroup, UserPoolUser and
   UserPoolUserToGroupAttachment of the translated template through that API, from the
   resource's own properties (resolved by devstack.intrinsics; the few CloudFormation-only
   property names are mapped to the API calls CloudFormation makes), in dependency order.
2. `without_provisioned` rewrites the template: every `Ref`, `Fn::GetAtt` and `${...}` pointing
   at a provisioned resource becomes its real value and the resources themselves are removed,
   so moto's CloudFormation creates the rest with real pool and client ids (the functions'
   USER_POOL_ID / USER_POOL_CLIENT_ID, the IAM policies' pool ARN).

`cognito_rules(mail_dir)` patches moto's Cognito backend for as long as it is active, so that it
plays by Cognito's documented rules where moto cuts corners:

- ID and access tokens live as long as the app client says (IdTokenValidity /
  AccessTokenValidity in TokenValidityUnits; Cognito's defaults otherwise: 60 minutes), and
  `ExpiresIn` says the same; moto always uses one hour.
- AdminCreateUser without a TemporaryPassword generates one that meets the pool's password
  policy (moto leaves the user without any password), a given one is checked against the
  policy, and MessageAction=RESEND gives the existing FORCE_CHANGE_PASSWORD user a new one.
- Unless MessageAction is SUPPRESS, the invitation (the pool's InviteMessageTemplate, with
  `{username}` and `{####}` filled in) is delivered by e-mail when DesiredDeliveryMediums
  includes EMAIL: written as an `.eml` file to `mail_dir`.
- ForgotPassword issues a 6-digit code valid for one hour and e-mails it (the pool's
  VerificationMessageTemplate); ConfirmForgotPassword accepts only that code
  (CodeMismatchException otherwise, ExpiredCodeException when none is pending or it expired)
  and checks the new password against the policy. moto's own version accepts any code.
- RespondToAuthChallenge with a session Cognito did not issue (or no longer holds) is
  NotAuthorizedException, as Cognito answers it; moto answers ResourceNotFoundException.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from devstack.files import write_atomically
from devstack.intrinsics import IntrinsicError, Resolver, ResourceValues, references

log = logging.getLogger(__name__)

USER_POOL = "AWS::Cognito::UserPool"
USER_POOL_CLIENT = "AWS::Cognito::UserPoolClient"
USER_POOL_GROUP = "AWS::Cognito::UserPoolGroup"
USER_POOL_USER = "AWS::Cognito::UserPoolUser"
USER_TO_GROUP = "AWS::Cognito::UserPoolUserToGroupAttachment"
PROVISIONED_TYPES = (USER_POOL, USER_POOL_CLIENT, USER_POOL_GROUP, USER_POOL_USER, USER_TO_GROUP)

# Cognito's sender when a pool has no EmailConfiguration of its own (COGNITO_DEFAULT).
DEFAULT_SENDER = "no-reply@verificationemail.com"
RESET_CODE_TTL_SECONDS = 3600  # "The code is valid for one hour" (ForgotPassword)
_DEFAULT_INVITE_SUBJECT = "Your temporary password"
_DEFAULT_INVITE_MESSAGE = "Your username is {username} and temporary password is {####}."
_DEFAULT_CODE_SUBJECT = "Your verification code"
_DEFAULT_CODE_MESSAGE = "Your verification code is {####}."
# Cognito counts these as symbols; the generated passwords use a subset that is easy to copy
# from a terminal (no quotes, backslashes or spaces).
_PASSWORD_SYMBOLS = "!#%*+-=?@^_"  # noqa: S105 - an alphabet, not a password


class ProvisionError(RuntimeError):
    """A Cognito resource of the template could not be created locally."""


@dataclass(frozen=True)
class Provisioned(ResourceValues):
    """A Cognito resource created through the API: what `Ref` and `Fn::GetAtt` give for it."""

    resource_type: str = ""


# ---------------------------------------------------------------------------------------------
# Provisioning
# ---------------------------------------------------------------------------------------------


def provision_cognito(
    cognito_idp_client: Any,
    translated: Mapping[str, Any],
    parameters: Mapping[str, str],
    region: str,
    account_id: str,
    *,
    stack_name: str = "local",
    user_passwords: Mapping[str, str] | None = None,
) -> dict[str, Provisioned]:
    """Create the template's Cognito resources through `cognito_idp_client`; by logical id.

    `user_passwords` is local-only: a user whose Username (case-insensitive) is a key is
    created without an invitation (MessageAction SUPPRESS) and gets that password as a
    permanent one, so a developer can sign in at once.
    """
    resources = _cognito_resources(translated)
    resolver = Resolver(
        translated, parameters, region=region, account_id=account_id, stack_name=stack_name
    )
    passwords = {k.lower(): v for k, v in (user_passwords or {}).items()}
    created: dict[str, Provisioned] = {}
    for logical_id in _creation_order(resources):
        if not resolver.resource_enabled(logical_id):
            continue
        resource = resources[logical_id]
        try:
            properties = resolver.resolve(resource.get("Properties") or {})
        except IntrinsicError as exc:
            raise ProvisionError(f"{logical_id}: {exc}") from exc
        provisioned = _create(
            cognito_idp_client, logical_id, resource["Type"], properties, region, passwords
        )
        created[logical_id] = provisioned
        resolver.resources[logical_id] = provisioned
        log.info("local stack: %s %s created through cognito-idp", logical_id, provisioned.ref)
    return created


def _cognito_resources(translated: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    resources = translated.get("Resources") or {}
    found = {
        k: v
        for k, v in resources.items()
        if isinstance(v, dict) and v.get("Type") in PROVISIONED_TYPES
    }
    others = sorted(
        {
            str(v.get("Type"))
            for v in resources.values()
            if isinstance(v, dict)
            and str(v.get("Type", "")).startswith("AWS::Cognito::")
            and v.get("Type") not in PROVISIONED_TYPES
        }
    )
    if others:
        log.warning(
            "local stack: Cognito resource types not created locally: %s", ", ".join(others)
        )
    return found


def _creation_order(resources: Mapping[str, dict[str, Any]]) -> list[str]:
    """Logical ids so that each comes after what it references or DependsOn (template order
    otherwise); a reference to a resource CloudFormation would create later is refused."""
    needs: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        referenced = references(resource.get("Properties") or {})
        depends = resource.get("DependsOn") or []
        referenced |= {depends} if isinstance(depends, str) else set(depends)
        # Anything else (a parameter, a resource moto creates later) is for the resolver,
        # which refuses a resource that does not exist yet by name.
        needs[logical_id] = {r for r in referenced if r in resources}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in order or logical_id not in resources:
            return
        if logical_id in visiting:
            raise ProvisionError(f"{logical_id}: circular reference between Cognito resources")
        visiting.add(logical_id)
        for dependency in sorted(needs[logical_id]):
            visit(dependency)
        visiting.discard(logical_id)
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return order


_SUB_NAME = re.compile(r"\$\{([^}]*)\}")


def _create(
    client: Any,
    logical_id: str,
    resource_type: str,
    properties: dict[str, Any],
    region: str,
    passwords: Mapping[str, str],
) -> Provisioned:
    try:
        if resource_type == USER_POOL:
            return _create_user_pool(client, logical_id, properties, region)
        if resource_type == USER_POOL_CLIENT:
            return _create_client(client, logical_id, properties)
        if resource_type == USER_POOL_GROUP:
            return _create_group(client, logical_id, properties)
        if resource_type == USER_POOL_USER:
            return _create_user(client, logical_id, properties, passwords)
        return _attach_user_to_group(client, logical_id, properties)
    except ProvisionError:
        raise
    except Exception as exc:  # any API refusal is reported with the resource
        raise ProvisionError(f"{logical_id} ({resource_type}): {exc}") from exc


def _api_arguments(
    client: Any, operation: str, logical_id: str, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """`properties` as the operation's parameters, typed by its input shape (template values
    are text: `"15"` becomes 15 where the API wants an integer); unknown names are refused."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    unknown = sorted(set(properties) - set(shape.members))
    if unknown:
        raise ProvisionError(
            f"{logical_id}: {', '.join(unknown)} cannot be created locally ({operation} has no such parameter)"
        )
    return {name: _coerce(value, shape.members[name], name) for name, value in properties.items()}


def _coerce(value: Any, shape: Any, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ProvisionError(f"{where} must be a mapping, got {value!r}")
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            raise ProvisionError(f"{where}: unknown properties {', '.join(unknown)}")
        return {k: _coerce(v, shape.members[k], f"{where}.{k}") for k, v in value.items()}
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [_coerce(item, shape.member, f"{where}[]") for item in items]
    if kind == "map":
        if not isinstance(value, dict):
            raise ProvisionError(f"{where} must be a mapping, got {value!r}")
        return {str(k): _coerce(v, shape.value, f"{where}.{k}") for k, v in value.items()}
    if kind in ("integer", "long"):
        return int(str(value))
    if kind in ("double", "float"):
        return float(str(value))
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise ProvisionError(f"{where} must be true or false, got {value!r}")
        return text == "true"
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            raise ProvisionError(f"{where} must be text, got {value!r}")
        return str(value)
    return value


def _create_user_pool(
    client: Any, logical_id: str, properties: dict[str, Any], region: str
) -> Provisioned:
    props = dict(properties)
    props["PoolName"] = props.pop("UserPoolName", None) or f"{logical_id}-{secrets.token_hex(4)}"
    enabled_mfas = props.pop("EnabledMfas", None)
    # CloudFormation turns MFA on with a separate SetUserPoolMfaConfig call (CreateUserPool
    # would refuse ON/OPTIONAL without an SMS configuration); so does this.
    mfa = str(props.pop("MfaConfiguration", "OFF"))
    for cloudformation_only in ("WebAuthnRelyingPartyID", "WebAuthnUserVerification"):
        if cloudformation_only in props:
            raise ProvisionError(f"{logical_id}: {cloudformation_only} is not supported locally")
    pool = client.create_user_pool(**_api_arguments(client, "CreateUserPool", logical_id, props))[
        "UserPool"
    ]
    pool_id = str(pool["Id"])
    if mfa != "OFF":
        _set_mfa(client, logical_id, pool_id, mfa, enabled_mfas, properties)
    provider = f"cognito-idp.{region}.amazonaws.com/{pool_id}"
    return Provisioned(
        ref=pool_id,
        attributes={
            "Arn": str(pool["Arn"]),
            "ProviderName": provider,
            "ProviderURL": f"https://{provider}",
            "UserPoolId": pool_id,
        },
        resource_type=USER_POOL,
    )


def _set_mfa(
    client: Any,
    logical_id: str,
    pool_id: str,
    mfa: str,
    enabled_mfas: Any,
    properties: Mapping[str, Any],
) -> None:
    enabled = set(enabled_mfas or ())
    if not enabled:
        enabled = {"SMS_MFA"} if properties.get("SmsConfiguration") else set()
    if not enabled:
        raise ProvisionError(f"{logical_id}: MfaConfiguration {mfa} needs EnabledMfas")
    arguments: dict[str, Any] = {"UserPoolId": pool_id, "MfaConfiguration": mfa}
    if "SOFTWARE_TOKEN_MFA" in enabled:
        arguments["SoftwareTokenMfaConfiguration"] = {"Enabled": True}
    if "SMS_MFA" in enabled:
        sms: dict[str, Any] = {"SmsConfiguration": properties.get("SmsConfiguration") or {}}
        if properties.get("SmsAuthenticationMessage"):
            sms["SmsAuthenticationMessage"] = properties["SmsAuthenticationMessage"]
        arguments["SmsMfaConfiguration"] = sms
    if "EMAIL_OTP" in enabled:
        arguments["EmailMfaConfiguration"] = {}
    client.set_user_pool_mfa_config(
        **_api_arguments(client, "SetUserPoolMfaConfig", logical_id, arguments)
    )


def _create_client(client: Any, logical_id: str, properties: dict[str, Any]) -> Provisioned:
    props = dict(properties)
    props.setdefault("ClientName", f"{logical_id}-{secrets.token_hex(4)}")
    created = client.create_user_pool_client(
        **_api_arguments(client, "CreateUserPoolClient", logical_id, props)
    )["UserPoolClient"]
    client_id = str(created["ClientId"])
    attributes = {"ClientId": client_id, "Name": str(created.get("ClientName", ""))}
    if created.get("ClientSecret"):
        attributes["ClientSecret"] = str(created["ClientSecret"])
    return Provisioned(ref=client_id, attributes=attributes, resource_type=USER_POOL_CLIENT)


def _create_group(client: Any, logical_id: str, properties: dict[str, Any]) -> Provisioned:
    props = dict(properties)
    props.setdefault("GroupName", f"{logical_id}-{secrets.token_hex(4)}")
    created = client.create_group(**_api_arguments(client, "CreateGroup", logical_id, props))
    name = str(created["Group"]["GroupName"])
    return Provisioned(ref=name, attributes={}, resource_type=USER_POOL_GROUP)


def _create_user(
    client: Any, logical_id: str, properties: dict[str, Any], passwords: Mapping[str, str]
) -> Provisioned:
    props = dict(properties)
    username = str(props.get("Username") or "")
    if not username:
        raise ProvisionError(f"{logical_id}: a user needs a Username locally")
    password = passwords.get(username.lower())
    if password is not None:
        props["MessageAction"] = "SUPPRESS"  # the developer gets the password from the banner
    client.admin_create_user(**_api_arguments(client, "AdminCreateUser", logical_id, props))
    if password is not None:
        pool_id = props["UserPoolId"]
        try:
            client.admin_set_user_password(
                UserPoolId=pool_id, Username=username, Password=password, Permanent=True
            )
        except client.exceptions.InvalidPasswordException as exc:
            raise ProvisionError(
                f"the password for {username} does not meet the user pool's password policy "
                f"({_policy_text(client, pool_id)})"
            ) from exc
    return Provisioned(ref=username, attributes={}, resource_type=USER_POOL_USER)


def _policy_text(client: Any, pool_id: str) -> str:
    pool = client.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    policy = (pool.get("Policies") or {}).get("PasswordPolicy") or {}
    return ", ".join(f"{k} {v}" for k, v in sorted(policy.items())) or "no policy"


def add_person(
    cognito_idp_client: Any,
    user_pool_id: str,
    email: str,
    password: str,
    *,
    group: str | None = None,
) -> str:
    """A person who can sign in at once (local-only: no invitation, a permanent password, the
    e-mail verified), optionally in `group`; returns the user's `sub`."""
    client = cognito_idp_client
    try:
        user = client.admin_create_user(
            UserPoolId=user_pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )["User"]
        client.admin_set_user_password(
            UserPoolId=user_pool_id, Username=email, Password=password, Permanent=True
        )
        if group is not None:
            client.admin_add_user_to_group(UserPoolId=user_pool_id, Username=email, GroupName=group)
    except client.exceptions.InvalidPasswordException as exc:
        raise ProvisionError(
            f"the password for {email} does not meet the user pool's password policy "
            f"({_policy_text(client, user_pool_id)})"
        ) from exc
    except Exception as exc:  # any other refusal, named with the person
        raise ProvisionError(f"cannot add {email} to {user_pool_id}: {exc}") from exc
    attributes = {a["Name"]: a["Value"] for a in user.get("Attributes") or []}
    return str(attributes.get("sub") or user["Username"])


def _attach_user_to_group(client: Any, logical_id: str, properties: dict[str, Any]) -> Provisioned:
    arguments = _api_arguments(client, "AdminAddUserToGroup", logical_id, properties)
    client.admin_add_user_to_group(**arguments)
    ref = f"{arguments['UserPoolId']}-{arguments['GroupName']}-{arguments['Username']}"
    return Provisioned(ref=ref, attributes={}, resource_type=USER_TO_GROUP)


# ---------------------------------------------------------------------------------------------
# The template moto gets
# ---------------------------------------------------------------------------------------------


def without_provisioned(
    translated: Mapping[str, Any], provisioned: Mapping[str, ResourceValues]
) -> dict[str, Any]:
    """A copy of `translated` with the provisioned resources' values written in and the
    resources (and DependsOn on them) removed. The input is not modified."""
    template = copy.deepcopy(dict(translated))
    resources = template.get("Resources") or {}
    for logical_id in provisioned:
        resources.pop(logical_id, None)
    for resource in resources.values():
        if isinstance(resource, dict) and "DependsOn" in resource:
            _drop_dependencies(resource, provisioned)
    return {k: _substitute(v, provisioned) for k, v in template.items()}


def _drop_dependencies(resource: dict[str, Any], provisioned: Mapping[str, Any]) -> None:
    depends = resource["DependsOn"]
    kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in provisioned]
    if kept:
        resource["DependsOn"] = kept[0] if isinstance(depends, str) else kept
    else:
        del resource["DependsOn"]


def _substitute(value: Any, provisioned: Mapping[str, ResourceValues]) -> Any:
    if isinstance(value, list):
        return [_substitute(item, provisioned) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and isinstance(argument, str) and argument in provisioned:
            return provisioned[argument].ref
        if key == "Fn::GetAtt":
            target = _get_att_target(argument)
            if target is not None and target[0] in provisioned:
                return _attribute(provisioned, *target)
        if key == "Fn::Sub":
            return {"Fn::Sub": _substitute_sub(argument, provisioned)}
    return {k: _substitute(v, provisioned) for k, v in value.items()}


def _get_att_target(argument: Any) -> tuple[str, str] | None:
    if isinstance(argument, str) and "." in argument:
        logical_id, attribute = argument.split(".", 1)
        return logical_id, attribute
    if (
        isinstance(argument, list)
        and len(argument) == 2
        and all(isinstance(a, str) for a in argument)
    ):
        return str(argument[0]), str(argument[1])
    return None


def _attribute(provisioned: Mapping[str, ResourceValues], logical_id: str, attribute: str) -> Any:
    attributes = provisioned[logical_id].attributes
    if attribute not in attributes:
        raise ProvisionError(f"Fn::GetAtt {logical_id}.{attribute}: not available locally")
    return attributes[attribute]


def _substitute_sub(argument: Any, provisioned: Mapping[str, ResourceValues]) -> Any:
    if isinstance(argument, str):
        text, variables = argument, None
    elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        text, variables = argument[0], _substitute(argument[1], provisioned)
    else:
        return _substitute(argument, provisioned)
    shadowed = set(variables) if isinstance(variables, dict) else set()

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        name, _, attribute = inner.partition(".")
        if inner.startswith("!") or name in shadowed or name not in provisioned:
            return match.group(0)
        value = _attribute(provisioned, name, attribute) if attribute else provisioned[name].ref
        # A value is literal text inside Fn::Sub: keep any `${` in it from being read as one.
        return str(value).replace("${", "${!")

    replaced = _SUB_NAME.sub(replace, text)
    return replaced if variables is None else [replaced, variables]


# ---------------------------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------------------------


def generate_password(policy: Mapping[str, Any] | None = None, *, length: int = 20) -> str:
    """A random password with a lower-case letter, an upper-case letter, a digit and a symbol,
    at least as long as the policy's MinimumLength: it meets any Cognito password policy."""
    policy = policy or {}
    size = max(length, int(policy.get("MinimumLength", 8)))
    size = min(size, int(policy.get("MaximumLength", 99)) - 1)
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _PASSWORD_SYMBOLS)
    alphabet = "".join(classes)
    chosen = [secrets.choice(c) for c in classes]
    chosen += [secrets.choice(alphabet) for _ in range(size - len(chosen))]
    # Fisher-Yates with a CSPRNG, so the required classes are not always in front.
    for i in range(len(chosen) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chosen[i], chosen[j] = chosen[j], chosen[i]
    return "".join(chosen)


def token_lifetime_seconds(client_config: Mapping[str, Any], token_use: str) -> int:
    """How long Cognito makes an ID or access token of this app client live, in seconds.

    The validity is counted in TokenValidityUnits (Cognito's default unit for ID and access
    tokens is hours); without a validity Cognito issues them for 60 minutes.
    """
    key = {"id": "IdToken", "access": "AccessToken"}[token_use]
    validity = client_config.get(f"{key}Validity")
    if validity in (None, ""):
        return 3600
    units = (client_config.get("TokenValidityUnits") or {}).get(key) or "hours"
    seconds = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[str(units)]
    return int(validity) * seconds


# ---------------------------------------------------------------------------------------------
# Mail (.eml files, the way the notifier spools its mail locally)
# ---------------------------------------------------------------------------------------------

INVITATION = "invitation"
PASSWORD_RESET = "password-reset"  # noqa: S105 - a mail kind


def mail_file_name(kind: str, recipient: str, moment: datetime) -> str:
    """``20261130T041500123456Z-cognito-invitation-<hash>.eml``: sorts by time, says what it is;
    the hash (of the recipient) keeps two people's mails apart without naming them."""
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()[:8]
    return f"{stamp}-cognito-{kind}-{digest}.eml"


def write_mail(
    mail_dir: Path,
    *,
    kind: str,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    moment: datetime,
) -> Path:
    """Write one mail atomically (temporary dot-file + rename: a reader never sees half)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(moment.astimezone(UTC))
    message["Message-ID"] = make_msgid(domain="cognito-idp.local")
    message["X-SCC-Mail-Kind"] = f"cognito-{kind}"
    message.set_content(body)
    mail_dir.mkdir(parents=True, exist_ok=True)
    target = mail_dir / mail_file_name(kind, recipient, moment)
    while target.exists():
        # Two mails to one person within a microsecond (or a frozen test clock): the later one
        # gets the next microsecond, so names still sort in the order the mails were sent.
        moment += timedelta(microseconds=1)
        target = mail_dir / mail_file_name(kind, recipient, moment)
    return write_atomically(target, message.as_bytes(policy=email_policy.SMTP))


def read_mails(
    mail_dir: Path, kind: str | None = None, recipient: str | None = None
) -> list[EmailMessage]:
    """The Cognito mails in `mail_dir` (oldest first), optionally of one kind / to one address."""
    pattern = f"*-cognito-{kind}-*.eml" if kind else "*-cognito-*.eml"
    mails: list[EmailMessage] = []
    for path in sorted(mail_dir.glob(pattern)):
        parsed = BytesParser(policy=email_policy.default).parsebytes(path.read_bytes())
        if not isinstance(parsed, EmailMessage):
            continue
        if recipient is not None and str(parsed["To"]).strip().lower() != recipient.strip().lower():
            continue
        mails.append(parsed)
    return mails


def filled_in(text: str, template: str, placeholder: str = "{####}") -> str:
    """What `placeholder` became in `text`, a mail body made from `template` (a message template
    of the pool): the temporary password of an invitation, the code of a reset mail."""
    pattern = re.escape(template)
    pattern = pattern.replace(re.escape(placeholder), "(?P<secret>\\S+?)", 1)
    for other in ("{username}", "{####}"):
        pattern = pattern.replace(re.escape(other), ".*?")
    found = re.fullmatch(pattern, text.strip(), flags=re.DOTALL)
    if found is None:
        raise ValueError("the text was not made from this template")
    return found.group("secret")


def mail_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


# ---------------------------------------------------------------------------------------------
# Cognito's rules, patched into moto
# ---------------------------------------------------------------------------------------------


class _PendingCode:
    __slots__ = ("code", "expires_at")

    def __init__(self, code: str, expires_at: float) -> None:
        self.code = code
        self.expires_at = expires_at


class CognitoRules:
    """The state of an active `cognito_rules` patch: where mail goes, pending reset codes."""

    def __init__(self, mail_dir: Path | None, clock: Callable[[], float]) -> None:
        self.mail_dir = mail_dir
        self.clock = clock
        self._codes: dict[tuple[str, str], _PendingCode] = {}
        self._lock = threading.Lock()
        self.sent: list[Path] = []

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def deliver(self, *, kind: str, sender: str, recipient: str, subject: str, body: str) -> None:
        if self.mail_dir is None:
            log.info("cognito %s for %s not written (no MAIL_DIR)", kind, recipient)
            return
        path = write_mail(
            self.mail_dir,
            kind=kind,
            sender=sender,
            recipient=recipient,
            subject=subject,
            body=body,
            moment=self.now(),
        )
        self.sent.append(path)
        log.info("cognito %s mail written: %s", kind, path.name)

    def issue_code(self, pool_id: str, user_id: str) -> str:
        code = f"{secrets.randbelow(1_000_000):06d}"
        with self._lock:
            self._codes[pool_id, user_id] = _PendingCode(
                code, self.clock() + RESET_CODE_TTL_SECONDS
            )
        return code

    def check_code(self, pool_id: str, user_id: str, code: str) -> str | None:
        """None when `code` is the pending one, else the name of Cognito's exception."""
        with self._lock:
            pending = self._codes.get((pool_id, user_id))
            if pending is None or pending.expires_at <= self.clock():
                self._codes.pop((pool_id, user_id), None)
                return "ExpiredCodeException"
            if not secrets.compare_digest(pending.code.encode(), code.encode()):
                return "CodeMismatchException"
            return None

    def consume_code(self, pool_id: str, user_id: str) -> None:
        with self._lock:
            self._codes.pop((pool_id, user_id), None)


_ACTIVE_LOCK = threading.Lock()
_active: CognitoRules | None = None


@contextlib.contextmanager
def cognito_rules(
    mail_dir: Path | None, *, clock: Callable[[], float] = time.time
) -> Iterator[CognitoRules]:
    """Make moto's Cognito (in this process: mock_aws or a ThreadedMotoServer) behave like
    Cognito while the block runs; moto is restored on exit. Not reentrant."""
    global _active
    from moto.cognitoidp import models, responses

    with _ACTIVE_LOCK:
        if _active is not None:
            raise RuntimeError("cognito_rules is already active in this process")
        rules = CognitoRules(mail_dir, clock)
        _active = rules
    patches = _patches(rules, models, responses)
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    try:
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
        yield rules
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
        with _ACTIVE_LOCK:
            _active = None


def _patches(rules: CognitoRules, models: Any, responses: Any) -> list[tuple[type, str, Any]]:
    pool_class = models.CognitoIdpUserPool
    backend_class = models.CognitoIdpBackend
    response_class = responses.CognitoIdpResponse
    original_create_jwt = pool_class.create_jwt
    original_admin_create_user = backend_class.admin_create_user
    original_response_admin_create_user = response_class.admin_create_user
    original_respond_to_auth_challenge = backend_class.respond_to_auth_challenge
    exceptions = _Exceptions(models)

    def create_jwt(
        self: Any,
        client_id: str,
        username: str,
        token_use: str,
        expires_in: int = 3600,
        extra_data: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        client = self.clients.get(client_id)
        if client is not None and token_use in ("id", "access"):
            expires_in = token_lifetime_seconds(client.extended_config, token_use)
        return original_create_jwt(self, client_id, username, token_use, expires_in, extra_data)  # type: ignore[no-any-return]

    def admin_create_user(
        self: Any,
        user_pool_id: str,
        username: str,
        message_action: str | None,
        temporary_password: str | None,
        attributes: list[dict[str, str]],
    ) -> Any:
        pool = self.describe_user_pool(user_pool_id)
        if temporary_password:
            self._validate_password(user_pool_id, temporary_password)
        else:
            temporary_password = generate_password(_password_policy(pool))
        if message_action == "RESEND":
            user = self.admin_get_user(user_pool_id, username)
            if user.status != models.UserStatus.FORCE_CHANGE_PASSWORD:
                raise exceptions.unsupported_user_state(
                    "Resend not possible. " + username + " status is not FORCE_CHANGE_PASSWORD."
                )
            user.password = temporary_password
            return user
        return original_admin_create_user(
            self, user_pool_id, username, message_action, temporary_password, attributes
        )

    def response_admin_create_user(self: Any) -> Any:
        parameters = json.loads(self.body)
        result = original_response_admin_create_user(self)
        if parameters.get("MessageAction") == "SUPPRESS":
            return result
        pool_id, username = parameters["UserPoolId"], parameters["Username"]
        backend = self.backend
        pool = backend.describe_user_pool(pool_id)
        user = backend.admin_get_user(pool_id, username)
        mediums = parameters.get("DesiredDeliveryMediums") or ["SMS"]  # Cognito's default
        email = user.attribute_lookup.get("email")
        if "EMAIL" not in mediums or not email:
            log.warning(
                "cognito invitation for %s not delivered: DesiredDeliveryMediums %s and e-mail %s"
                " (the local stack delivers e-mail only)",
                username,
                mediums,
                "present" if email else "absent",
            )
            return result
        template = (pool.extended_config.get("AdminCreateUserConfig") or {}).get(
            "InviteMessageTemplate"
        ) or {}
        body = str(template.get("EmailMessage") or _DEFAULT_INVITE_MESSAGE)
        rules.deliver(
            kind=INVITATION,
            sender=_sender(pool),
            recipient=email,
            subject=str(template.get("EmailSubject") or _DEFAULT_INVITE_SUBJECT),
            body=body.replace("{username}", username).replace("{####}", str(user.password)),
        )
        return result

    def forgot_password(self: Any, client_id: str, username: str) -> tuple[None, dict[str, Any]]:
        pool = _pool_of_client(self, client_id, exceptions)
        user = pool._get_user(username)
        if user is not None:
            if not user.enabled:
                raise exceptions.not_authorized("User is disabled.")
            if user.status == models.UserStatus.FORCE_CHANGE_PASSWORD:
                raise exceptions.not_authorized(
                    "User password cannot be reset in the current state."
                )
            email = user.attribute_lookup.get("email")
            if not email or user.attribute_lookup.get("email_verified", "false") != "true":
                raise exceptions.invalid_parameter(
                    "Cannot reset password for the user as there is no registered/verified "
                    "email or phone_number"
                )
            code = rules.issue_code(pool.id, user.id)
            template = pool.extended_config.get("VerificationMessageTemplate") or {}
            subject = template.get("EmailSubject") or pool.extended_config.get(
                "EmailVerificationSubject"
            )
            message = template.get("EmailMessage") or pool.extended_config.get(
                "EmailVerificationMessage"
            )
            rules.deliver(
                kind=PASSWORD_RESET,
                sender=_sender(pool),
                recipient=email,
                subject=str(subject or _DEFAULT_CODE_SUBJECT),
                body=str(message or _DEFAULT_CODE_MESSAGE).replace("{####}", code),
            )
        details = self._get_code_delivery_details(
            pool.extended_config.get("AccountRecoverySetting"), user, username
        )
        if user is None and details.get("DeliveryMedium") == "EMAIL" and "@" in username:
            # PreventUserExistenceErrors: an unknown address gets the same masked answer.
            local, _, domain = username.partition("@")
            details = {**details, "Destination": f"{local[:1]}***@{domain[:1]}***"}
        return None, {"CodeDeliveryDetails": details}

    def confirm_forgot_password(
        self: Any, client_id: str, username: str, password: str, confirmation_code: str
    ) -> None:
        pool = _pool_of_client(self, client_id, exceptions)
        user = pool._get_user(username)
        if user is None:
            # PreventUserExistenceErrors: an unknown person looks like a wrong code.
            raise exceptions.code_mismatch("Invalid verification code provided, please try again.")
        problem = rules.check_code(pool.id, user.id, str(confirmation_code or ""))
        if problem == "ExpiredCodeException":
            raise exceptions.expired_code("Invalid code provided, please request a code again.")
        if problem == "CodeMismatchException":
            raise exceptions.code_mismatch("Invalid verification code provided, please try again.")
        # A password the policy refuses leaves the code usable for a better one.
        self._validate_password(pool.id, password)
        rules.consume_code(pool.id, user.id)
        user.password = password
        user.confirmation_code = None
        user.status = models.UserStatus.CONFIRMED

    def respond_to_auth_challenge(
        self: Any,
        session: str,
        client_id: str,
        challenge_name: str,
        challenge_responses: dict[str, str],
    ) -> Any:
        if challenge_name != "PASSWORD_VERIFIER" and session not in self.sessions:
            raise exceptions.not_authorized("Invalid session for the user.")
        return original_respond_to_auth_challenge(
            self, session, client_id, challenge_name, challenge_responses
        )

    return [
        (pool_class, "create_jwt", create_jwt),
        (backend_class, "respond_to_auth_challenge", respond_to_auth_challenge),
        (backend_class, "admin_create_user", admin_create_user),
        (backend_class, "forgot_password", forgot_password),
        (backend_class, "confirm_forgot_password", confirm_forgot_password),
        (response_class, "admin_create_user", response_admin_create_user),
    ]


class _Exceptions:
    """moto's Cognito errors (and the one it lacks), built the way its API returns them."""

    def __init__(self, models: Any) -> None:
        from moto.cognitoidp import exceptions
        from moto.core.exceptions import JsonRESTError

        self._module = exceptions
        self._json_error = JsonRESTError
        self._models = models

    def not_authorized(self, message: str) -> Exception:
        return self._module.NotAuthorizedError(message)

    def invalid_parameter(self, message: str) -> Exception:
        return self._module.InvalidParameterException(message)

    def code_mismatch(self, message: str) -> Exception:
        return self._module.CodeMismatchException(message)

    def expired_code(self, message: str) -> Exception:
        return self._module.ExpiredCodeException(message)

    def resource_not_found(self, message: str) -> Exception:
        return self._module.ResourceNotFoundError(message)

    def unsupported_user_state(self, message: str) -> Exception:
        return self._json_error("UnsupportedUserStateException", message)


def _pool_of_client(backend: Any, client_id: str, exceptions: _Exceptions) -> Any:
    for pool in backend.user_pools.values():
        if client_id in pool.clients:
            return pool
    raise exceptions.resource_not_found(client_id)


def _password_policy(pool: Any) -> Mapping[str, Any]:
    return (pool.extended_config.get("Policies") or {}).get("PasswordPolicy") or {}


def _sender(pool: Any) -> str:
    configuration = pool.extended_config.get("EmailConfiguration") or {}
    return str(configuration.get("From") or DEFAULT_SENDER)


def active_rules() -> CognitoRules | None:
    """The active `cognito_rules` state of this process (None when moto is unpatched)."""
    return _active
