"""template.yaml → what the local stack runs, read the way AWS reads it.

SAM's own translator turns the template into plain CloudFormation; moto's CloudFormation
creates it; the functions, their environment (with every `!Ref` resolved to a real generated
name) and the event source mappings are then read back from moto's Lambda API. The one
exception is Amazon Cognito, which moto's CloudFormation cannot create: those resources are
created first through the cognito-idp API from their own properties (devstack/cognito.py) and
their real ids written into the template moto gets, so the functions and policies see them as
CloudFormation would have resolved them.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import re
import time
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import boto3
from botocore.config import Config
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import (
    to_py27_compatible_template,
    undo_mark_unicode_str_in_template,
)
from samtranslator.yaml_helper import yaml_parse

from devstack.authorizer import JwtAuthorizer, authorizers_from_translated, route_security
from devstack.cognito import (
    USER_POOL,
    USER_POOL_CLIENT,
    USER_POOL_GROUP,
    USER_POOL_USER,
    Provisioned,
    provision_cognito,
    without_provisioned,
)
from devstack.intrinsics import Resolver, ResourceValues, references

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "scc-local"
CODE_BUCKET = "devstack-code"
CODE_KEY = "placeholder.zip"

# moto's CloudFormation skips these (with a warning) and still completes the stack; an Output
# that references one of them can make create_stack fail, so such Outputs are dropped locally.
_KNOWN_UNSUPPORTED_TYPES = frozenset(
    {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::Lambda::Url"}
)
_TERMINAL_OK = {"CREATE_COMPLETE"}
_STACK_WAIT_SECONDS = 60.0


class DeployError(RuntimeError):
    """The template could not be created as a stack in moto."""


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as moto holds it after the stack is created."""

    logical_id: str
    name: str
    handler: str
    environment: dict[str, str]
    timeout_seconds: int = 3
    memory_mb: int = 128
    runtime: str = ""
    arn: str = ""


@dataclass(frozen=True)
class Route:
    """One HTTP API route: `method` is upper-case (or ANY), `path_template` like /a/{id}.

    `authorizer` names the route's authorizer (None: a public route) and `scopes` the
    authorization scopes it requires (none: any valid token).
    """

    method: str
    path_template: str
    function_logical_id: str
    authorizer: str | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorsConfig:
    """An HTTP API's CorsConfiguration, as the translator wrote it into the OpenAPI body."""

    allow_origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class EventSourceSpec:
    """One event source mapping, exactly as moto's Lambda API reports it."""

    uuid: str
    function_logical_id: str
    function_name: str
    event_source_arn: str
    source_logical_id: str | None
    batch_size: int
    starting_position: str | None
    maximum_batching_window_in_seconds: int
    filter_patterns: tuple[str, ...]
    on_failure_destination: str | None
    bisect_batch_on_function_error: bool
    maximum_retry_attempts: int | None
    maximum_record_age_in_seconds: int | None
    function_response_types: tuple[str, ...]
    enabled: bool
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class StackInfo:
    """What the local stack needs to run the template."""

    stack_name: str
    region: str
    tables: dict[str, str]
    functions: dict[str, FunctionSpec]
    routes: list[Route]
    event_sources: list[EventSourceSpec]
    cors: CorsConfig | None
    physical_ids: dict[str, str]
    translated: dict[str, Any] = field(compare=False, repr=False)
    # The template's user pool as created through cognito-idp (None: the template has none).
    cognito: CognitoInfo | None = None
    # The HTTP API's JWT authorizers, issuer and audiences resolved to real ids.
    authorizers: dict[str, JwtAuthorizer] = field(default_factory=dict)
    account_id: str = "123456789012"


@dataclass(frozen=True)
class CognitoInfo:
    """The user pool people sign in to, and what else the template created in it."""

    user_pool_id: str
    user_pool_client_id: str
    issuer: str
    region: str
    groups: dict[str, str] = field(default_factory=dict)  # logical id -> group name
    users: dict[str, str] = field(default_factory=dict)  # logical id -> username
    provisioned: dict[str, Provisioned] = field(default_factory=dict, compare=False, repr=False)


# ---------------------------------------------------------------------------------------------
# Template reading and translation (pure; no AWS calls)
# ---------------------------------------------------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM template, keeping `!Ref`/`!GetAtt`/`!Sub` as CloudFormation intrinsics."""
    parsed = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(parsed, dict):
        raise ValueError(f"{path} is not a template (top level is not a mapping)")
    return cast(dict[str, Any], parsed)


def translate(
    template: dict[str, Any],
    parameters: Mapping[str, str],
    *,
    region: str = DEFAULT_REGION,
    code_bucket: str = CODE_BUCKET,
    code_key: str = CODE_KEY,
) -> dict[str, Any]:
    """Translate SAM to plain CloudFormation with SAM's own translator.

    Local `CodeUri`s (like `.`) only become S3 locations after `sam package`, and the
    translator refuses anything else, so every function's code is pointed at a placeholder
    object: locally the handlers run from the working tree, never from that zip.
    The input is not modified.
    """
    sam = _with_code_location(copy.deepcopy(template), code_bucket, code_key)
    values: dict[str, Any] = dict(parameters)
    # `samtranslator.translator.transform.transform()` builds its Translator without a boto
    # session and so needs a region in the process environment; passing a session keeps this
    # function independent of whatever AWS_* variables happen to be set.
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    to_py27_compatible_template(sam, values)
    translated = translator.translate(sam, parameter_values=values, get_managed_policy_map=dict)
    return cast(dict[str, Any], undo_mark_unicode_str_in_template(translated))


def _with_code_location(template: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    location = {"Bucket": bucket, "Key": key}
    function_globals = template.get("Globals", {}).get("Function")
    if isinstance(function_globals, dict) and "CodeUri" in function_globals:
        function_globals["CodeUri"] = dict(location)
    for resource in _resources(template).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = resource.setdefault("Properties", {})
            if "InlineCode" not in properties and "ImageUri" not in properties:
                properties["CodeUri"] = dict(location)
    return template


def _resources(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    resources = template.get("Resources") or {}
    return {k: v for k, v in resources.items() if isinstance(v, dict)}


def table_create_kwargs(
    translated: dict[str, Any], logical_id: str, table_name: str
) -> dict[str, Any]:
    """Keyword arguments for `dynamodb.create_table` that build `logical_id` as declared.

    For integration tests that want the template's table (keys, GSIs, billing, stream) in an
    in-process `mock_aws` in milliseconds, without creating a whole stack. TTL is a separate
    API call: see `table_ttl_attribute` / `create_table`.
    """
    props = _table_properties(translated, logical_id)
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": _plain(props["KeySchema"], "KeySchema"),
        "AttributeDefinitions": _plain(props["AttributeDefinitions"], "AttributeDefinitions"),
        "BillingMode": _plain(props.get("BillingMode", "PROVISIONED"), "BillingMode"),
    }
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))
    gsis = props.get("GlobalSecondaryIndexes")
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = [
            _index_kwargs(gsi, kwargs["BillingMode"], global_index=True) for gsi in gsis
        ]
    lsis = props.get("LocalSecondaryIndexes")
    if lsis:
        kwargs["LocalSecondaryIndexes"] = [
            _index_kwargs(lsi, kwargs["BillingMode"], global_index=False) for lsi in lsis
        ]
    stream = props.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": _plain(stream["StreamViewType"], "StreamViewType"),
        }
    sse = props.get("SSESpecification")
    if isinstance(sse, dict) and "SSEEnabled" in sse:
        kwargs["SSESpecification"] = {"Enabled": bool(_plain(sse["SSEEnabled"], "SSEEnabled"))}
    return kwargs


def table_ttl_attribute(translated: dict[str, Any], logical_id: str) -> str | None:
    """The TTL attribute `logical_id` declares (None when TTL is absent or disabled)."""
    ttl = _table_properties(translated, logical_id).get("TimeToLiveSpecification")
    if not isinstance(ttl, dict) or not ttl.get("Enabled", False):
        return None
    return str(_plain(ttl["AttributeName"], "TimeToLiveSpecification.AttributeName"))


def create_table(client: Any, translated: dict[str, Any], logical_id: str, table_name: str) -> None:
    """Create `logical_id` as declared (keys, GSIs, stream, TTL) with a `dynamodb` client."""
    client.create_table(**table_create_kwargs(translated, logical_id, table_name))
    ttl_attribute = table_ttl_attribute(translated, logical_id)
    if ttl_attribute:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
        )


def _table_properties(translated: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    resource = _resources(translated).get(logical_id)
    if resource is None or resource.get("Type") != "AWS::DynamoDB::Table":
        raise KeyError(f"{logical_id} is not an AWS::DynamoDB::Table in the template")
    return cast(dict[str, Any], resource.get("Properties", {}))


def _index_kwargs(
    index: dict[str, Any], billing_mode: str, *, global_index: bool
) -> dict[str, Any]:
    allowed = ("IndexName", "KeySchema", "Projection")
    kwargs = {k: _plain(index[k], k) for k in allowed if k in index}
    if global_index and billing_mode == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
    return kwargs


def _throughput(value: Any) -> dict[str, int]:
    throughput = value if isinstance(value, dict) else {}
    return {
        "ReadCapacityUnits": int(throughput.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(throughput.get("WriteCapacityUnits", 5)),
    }


def _plain(value: Any, what: str) -> Any:
    """Refuse values that still hold intrinsics: only CloudFormation could resolve them."""
    if _contains_intrinsic(value):
        raise ValueError(
            f"{what} uses an intrinsic function; cannot build it without CloudFormation"
        )
    return copy.deepcopy(value)


def _contains_intrinsic(value: Any) -> bool:
    if isinstance(value, dict):
        if any(k == "Ref" or k.startswith("Fn::") for k in value):
            return True
        return any(_contains_intrinsic(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_intrinsic(v) for v in value)
    return False


def routes_from_translated(translated: Mapping[str, Any]) -> list[Route]:
    """Every HTTP API route, from the OpenAPI bodies the translator generated.

    The integration uri is `...functions/${IngestFunction.Arn}/invocations` (or an alias of
    it); the logical id inside it says which function serves the route.
    """
    resources = _resources(translated)
    routes: list[Route] = []
    for api in resources.values():
        if api.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        paths = (api.get("Properties", {}).get("Body") or {}).get("paths") or {}
        for path, operations in paths.items():
            for method, operation in operations.items():
                if not isinstance(operation, dict):
                    continue
                integration = operation.get("x-amazon-apigateway-integration")
                if not isinstance(integration, dict):
                    continue
                target = _integration_target(integration.get("uri"), resources)
                if target is None:
                    log.warning("route %s %s: cannot tell which function serves it", method, path)
                    continue
                authorizer, scopes = route_security(operation, api["Properties"]["Body"])
                routes.append(Route(_route_method(method), path, target, authorizer, scopes))
    return routes


def _route_method(openapi_method: str) -> str:
    if openapi_method == "x-amazon-apigateway-any-method":
        return "ANY"
    return openapi_method.upper()


_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")


def _integration_target(uri: Any, resources: Mapping[str, dict[str, Any]]) -> str | None:
    text: str | None = None
    if isinstance(uri, dict) and "Fn::Sub" in uri:
        sub = uri["Fn::Sub"]
        text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) else None
    elif isinstance(uri, str):
        text = uri
    if text is None:
        return None
    for match in _SUB_REFERENCE.finditer(text):
        referenced = match.group(1)
        resource = resources.get(referenced)
        if resource is None:
            continue
        if resource.get("Type") == "AWS::Lambda::Function":
            return referenced
        if resource.get("Type") == "AWS::Lambda::Alias":
            function = resource.get("Properties", {}).get("FunctionName")
            if isinstance(function, dict) and isinstance(function.get("Ref"), str):
                return cast(str, function["Ref"])
    return None


def cors_from_translated(translated: Mapping[str, Any]) -> CorsConfig | None:
    """The HTTP API's CORS settings (the first API that has any; the gateway has one origin)."""
    for api in _resources(translated).values():
        if api.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        properties = api.get("Properties", {})
        raw = (properties.get("Body") or {}).get("x-amazon-apigateway-cors")
        if raw is None:
            raw = _cors_from_properties(properties.get("CorsConfiguration"))
        if isinstance(raw, dict):
            return _cors_config(raw)
    return None


def _cors_from_properties(value: Any) -> dict[str, Any] | None:
    # An Api without an OpenAPI body carries CorsConfiguration with CloudFormation casing.
    if not isinstance(value, dict):
        return None
    return {k[0].lower() + k[1:]: v for k, v in value.items()}


def _cors_config(raw: Mapping[str, Any]) -> CorsConfig:
    def strings(key: str) -> tuple[str, ...]:
        value = raw.get(key) or []
        return tuple(str(v) for v in value if isinstance(v, str | int))

    max_age = raw.get("maxAge")
    return CorsConfig(
        allow_origins=strings("allowOrigins"),
        allow_headers=tuple(h.lower() for h in strings("allowHeaders")),
        allow_methods=tuple(m.upper() for m in strings("allowMethods")),
        expose_headers=strings("exposeHeaders"),
        max_age=int(max_age) if isinstance(max_age, int | str) and str(max_age).isdigit() else None,
        allow_credentials=bool(raw.get("allowCredentials", False)),
    )


def for_moto(translated: dict[str, Any], unsupported_types: frozenset[str]) -> dict[str, Any]:
    """The copy of the translated template that is sent to moto's CloudFormation.

    Outputs that reference resources moto cannot create are dropped: the local stack reads
    resources, not outputs, and such an Output would fail the whole stack.
    """
    template = copy.deepcopy(translated)
    resources = _resources(template)
    skipped = {k for k, v in resources.items() if v.get("Type") in unsupported_types}
    outputs = template.get("Outputs")
    if isinstance(outputs, dict):
        kept = {k: v for k, v in outputs.items() if not (references(v) & skipped)}
        for dropped in sorted(set(outputs) - set(kept)):
            log.info("local stack: dropping Output %s (references a resource moto skips)", dropped)
        if kept:
            template["Outputs"] = kept
        else:
            template.pop("Outputs")
    return template


def _moto_unsupported_types(translated: Mapping[str, Any]) -> frozenset[str]:
    """The resource types in the template that moto's CloudFormation cannot create."""
    present = {r.get("Type", "") for r in _resources(translated).values()} - {""}
    try:
        # moto's own registry of what its CloudFormation can create; internal API, pinned.
        from moto.cloudformation.parsing import get_model_map

        supported = set(get_model_map())
    except ImportError:  # pragma: no cover - moto is a dev dependency; keep a safe fallback
        return frozenset(present & _KNOWN_UNSUPPORTED_TYPES)
    return frozenset(t for t in present if t not in supported and not t.startswith("Custom::"))


# ---------------------------------------------------------------------------------------------
# Deploying into moto and reading back
# ---------------------------------------------------------------------------------------------


def deploy(
    session: boto3.Session,
    endpoint_url: str | None,
    template_path: Path,
    parameters: dict[str, str],
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    user_passwords: Mapping[str, str] | None = None,
) -> StackInfo:
    """Create template.yaml as a CloudFormation stack in moto and read back what to run.

    Works against a moto server (`endpoint_url`) and inside `mock_aws` (`endpoint_url=None`).
    The template's Cognito resources are created first, through cognito-idp (moto's
    CloudFormation cannot create them; devstack/cognito.py); `user_passwords` (username ->
    password) gives users of the template a permanent password instead of an invitation.
    """
    with warnings.catch_warnings():
        # moto warns about each resource it skips whenever it reads the stack; the skipped
        # ones (the HTTP API) are exactly what the local gateway serves instead.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        return _deploy(
            session, endpoint_url, template_path, parameters, stack_name, user_passwords or {}
        )


def _deploy(
    session: boto3.Session,
    endpoint_url: str | None,
    template_path: Path,
    parameters: dict[str, str],
    stack_name: str,
    user_passwords: Mapping[str, str],
) -> StackInfo:
    region = session.region_name or DEFAULT_REGION
    clients = _Clients(session, endpoint_url, region)
    account_id = str(clients.sts.get_caller_identity()["Account"])
    _upload_placeholder_code(clients.s3, region)
    translated = translate(load_template(template_path), parameters, region=region)
    values = stack_parameters(translated, parameters)
    cognito = provision_cognito(
        clients.cognito_idp,
        translated,
        values,
        region,
        account_id,
        stack_name=stack_name,
        user_passwords=user_passwords,
    )
    deployable = without_provisioned(translated, cognito)
    unsupported = _moto_unsupported_types(deployable)
    moto_template = for_moto(deployable, unsupported)
    log.info(
        "local stack: moto skips %s (served by devstack instead)", ", ".join(sorted(unsupported))
    )
    _create_stack(clients.cloudformation, stack_name, moto_template, parameters)
    physical_ids, types = _stack_resources(clients.cloudformation, stack_name)
    _apply_table_settings_moto_skips(clients.dynamodb, translated, physical_ids, types)
    functions = _read_functions(clients.lambda_, physical_ids, types, translated)
    tables = {k: physical_ids[k] for k, t in types.items() if t == "AWS::DynamoDB::Table"}
    event_sources = _read_event_sources(clients, functions, tables)
    _detach_moto_stream_invokers(event_sources, tables, region)
    resolver = Resolver(
        translated,
        values,
        region=region,
        account_id=account_id,
        stack_name=stack_name,
        resources={
            **{k: ResourceValues(ref=v) for k, v in physical_ids.items() if v},
            **cognito,
        },
    )
    authorizers, _ = authorizers_from_translated(translated, resolver)
    return StackInfo(
        stack_name=stack_name,
        region=region,
        tables=tables,
        functions=functions,
        routes=routes_from_translated(translated),
        event_sources=event_sources,
        cors=cors_from_translated(translated),
        physical_ids={**physical_ids, **{k: v.ref for k, v in cognito.items()}},
        translated=translated,
        cognito=cognito_info(translated, cognito, region, authorizers),
        authorizers=authorizers,
        account_id=account_id,
    )


def cognito_info(
    translated: Mapping[str, Any],
    provisioned: Mapping[str, Provisioned],
    region: str,
    authorizers: Mapping[str, JwtAuthorizer],
) -> CognitoInfo | None:
    """The user pool people sign in to: the one a JWT authorizer trusts (else the first), and
    its app client (the authorizer's audience, else the pool's first client)."""
    pools = [k for k, v in provisioned.items() if v.resource_type == USER_POOL]
    if not pools:
        return None
    issuers = {f"https://cognito-idp.{region}.amazonaws.com/{provisioned[k].ref}": k for k in pools}
    trusted = next((a for a in authorizers.values() if a.issuer in issuers), None)
    pool_id_logical = issuers[trusted.issuer] if trusted else pools[0]
    pool_id = provisioned[pool_id_logical].ref
    clients = [
        k
        for k, v in provisioned.items()
        if v.resource_type == USER_POOL_CLIENT
        and _resources(translated)[k].get("Properties", {}).get("UserPoolId")
        == {"Ref": pool_id_logical}
    ]
    audience = [k for k in clients if trusted and provisioned[k].ref in trusted.audiences]
    chosen = (audience or clients or [""])[0]
    return CognitoInfo(
        user_pool_id=pool_id,
        user_pool_client_id=provisioned[chosen].ref if chosen else "",
        issuer=f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        region=region,
        groups={k: v.ref for k, v in provisioned.items() if v.resource_type == USER_POOL_GROUP},
        users={k: v.ref for k, v in provisioned.items() if v.resource_type == USER_POOL_USER},
        provisioned=dict(provisioned),
    )


class _Clients:
    def __init__(self, session: boto3.Session, endpoint_url: str | None, region: str) -> None:
        # Account-id based endpoints break moto's DynamoDB Streams (describe_stream answers
        # "404 Not yet implemented" with botocore >= 1.44.4 unless they are disabled).
        config = Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2})

        def client(name: str) -> Any:
            return session.client(
                name,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=endpoint_url,
                config=config,
            )

        self.s3 = client("s3")
        self.sts = client("sts")
        self.cognito_idp = client("cognito-idp")
        self.cloudformation = client("cloudformation")
        self.lambda_ = client("lambda")
        self.dynamodb = client("dynamodb")


def _upload_placeholder_code(s3: Any, region: str) -> None:
    bucket_args: dict[str, Any] = {"Bucket": CODE_BUCKET}
    if region != "us-east-1":
        bucket_args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(**bucket_args)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "README.txt",
            "devstack placeholder: locally every handler runs from the working tree.\n",
        )
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=buffer.getvalue())


def _create_stack(
    cloudformation: Any, stack_name: str, template: dict[str, Any], parameters: Mapping[str, str]
) -> None:
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in stack_parameters(template, parameters).items()
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.monotonic() + _STACK_WAIT_SECONDS
    while True:
        status = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
        if status in _TERMINAL_OK:
            return
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            raise DeployError(
                f"stack {stack_name} ended in {status}: {_failure_reasons(cloudformation, stack_name)}"
            )
        time.sleep(0.2)


def stack_parameters(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Every declared parameter with an explicit value: the given one, else the Default.

    moto resolves a Default as the raw YAML value: a CommaDelimitedList default stays a
    string (so `!Join [",", !Ref List]` joins its characters) and a Number default stays an
    int. Values passed in are parsed the way CloudFormation does, so defaults are passed too.
    Parameters the template does not declare are left out (CloudFormation would reject them).
    """
    values: dict[str, str] = {}
    for name, declaration in (template.get("Parameters") or {}).items():
        if name in given:
            values[name] = given[name]
        elif isinstance(declaration, dict) and "Default" in declaration:
            values[name] = _parameter_text(declaration["Default"])
    return values


def _parameter_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_parameter_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _failure_reasons(cloudformation: Any, stack_name: str) -> str:
    events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if e.get("ResourceStatus", "").endswith("FAILED")
    ]
    return "; ".join(reasons) or "no reason reported"


def _stack_resources(cloudformation: Any, stack_name: str) -> tuple[dict[str, str], dict[str, str]]:
    physical_ids: dict[str, str] = {}
    types: dict[str, str] = {}
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            logical_id = summary.get("LogicalResourceId")
            if not logical_id:
                continue  # moto lists skipped (unsupported) resources without ids
            physical_ids[logical_id] = summary.get("PhysicalResourceId", "")
            types[logical_id] = summary["ResourceType"]
    return physical_ids, types


def _apply_table_settings_moto_skips(
    dynamodb: Any,
    translated: Mapping[str, Any],
    physical_ids: Mapping[str, str],
    types: Mapping[str, str],
) -> None:
    """moto's CloudFormation creates tables without their TimeToLiveSpecification."""
    for logical_id, resource_type in types.items():
        if resource_type != "AWS::DynamoDB::Table":
            continue
        try:
            attribute = table_ttl_attribute(dict(translated), logical_id)
        except ValueError:
            log.warning("local stack: %s TTL uses intrinsics; left disabled", logical_id)
            continue
        if attribute:
            dynamodb.update_time_to_live(
                TableName=physical_ids[logical_id],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
            )


def _read_functions(
    lambda_: Any,
    physical_ids: Mapping[str, str],
    types: Mapping[str, str],
    translated: Mapping[str, Any],
) -> dict[str, FunctionSpec]:
    by_name: dict[str, dict[str, Any]] = {}
    for page in lambda_.get_paginator("list_functions").paginate():
        for configuration in page["Functions"]:
            by_name[configuration["FunctionName"]] = configuration
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource_type in types.items():
        if resource_type != "AWS::Lambda::Function":
            continue
        name = physical_ids[logical_id]
        configuration = by_name.get(name) or lambda_.get_function_configuration(FunctionName=name)
        functions[logical_id] = _function_spec(logical_id, configuration)
    _check_handlers_match(functions, translated)
    return functions


def _function_spec(logical_id: str, configuration: Mapping[str, Any]) -> FunctionSpec:
    variables = (configuration.get("Environment") or {}).get("Variables") or {}
    return FunctionSpec(
        logical_id=logical_id,
        name=configuration["FunctionName"],
        handler=configuration.get("Handler") or "",
        # Lambda environment values are strings; moto hands back Number parameters as ints.
        environment={str(k): _env_value(v) for k, v in variables.items()},
        timeout_seconds=int(configuration.get("Timeout") or 3),
        memory_mb=int(configuration.get("MemorySize") or 128),
        runtime=configuration.get("Runtime") or "",
        arn=configuration.get("FunctionArn") or "",
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_handlers_match(
    functions: Mapping[str, FunctionSpec], translated: Mapping[str, Any]
) -> None:
    # A cheap guard against reading back the wrong stack (e.g. a stale moto server).
    for logical_id, spec in functions.items():
        declared = _resources(translated).get(logical_id, {}).get("Properties", {}).get("Handler")
        if declared is not None and declared != spec.handler:
            raise DeployError(
                f"{logical_id}: moto reports handler {spec.handler!r}, template says {declared!r}"
            )


def _read_event_sources(
    clients: _Clients, functions: Mapping[str, FunctionSpec], tables: Mapping[str, str]
) -> list[EventSourceSpec]:
    logical_by_arn = {spec.arn: logical_id for logical_id, spec in functions.items()}
    logical_by_name = {spec.name: logical_id for logical_id, spec in functions.items()}
    stream_owner = _stream_owners(clients.dynamodb, tables)
    sources: list[EventSourceSpec] = []
    for page in clients.lambda_.get_paginator("list_event_source_mappings").paginate():
        for mapping in page["EventSourceMappings"]:
            function_arn = mapping.get("FunctionArn", "")
            function_name = function_arn.rsplit(":function:", 1)[-1].split(":", 1)[0]
            logical_id = logical_by_arn.get(function_arn) or logical_by_name.get(function_name)
            if logical_id is None:
                continue  # a mapping of some other stack in the same moto
            sources.append(_event_source_spec(mapping, logical_id, function_name, stream_owner))
    return sorted(sources, key=lambda s: (s.function_logical_id, s.event_source_arn))


def _stream_owners(dynamodb: Any, tables: Mapping[str, str]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for logical_id, table_name in tables.items():
        stream_arn = dynamodb.describe_table(TableName=table_name)["Table"].get("LatestStreamArn")
        if stream_arn:
            owners[stream_arn] = logical_id
    return owners


def _event_source_spec(
    mapping: Mapping[str, Any], logical_id: str, function_name: str, stream_owner: Mapping[str, str]
) -> EventSourceSpec:
    filters = (mapping.get("FilterCriteria") or {}).get("Filters") or []
    on_failure = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
        "Destination"
    )
    source_arn = mapping.get("EventSourceArn", "")
    return EventSourceSpec(
        uuid=mapping["UUID"],
        function_logical_id=logical_id,
        function_name=function_name,
        event_source_arn=source_arn,
        source_logical_id=stream_owner.get(source_arn),
        batch_size=int(mapping.get("BatchSize") or 100),
        starting_position=mapping.get("StartingPosition"),
        maximum_batching_window_in_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
        filter_patterns=tuple(str(f["Pattern"]) for f in filters if "Pattern" in f),
        on_failure_destination=on_failure,
        bisect_batch_on_function_error=bool(mapping.get("BisectBatchOnFunctionError", False)),
        maximum_retry_attempts=_optional_int(mapping.get("MaximumRetryAttempts")),
        maximum_record_age_in_seconds=_optional_int(mapping.get("MaximumRecordAgeInSeconds")),
        function_response_types=tuple(mapping.get("FunctionResponseTypes") or ()),
        enabled=mapping.get("State", "Enabled") in ("Enabled", "Enabling", "Creating"),
        raw=dict(mapping),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _detach_moto_stream_invokers(
    event_sources: list[EventSourceSpec], tables: Mapping[str, str], region: str
) -> None:
    """Stop moto from "invoking" stream consumers itself.

    moto wires a DynamoDB stream mapping into the table: every write then tries to run the
    function in Docker and, whatever the outcome, empties the stream, so a poller reading the
    stream would see nothing. The local stack runs consumers itself (as subprocesses), so the
    mapping is kept in moto's Lambda API (to be read back) but unhooked from the table. This
    needs moto in this process (mock_aws or ThreadedMotoServer), and reaches into moto
    internals (pinned version, covered by tests/integration/test_devstack_template.py).
    """
    stream_sources = [s for s in event_sources if s.source_logical_id is not None]
    if not stream_sources:
        return
    from moto.dynamodb.models import dynamodb_backends

    account_id = stream_sources[0].raw.get("FunctionArn", "").split(":")[4]
    backend = dynamodb_backends[account_id][region]
    for table_name in tables.values():
        try:
            backend.get_table(table_name).lambda_event_source_mappings.clear()
        except Exception:  # noqa: BLE001 - a moto server in another process: nothing to detach
            log.warning(
                "local stack: cannot unhook moto's stream invoker for %s (moto not in process);"
                " stream pollers may see no records",
                table_name,
            )
