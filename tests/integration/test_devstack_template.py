"""devstack.template: template.yaml deployed into moto and read back is what the template says.

The expectations are read from template.yaml itself (the SAM source, not the translation), so
these tests pin the reading-back machinery, not today's list of functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from devstack.template import (
    StackInfo,
    create_table,
    deploy,
    load_template,
    stack_parameters,
    table_create_kwargs,
    table_ttl_attribute,
    translate,
)
from tests.integration.support import declared_environment

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"
PARAMETERS = {
    "Stage": "dev",
    "AdminEmail": "admin@scc.example",
    "AllowedOrigin": "http://127.0.0.1:8123",
}
ADMIN_PASSWORD = "a long enough passphrase"


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def deployed() -> Iterator[StackInfo]:
    """template.yaml deployed once into an in-process moto (shared by this module's tests)."""
    with mock_aws():
        yield deploy(
            session(),
            None,
            TEMPLATE_PATH,
            PARAMETERS,
            user_passwords={PARAMETERS["AdminEmail"]: ADMIN_PASSWORD},
        )


@pytest.fixture
def aws(deployed: StackInfo) -> Any:
    """A session on the module's moto (still active while `deployed` is)."""
    return session()


def sam_functions(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in sam["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def declared_variables(sam: dict[str, Any], logical_id: str) -> dict[str, Any]:
    global_vars = sam.get("Globals", {}).get("Function", {}).get("Environment", {})
    own_vars = sam_functions(sam)[logical_id].get("Environment", {})
    variables = {**global_vars.get("Variables", {}), **own_vars.get("Variables", {})}
    return declared_environment(sam, variables, PARAMETERS)


def http_api_events(sam: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (str(e["Properties"]["Method"]).upper(), e["Properties"]["Path"], logical_id)
        for logical_id, properties in sam_functions(sam).items()
        for e in (properties.get("Events") or {}).values()
        if e["Type"] == "HttpApi"
    }


def stream_events(sam: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, e["Properties"])
        for logical_id, properties in sam_functions(sam).items()
        for e in (properties.get("Events") or {}).values()
        if e["Type"] == "DynamoDB"
    ]


# --- functions -------------------------------------------------------------------------------


def test_every_function_of_the_template_is_read_back_with_its_handler(
    sam: dict[str, Any], deployed: StackInfo
) -> None:
    expected = {lid: props["Handler"] for lid, props in sam_functions(sam).items()}

    assert {lid: f.handler for lid, f in deployed.functions.items()} == expected
    assert {"IngestFunction", "QueryFunction"} <= set(deployed.functions)


def test_each_function_gets_exactly_the_variables_the_template_declares(
    sam: dict[str, Any], deployed: StackInfo
) -> None:
    for logical_id, function in deployed.functions.items():
        assert set(function.environment) == set(declared_variables(sam, logical_id)), logical_id
        assert all(isinstance(v, str) for v in function.environment.values())


def test_references_resolve_to_parameters_defaults_and_physical_names(
    deployed: StackInfo,
) -> None:
    ingest = deployed.functions["IngestFunction"].environment
    query = deployed.functions["QueryFunction"].environment
    projector = deployed.functions["ProjectorFunction"].environment
    table_name = deployed.tables["PaymentsTable"]

    assert ingest["LEDGER_TABLE_NAME"] == query["LEDGER_TABLE_NAME"] == table_name
    assert query["PROJECTION_TABLE_NAME"] == projector["PROJECTION_TABLE_NAME"]
    assert projector["PROJECTION_TABLE_NAME"] == deployed.tables["ProjectionTable"]
    # The projector never learns the ledger table's name: it only writes projections.
    assert "LEDGER_TABLE_NAME" not in projector
    assert ingest["REVOCATIONS_TABLE_NAME"] == deployed.tables["RevocationsTable"]
    assert ingest["ALLOWED_ORIGIN"] == PARAMETERS["AllowedOrigin"]
    # Number parameters left at their Default arrive as Lambda would show them: strings.
    assert ingest["MAX_PAYMENT_CENTS"] == "10000000"


def test_references_to_the_user_pool_resolve_to_the_pool_created_through_cognito(
    deployed: StackInfo, aws: Any
) -> None:
    people = deployed.functions["PeopleFunction"].environment
    cognito = aws.client("cognito-idp", region_name=REGION)
    assert deployed.cognito is not None

    pool = cognito.describe_user_pool(UserPoolId=people["USER_POOL_ID"])["UserPool"]
    client = cognito.describe_user_pool_client(
        UserPoolId=pool["Id"], ClientId=people["USER_POOL_CLIENT_ID"]
    )["UserPoolClient"]

    assert people["USER_POOL_ID"] == deployed.cognito.user_pool_id
    assert people["USER_POOL_CLIENT_ID"] == deployed.cognito.user_pool_client_id
    assert client["ClientName"] == "scc-payments-spa-dev"
    assert deployed.cognito.issuer == f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"
    assert deployed.cognito.groups == {"AdminGroup": "admin", "CrewGroup": "crew"}
    assert deployed.physical_ids["UserPool"] == pool["Id"]


def test_the_people_functions_policy_names_the_real_pool_arn(deployed: StackInfo, aws: Any) -> None:
    iam = aws.client("iam", region_name=REGION)
    cognito = aws.client("cognito-idp", region_name=REGION)
    assert deployed.cognito is not None
    arn = cognito.describe_user_pool(UserPoolId=deployed.cognito.user_pool_id)["UserPool"]["Arn"]
    role = deployed.physical_ids["PeopleFunctionRole"]

    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"] for name in names
    ]

    text = json.dumps(documents)
    assert arn in text
    assert "UserPool" not in text.replace(arn, "")


def test_the_first_admin_signs_in_with_the_local_password_and_is_an_admin(
    deployed: StackInfo, aws: Any
) -> None:
    cognito = aws.client("cognito-idp", region_name=REGION)
    assert deployed.cognito is not None

    tokens = cognito.initiate_auth(
        ClientId=deployed.cognito.user_pool_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": PARAMETERS["AdminEmail"], "PASSWORD": ADMIN_PASSWORD},
    )["AuthenticationResult"]

    groups = cognito.admin_list_groups_for_user(
        UserPoolId=deployed.cognito.user_pool_id, Username=PARAMETERS["AdminEmail"]
    )["Groups"]
    assert tokens["IdToken"]
    assert [g["GroupName"] for g in groups] == ["admin"]


def test_functions_keep_their_timeout_and_memory(sam: dict[str, Any], deployed: StackInfo) -> None:
    globals_ = sam.get("Globals", {}).get("Function", {})
    for logical_id, properties in sam_functions(sam).items():
        function = deployed.functions[logical_id]
        assert function.timeout_seconds == properties.get("Timeout", globals_.get("Timeout", 3))
        assert function.memory_mb == properties.get("MemorySize", globals_.get("MemorySize", 128))


def test_comma_delimited_list_defaults_are_passed_as_cloudformation_would_parse_them() -> None:
    # moto treats a Default literally (a CommaDelimitedList stays one string, a Number an int),
    # so every declared parameter is passed explicitly, as a string.
    template = {
        "Parameters": {
            "Emails": {"Type": "CommaDelimitedList", "Default": "a@x.io,b@x.io"},
            "Count": {"Type": "Number", "Default": 5},
            "Flag": {"Type": "String", "Default": "on"},
            "Required": {"Type": "String"},
        }
    }

    values = stack_parameters(template, {"Required": "r", "Undeclared": "x"})

    assert values == {"Emails": "a@x.io,b@x.io", "Count": "5", "Flag": "on", "Required": "r"}


# --- routes ----------------------------------------------------------------------------------


def test_every_http_api_event_becomes_a_route_to_its_function(
    sam: dict[str, Any], deployed: StackInfo
) -> None:
    routes = {(r.method, r.path_template, r.function_logical_id) for r in deployed.routes}

    assert routes == http_api_events(sam)
    assert len(deployed.routes) == len(routes)


def test_each_route_carries_the_authorizer_its_event_declares(
    sam: dict[str, Any], deployed: StackInfo
) -> None:
    default = sam["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"]
    declared = {
        (str(e["Properties"]["Method"]).upper(), e["Properties"]["Path"]): (
            None
            if e["Properties"].get("Auth", {}).get("Authorizer", default) == "NONE"
            else e["Properties"].get("Auth", {}).get("Authorizer", default)
        )
        for properties in sam_functions(sam).values()
        for e in (properties.get("Events") or {}).values()
        if e["Type"] == "HttpApi"
    }

    assert {(r.method, r.path_template): r.authorizer for r in deployed.routes} == declared
    assert declared["POST", "/api/auth/login"] is None
    assert declared["POST", "/api/events"] == default


def test_the_jwt_authorizer_trusts_the_created_pool_and_its_app_client(
    deployed: StackInfo,
) -> None:
    assert deployed.cognito is not None

    authorizer = deployed.authorizers["CognitoJwt"]

    assert authorizer.issuer == deployed.cognito.issuer
    assert authorizer.audiences == (deployed.cognito.user_pool_client_id,)
    assert authorizer.identity_source == "$request.header.Authorization"


def test_the_cors_configuration_is_the_templates_with_the_origin_parameter(
    deployed: StackInfo,
) -> None:
    assert deployed.cors is not None
    assert deployed.cors.allow_origins == (PARAMETERS["AllowedOrigin"],)
    assert set(deployed.cors.allow_headers) == {"authorization", "content-type"}
    assert {"GET", "POST"} <= set(deployed.cors.allow_methods)


# --- the table -------------------------------------------------------------------------------


def test_the_ledger_table_has_its_keys_index_and_old_images_but_no_ttl(
    deployed: StackInfo, aws: Any
) -> None:
    ddb = aws.client("dynamodb", region_name=REGION)
    table_name = deployed.tables["PaymentsTable"]

    table = ddb.describe_table(TableName=table_name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]

    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert {k["AttributeName"] for k in indexes["EventsByDate"]["KeySchema"]} == {
        "gsi1pk",
        "gsi1sk",
    }
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # Nothing in the ledger may ever expire.
    assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_the_projection_table_expires_markers_and_has_no_stream(
    deployed: StackInfo, aws: Any
) -> None:
    ddb = aws.client("dynamodb", region_name=REGION)
    table_name = deployed.tables["ProjectionTable"]

    table = ddb.describe_table(TableName=table_name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]

    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert "StreamSpecification" not in table or not table["StreamSpecification"]["StreamEnabled"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_table_create_kwargs_build_the_same_table_without_a_stack(sam: dict[str, Any]) -> None:
    # Given the translated template (what integration tests use to build just the table)
    translated = translate(sam, PARAMETERS, region=REGION)

    # When the table is created from it in a fresh moto
    with mock_aws():
        ddb = session().client("dynamodb", region_name=REGION)
        create_table(ddb, translated, "PaymentsTable", "scc-it-ledger")
        table = ddb.describe_table(TableName="scc-it-ledger")["Table"]
        ttl = ddb.describe_time_to_live(TableName="scc-it-ledger")["TimeToLiveDescription"]

    # Then it has the declared index, stream and billing, and no TTL
    kwargs = table_create_kwargs(translated, "PaymentsTable", "scc-it-ledger")
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["EventsByDate"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table_ttl_attribute(translated, "PaymentsTable") is None
    assert ttl["TimeToLiveStatus"] == "DISABLED"
    assert table_ttl_attribute(translated, "ProjectionTable") == "expires_at"


def test_table_create_kwargs_refuse_what_is_not_a_table(sam: dict[str, Any]) -> None:
    translated = translate(sam, PARAMETERS, region=REGION)

    with pytest.raises(KeyError):
        table_create_kwargs(translated, "IngestFunction", "x-table")


# --- event sources ---------------------------------------------------------------------------


def test_stream_event_sources_are_read_back_as_declared(
    sam: dict[str, Any], deployed: StackInfo
) -> None:
    declared = stream_events(sam)
    assert declared, "template.yaml declares the projector's and notifier's stream sources"
    queues = {k: v for k, v in deployed.physical_ids.items() if "Queue" in k}

    assert len(deployed.event_sources) == len(declared)
    for logical_id, properties in declared:
        (source,) = [s for s in deployed.event_sources if s.function_logical_id == logical_id]
        assert source.function_name == deployed.functions[logical_id].name
        assert source.source_logical_id == "PaymentsTable"
        assert source.batch_size == properties.get("BatchSize", 100)
        assert source.starting_position == properties["StartingPosition"]
        assert source.maximum_batching_window_in_seconds == properties.get(
            "MaximumBatchingWindowInSeconds", 0
        )
        assert source.bisect_batch_on_function_error == properties.get(
            "BisectBatchOnFunctionError", False
        )
        assert source.maximum_retry_attempts == properties.get("MaximumRetryAttempts")
        assert source.function_response_types == tuple(properties.get("FunctionResponseTypes", ()))
        patterns = [f["Pattern"] for f in properties.get("FilterCriteria", {}).get("Filters", [])]
        assert [json.loads(p) for p in source.filter_patterns] == [json.loads(p) for p in patterns]
        if "DestinationConfig" in properties:
            assert source.on_failure_destination is not None
            queue_name = source.on_failure_destination.rsplit(":", 1)[-1]
            assert any(url.endswith(queue_name) for url in queues.values())


def test_writes_stay_on_the_stream_for_the_local_pollers(deployed: StackInfo, aws: Any) -> None:
    # moto would otherwise "invoke" stream consumers itself and empty the stream on each write.
    ddb = aws.client("dynamodb", region_name=REGION)
    streams = aws.client("dynamodbstreams", region_name=REGION)
    table_name = deployed.tables["PaymentsTable"]

    ddb.put_item(
        TableName=table_name,
        Item={"pk": {"S": "EVENT#stream-check"}, "sk": {"S": "PAYMENT#0001"}},
    )

    stream_arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    keys = [r["dynamodb"]["Keys"]["sk"]["S"] for r in records]
    assert "PAYMENT#0001" in keys


# --- against a moto server -------------------------------------------------------------------


def test_deploy_works_against_a_moto_server_too() -> None:
    # Given a moto server on loopback (what `make dev` runs)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"

        # When the template is deployed through its endpoint
        info = deploy(session(), endpoint, TEMPLATE_PATH, PARAMETERS, stack_name="scc-server-mode")

        # Then the same functions, table and routes come back, named by that stack
        assert {"IngestFunction", "QueryFunction"} <= set(info.functions)
        assert info.tables["PaymentsTable"].startswith("scc-server-mode-")
        assert info.routes
        ddb = session().client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        assert info.tables["PaymentsTable"] in ddb.list_tables()["TableNames"]
        # And the user pool lives in that server, where the functions will look for it
        assert info.cognito is not None
        cognito = session().client("cognito-idp", region_name=REGION, endpoint_url=endpoint)
        pool = cognito.describe_user_pool(UserPoolId=info.cognito.user_pool_id)["UserPool"]
        assert info.functions["PeopleFunction"].environment["USER_POOL_ID"] == pool["Id"]
    finally:
        server.stop()
        with mock_aws():
            pass  # entering mock_aws resets moto's in-process state for the next tests
