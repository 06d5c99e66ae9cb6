"""template.yaml's AllowedOrigin: no default, and a staging or prod stack allows https only.

CloudFormation checks a parameter in two steps: its AllowedPattern (a whole-value regular
expression), then the template's Rules (whole-value comparisons over parameter values). These
tests evaluate both the way CloudFormation does, for every stage.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from devstack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETER = TEMPLATE["Parameters"]["AllowedOrigin"]
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def pattern_admits(origin: str) -> bool:
    # CloudFormation matches AllowedPattern against the whole value.
    return re.fullmatch(PARAMETER["AllowedPattern"], origin) is not None


def _value(fragment: Any, parameters: dict[str, str]) -> Any:
    """Rule functions over parameter values: Ref, Fn::Equals/Not/And/Or/Contains."""
    if not isinstance(fragment, dict):
        if isinstance(fragment, list):
            return [_value(item, parameters) for item in fragment]
        return fragment
    ((name, argument),) = fragment.items()
    if name == "Ref":
        return parameters[argument]
    values = _value(argument, parameters)
    if name == "Fn::Equals":
        return values[0] == values[1]
    if name == "Fn::Not":
        return not values[0]
    if name == "Fn::And":
        return all(values)
    if name == "Fn::Or":
        return any(values)
    if name == "Fn::Contains":
        return values[1] in values[0]
    raise AssertionError(f"{name} is not a rule function this test knows")


def rules_refusals(parameters: dict[str, str]) -> list[str]:
    """The AssertDescription of every assertion that fails (empty: the Rules pass)."""
    refused: list[str] = []
    for rule in (TEMPLATE.get("Rules") or {}).values():
        if "RuleCondition" in rule and not _value(rule["RuleCondition"], parameters):
            continue
        for assertion in rule["Assertions"]:
            if not _value(assertion["Assert"], parameters):
                refused.append(assertion["AssertDescription"])
    return refused


def accepted(stage: str, origin: str) -> bool:
    """Would CloudFormation create or update a stack with these values?"""
    parameters = {"Stage": stage, "AllowedOrigin": origin}
    return pattern_admits(origin) and not rules_refusals(parameters)


def test_allowed_origin_has_no_default_so_every_stack_names_its_own() -> None:
    assert "Default" not in PARAMETER
    assert PARAMETER["ConstraintDescription"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://d111111abcdef8.cloudfront.net",
        "https://pay.example.org",
        "https://pay.example.org:8443",
        "https://unset.invalid",
    ],
)
@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_an_https_origin_is_accepted_for_every_stage(stage: str, origin: str) -> None:
    assert accepted(stage, origin)


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:8000", "http://localhost", "http://127.0.0.1:5173", "http://127.0.0.1"],
)
def test_a_developer_loopback_origin_is_for_the_dev_stage_only(origin: str) -> None:
    assert accepted("dev", origin)
    assert not accepted("staging", origin)
    assert not accepted("prod", origin)
    assert rules_refusals({"Stage": "prod", "AllowedOrigin": origin})


def test_the_old_default_is_refused_for_prod() -> None:
    assert not accepted("prod", "http://localhost:8000")


@pytest.mark.parametrize(
    "origin",
    [
        "",
        "*",
        "http://pay.example.org",  # plain http outside loopback
        "https://d111111abcdef8.cloudfront.net/",  # an origin has no trailing slash
        "https://d111111abcdef8.cloudfront.net/app",
        "https://localhost",
        "https://127.0.0.1",
        "https://PAY.example.org",  # browsers send the host in lower case
        "http://localhost:9999",  # a loopback port outside the Rules' list
        "http://0.0.0.0:8000",
        "https://pay.example.org https://evil.example",
        "null",
    ],
)
@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_anything_else_is_refused_by_the_pattern(stage: str, origin: str) -> None:
    assert not accepted(stage, origin)


def _loopback_candidates() -> list[str]:
    return [
        f"http://{host}{port}"
        for host in LOOPBACK_HOSTS
        for port in ["", *(f":{n}" for n in range(65536))]
    ]


def test_every_non_https_origin_the_pattern_admits_is_refused_outside_dev() -> None:
    # Rules cannot test a prefix, so the pattern's loopback origins are a closed list that the
    # Rules enumerate: every one the pattern admits must be refused for staging and prod.
    admitted = [origin for origin in _loopback_candidates() if pattern_admits(origin)]

    assert "http://localhost:8000" in admitted
    for stage in ("staging", "prod"):
        assert [o for o in admitted if accepted(stage, o)] == []
    assert all(accepted("dev", origin) for origin in admitted)


def test_every_origin_the_rules_list_is_one_the_pattern_admits() -> None:
    # The other direction: the two lists are in step (no stale entry in the Rules).
    (rule,) = TEMPLATE["Rules"].values()
    (assertion,) = rule["Assertions"]
    listed, _ = assertion["Assert"]["Fn::Not"][0]["Fn::Contains"]

    assert listed
    assert all(pattern_admits(origin) for origin in listed)
    assert sorted(listed) == sorted(o for o in _loopback_candidates() if pattern_admits(o))


def _overrides(environment: dict[str, Any]) -> dict[str, str]:
    text = environment["deploy"]["parameters"].get("parameter_overrides", "")
    return dict(item.split("=", 1) for item in shlex.split(text))


def test_samconfig_sets_a_loopback_origin_for_dev_only() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    dev = _overrides(config["dev"])

    assert dev["Stage"] == "dev"
    assert accepted("dev", dev["AllowedOrigin"])
    # prod (default) and staging must be given one: `sam deploy --guided` asks for it.
    for name, stage in (("default", "prod"), ("staging", "staging")):
        overrides = _overrides(config[name])
        assert overrides["Stage"] == stage
        assert "AllowedOrigin" not in overrides
