"""README.md's "Configuration" tables say exactly what template.yaml declares.

The parameter table lists every template Parameter with its default and allowed values; the
environment table lists every variable the template sets, with the functions that get it
("all (Globals)" for the Globals). A parameter or variable on one side only fails a test, and so
does a default or an allowed value that differs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from devstack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")

PARAMETER_HEADER = ("parameter", "default", "allowed", "meaning")
ENVIRONMENT_HEADER = ("variable", "functions", "meaning")
GLOBALS = "all (Globals)"
NO_DEFAULT = "required"
EMPTY_DEFAULT = "(empty)"
UNCONSTRAINED = "—"
RANGE_DASH = "\u2013"  # an en dash: the README writes a range as 5, en dash, 60


def configuration_section(readme: str) -> str:
    """The text of README.md's `## Configuration` section (up to the next `## ` heading)."""
    match = re.search(r"^## Configuration\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert match, 'README.md has no "## Configuration" section'
    return match.group(1)


def markdown_table(section: str, header: tuple[str, ...]) -> list[list[str]]:
    """The body rows (cells stripped) of the one table in `section` with this header row."""
    lines = section.splitlines()
    starts = [i for i, line in enumerate(lines) if tuple(cells(line)) == header]
    assert len(starts) == 1, f"expected one table with header {header}, found {len(starts)}"
    rows = []
    for line in lines[starts[0] + 2 :]:  # skip the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    return rows


def cells(line: str) -> list[str]:
    if not line.startswith("|"):
        return []
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def short_name(logical_id: str) -> str:
    """IngestFunction -> ingest: how the README names a function."""
    return logical_id.removesuffix("Function").lower()


def template_variables(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(variable, function short name or GLOBALS) for every variable the template sets."""
    pairs = {
        (name, GLOBALS)
        for name in template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    }
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        pairs |= {(name, short_name(logical_id)) for name in variables}
    return pairs


def readme_variables(rows: list[list[str]]) -> set[tuple[str, str]]:
    pairs = set()
    for row in rows:
        names, functions = code_spans(row[0]), row[1]
        assert names, f"no `VARIABLE` in the first cell of {row}"
        where = [GLOBALS] if functions == GLOBALS else [f.strip() for f in functions.split(",")]
        pairs |= {(name, function) for name in names for function in where}
    return pairs


def readme_parameters(rows: list[list[str]]) -> dict[str, tuple[str, str]]:
    """parameter name -> (default cell, allowed cell)."""
    parameters = {}
    for row in rows:
        (name,) = code_spans(row[0])
        assert name not in parameters, f"parameter {name} is listed twice"
        parameters[name] = (row[1], row[2])
    return parameters


def default_cell(parameter: dict[str, Any]) -> str:
    """How the README writes this parameter's default."""
    if "Default" not in parameter:
        return NO_DEFAULT
    default = str(parameter["Default"])
    return f"`{default}`" if default else EMPTY_DEFAULT


def allowed_matches(parameter: dict[str, Any], cell: str) -> bool:
    """AllowedValues: exactly those values in code spans; MinValue and MaxValue: the range
    (min, en dash, max); MinValue alone: `≥ min`; AllowedPattern: a description (anything but
    UNCONSTRAINED); no constraint: UNCONSTRAINED."""
    if "AllowedValues" in parameter:
        return code_spans(cell) == [str(value) for value in parameter["AllowedValues"]]
    if "MinValue" in parameter and "MaxValue" in parameter:
        return cell == f"{parameter['MinValue']}{RANGE_DASH}{parameter['MaxValue']}"
    if "MinValue" in parameter:
        return cell == f"≥ {parameter['MinValue']}"
    if "MaxValue" in parameter:
        return cell == f"≤ {parameter['MaxValue']}"
    if "AllowedPattern" in parameter:
        return cell not in ("", UNCONSTRAINED)
    return cell == UNCONSTRAINED


SECTION = configuration_section((ROOT / "README.md").read_text(encoding="utf-8"))


def test_every_template_parameter_is_in_the_readme_table_and_no_other() -> None:
    # Given the template's Parameters and the README's parameter table
    declared = set(TEMPLATE["Parameters"])
    # When the table is read
    documented = set(readme_parameters(markdown_table(SECTION, PARAMETER_HEADER)))
    # Then both name the same parameters
    assert declared - documented == set(), "in template.yaml, missing from README.md"
    assert documented - declared == set(), "in README.md, not a parameter of template.yaml"


def test_the_readme_gives_each_parameter_its_template_default_and_allowed_values() -> None:
    # Given the README's parameter table
    documented = readme_parameters(markdown_table(SECTION, PARAMETER_HEADER))
    # When each row is compared with the parameter the template declares
    wrong = {
        name: (default, allowed)
        for name, (default, allowed) in documented.items()
        if name in TEMPLATE["Parameters"]
        and (
            default != default_cell(TEMPLATE["Parameters"][name])
            or not allowed_matches(TEMPLATE["Parameters"][name], allowed)
        )
    }
    # Then every default and every set of allowed values is the template's
    assert wrong == {}, "README rows whose default or allowed values differ from template.yaml"


def test_every_environment_variable_of_the_template_is_in_the_readme_table_and_no_other() -> None:
    # Given the variables the template sets (Globals and each function's own)
    declared = template_variables(TEMPLATE)
    assert declared, "template.yaml sets no environment variable"
    # When the README's environment table is read as (variable, function) pairs
    documented = readme_variables(markdown_table(SECTION, ENVIRONMENT_HEADER))
    # Then each variable is listed for exactly the functions that get it
    assert sorted(declared - documented) == [], "set by template.yaml, missing from README.md"
    assert sorted(documented - declared) == [], "in README.md, not set by template.yaml"


def test_a_variable_missing_from_the_readme_would_be_reported() -> None:
    # Given a template with one function variable more than the README table lists
    rows = [["`POWERTOOLS_LOG_LEVEL`", GLOBALS, "level"], ["`A`, `B`", "ingest, query", "x"]]
    template = {
        "Globals": {"Function": {"Environment": {"Variables": {"POWERTOOLS_LOG_LEVEL": "INFO"}}}},
        "Resources": {
            "IngestFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Environment": {"Variables": {"A": "1", "B": "2", "C": "3"}}},
            },
            "QueryFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Environment": {"Variables": {"A": "1", "B": "2"}}},
            },
        },
    }
    # When both sides are compared as the test above compares them
    declared, documented = template_variables(template), readme_variables(rows)
    # Then the missing variable is named, and nothing is documented that is not declared
    assert declared - documented == {("C", "ingest")}
    assert documented - declared == set()
