"""devstack.intrinsics: CloudFormation's intrinsic functions, resolved by CloudFormation's rules
for the fragments the local stack resolves itself (Cognito properties, authorizer settings)."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.intrinsics import NO_VALUE, IntrinsicError, Resolver, ResourceValues

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "AdminEmail": {"Type": "String"},
        "Minutes": {"Type": "Number", "Default": 15},
        "Emails": {"Type": "CommaDelimitedList", "Default": "a@x.io,b@x.io"},
        "Protect": {"Type": "String", "Default": "true"},
        "KmsKey": {"Type": "String", "Default": ""},
        "Transport": {"Type": "String", "Default": "ses"},
        "SmtpUser": {"Type": "String", "Default": ""},
    },
    "Conditions": {
        "HasKmsKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKey"}, ""]}]},
        "ProtectFromDeletion": {"Fn::Equals": [{"Ref": "Protect"}, "true"]},
        "SmtpWithUser": {
            "Fn::And": [
                {"Fn::Equals": [{"Ref": "Transport"}, "smtp"]},
                {"Fn::Not": [{"Fn::Equals": [{"Ref": "SmtpUser"}, ""]}]},
            ]
        },
        "ProdOrProtected": {
            "Fn::Or": [
                {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
                {"Condition": "ProtectFromDeletion"},
            ]
        },
        "Loop": {"Condition": "Loop"},
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 256}}},
    "Resources": {
        "UserPool": {"Type": "AWS::Cognito::UserPool"},
        "Later": {"Type": "AWS::SQS::Queue"},
        "OnlyWithKms": {"Type": "AWS::SQS::Queue", "Condition": "HasKmsKey"},
    },
}
POOL = ResourceValues(
    ref="us-east-1_abc",
    attributes={"Arn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"},
)


def resolver(**parameters: str) -> Resolver:
    return Resolver(
        TEMPLATE,
        {"AdminEmail": "admin@scc.example", **parameters},
        region="eu-west-1",
        account_id="123456789012",
        stack_name="scc-local",
        resources={"UserPool": POOL},
    )


# --- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "name", "expected"),
    [
        ({}, "HasKmsKey", False),
        ({"KmsKey": "arn:aws:kms:eu-west-1:1:key/k"}, "HasKmsKey", True),
        ({}, "ProtectFromDeletion", True),
        ({"Protect": "false"}, "ProtectFromDeletion", False),
        ({"Transport": "smtp"}, "SmtpWithUser", False),
        ({"Transport": "smtp", "SmtpUser": "u"}, "SmtpWithUser", True),
        ({"Protect": "false"}, "ProdOrProtected", False),
        ({"Protect": "false", "Stage": "prod"}, "ProdOrProtected", True),
    ],
)
def test_given_parameters_when_a_condition_is_evaluated_then_it_follows_cloudformation(
    parameters: dict[str, str], name: str, expected: bool
) -> None:
    assert resolver(**parameters).condition(name) is expected


def test_given_a_condition_that_refers_to_itself_when_evaluated_then_it_is_refused() -> None:
    with pytest.raises(IntrinsicError, match="refers to itself"):
        resolver().condition("Loop")


def test_given_an_unknown_condition_when_evaluated_then_it_is_refused() -> None:
    with pytest.raises(IntrinsicError, match="not declared"):
        resolver().condition("Nope")


def test_given_a_resource_with_a_false_condition_then_it_is_not_enabled() -> None:
    assert resolver().resource_enabled("OnlyWithKms") is False
    assert resolver(KmsKey="k").resource_enabled("OnlyWithKms") is True
    assert resolver().resource_enabled("UserPool") is True


# --- Ref ---------------------------------------------------------------------------------------


def test_given_parameters_when_referenced_then_the_given_value_or_the_default_is_text() -> None:
    r = resolver(Stage="staging")

    assert r.resolve({"Ref": "Stage"}) == "staging"
    assert r.resolve({"Ref": "AdminEmail"}) == "admin@scc.example"
    assert r.resolve({"Ref": "Minutes"}) == "15"


def test_given_a_list_parameter_when_referenced_then_it_is_a_list() -> None:
    assert resolver().resolve({"Ref": "Emails"}) == ["a@x.io", "b@x.io"]
    assert resolver(Emails="c@x.io").resolve({"Ref": "Emails"}) == ["c@x.io"]


def test_given_a_parameter_without_value_or_default_then_it_is_refused() -> None:
    bare = Resolver(TEMPLATE, {}, region="us-east-1", account_id="1")

    with pytest.raises(IntrinsicError, match="AdminEmail"):
        bare.resolve({"Ref": "AdminEmail"})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AWS::Region", "eu-west-1"),
        ("AWS::AccountId", "123456789012"),
        ("AWS::Partition", "aws"),
        ("AWS::StackName", "scc-local"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::NotificationARNs", []),
    ],
)
def test_pseudo_parameters_resolve_for_the_stack(name: str, expected: Any) -> None:
    assert resolver().resolve({"Ref": name}) == expected


def test_given_a_china_region_then_partition_and_suffix_are_chinas() -> None:
    r = Resolver(TEMPLATE, {"AdminEmail": "a@b.c"}, region="cn-north-1", account_id="1")

    assert r.resolve({"Ref": "AWS::Partition"}) == "aws-cn"
    assert r.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com.cn"


def test_given_a_created_resource_when_referenced_then_its_physical_id_comes_back() -> None:
    assert resolver().resolve({"Ref": "UserPool"}) == "us-east-1_abc"


def test_given_a_resource_not_created_yet_when_referenced_then_it_is_refused_by_name() -> None:
    with pytest.raises(IntrinsicError, match="Later"):
        resolver().resolve({"Ref": "Later"})


def test_given_an_unknown_name_when_referenced_then_it_is_refused() -> None:
    with pytest.raises(IntrinsicError, match="Nothing"):
        resolver().resolve({"Ref": "Nothing"})


# --- AWS::NoValue ------------------------------------------------------------------------------


def test_no_value_drops_the_property_and_the_list_item_holding_it() -> None:
    resolved = resolver().resolve(
        {
            "Keep": "x",
            "Drop": {"Ref": "AWS::NoValue"},
            "List": ["a", {"Ref": "AWS::NoValue"}, "b"],
            "Chosen": {"Fn::If": ["HasKmsKey", "key", {"Ref": "AWS::NoValue"}]},
        }
    )

    assert resolved == {"Keep": "x", "List": ["a", "b"]}


def test_no_value_alone_resolves_to_the_no_value_marker() -> None:
    assert resolver().resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


# --- Fn::GetAtt --------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [["UserPool", "Arn"], "UserPool.Arn"])
def test_get_att_in_both_forms_gives_the_attribute(form: Any) -> None:
    assert resolver().resolve({"Fn::GetAtt": form}) == POOL.attributes["Arn"]


def test_get_att_of_an_unknown_attribute_or_resource_is_refused() -> None:
    with pytest.raises(IntrinsicError, match="ProviderURL"):
        resolver().resolve({"Fn::GetAtt": ["UserPool", "ProviderURL"]})
    with pytest.raises(IntrinsicError, match="Later"):
        resolver().resolve({"Fn::GetAtt": ["Later", "Arn"]})


# --- Fn::Sub -----------------------------------------------------------------------------------


def test_sub_replaces_parameters_pseudo_parameters_refs_and_attributes() -> None:
    text = resolver().resolve(
        {
            "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool} ${Stage} ${UserPool.Arn}"
        }
    )

    assert text == (
        "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_abc dev " + POOL.attributes["Arn"]
    )


def test_sub_with_variables_prefers_them_and_resolves_their_values() -> None:
    text = resolver().resolve(
        {
            "Fn::Sub": [
                "${Stage}-${Pool}-${Name}",
                {"Stage": "mine", "Pool": {"Ref": "UserPool"}, "Name": "n"},
            ]
        }
    )

    assert text == "mine-us-east-1_abc-n"


def test_sub_keeps_an_escaped_dollar_brace_literal() -> None:
    assert resolver().resolve({"Fn::Sub": "${!Literal} ${Stage}"}) == "${Literal} dev"


# --- Fn::If, Join, Select, Split, FindInMap -----------------------------------------------------


def test_if_picks_the_branch_of_the_condition() -> None:
    value = {"Fn::If": ["ProtectFromDeletion", "ACTIVE", "INACTIVE"]}

    assert resolver().resolve(value) == "ACTIVE"
    assert resolver(Protect="false").resolve(value) == "INACTIVE"


def test_join_joins_the_resolved_list() -> None:
    assert resolver().resolve({"Fn::Join": [",", {"Ref": "Emails"}]}) == "a@x.io,b@x.io"
    assert (
        resolver().resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, {"Ref": "AWS::NoValue"}]]})
        == "a-dev"
    )


def test_select_and_split_work_together() -> None:
    assert resolver().resolve({"Fn::Select": ["1", {"Fn::Split": ["/", "a/b/c"]}]}) == "b"


def test_select_outside_the_list_is_refused() -> None:
    with pytest.raises(IntrinsicError, match="index 5"):
        resolver().resolve({"Fn::Select": [5, ["a"]]})


def test_find_in_map_reads_the_mapping() -> None:
    assert resolver().resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 256


def test_an_unsupported_function_is_refused_by_name() -> None:
    with pytest.raises(IntrinsicError, match="Fn::ImportValue"):
        resolver().resolve({"Fn::ImportValue": "x"})


def test_plain_values_and_nested_structures_pass_through_resolved() -> None:
    resolved = resolver().resolve(
        {"A": [1, True, None, {"B": {"Ref": "Stage"}}], "Multi": {"Ref": "Stage", "Other": 1}}
    )

    # A mapping with more than one key is data, not a function call.
    assert resolved == {"A": [1, True, None, {"B": "dev"}], "Multi": {"Ref": "Stage", "Other": 1}}
