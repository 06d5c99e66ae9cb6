"""`make dev PARAMS="Key=Value ..."`: template parameter overrides, read and checked the way
`sam deploy --parameter-overrides` and CloudFormation read and check them.

Syntax (SAM CLI's): space-separated `Key=Value` pairs, or `ParameterKey=Key,ParameterValue=Value`;
a value with spaces is quoted (`Key="a b"`), and `Key=` gives the empty string. A name the
template does not declare is refused with the list of the names it does, and every value is
checked against its declaration as CloudFormation checks it before it creates anything: the
Type (Number, List<Number>, CommaDelimitedList, String), AllowedValues, AllowedPattern (the
whole value must match), MinLength/MaxLength and MinValue/MaxValue; a declared
ConstraintDescription is what the message says. Template `Rules` are not evaluated (moto does
not either); nor are parameters the local stack does not override.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

# The local stack sets these itself; an override would contradict a setting of its own.
OWN_PARAMETERS: Mapping[str, str] = {
    "AdminEmail": "set ADMIN_EMAIL instead (the local stack gives that person a password)",
}

_LIST_TYPES = ("CommaDelimitedList", "List<Number>")
_PAIR_FORM = re.compile(r"^ParameterKey=(?P<key>[^,]*),ParameterValue=(?P<value>.*)$", re.DOTALL)


class ParameterError(ValueError):
    """PARAMS cannot be used; the message says why and what would be accepted."""


def parse_overrides(text: str) -> dict[str, str]:
    """`Key=Value Key2="a b"` (or SAM's `ParameterKey=K,ParameterValue=V`) -> {Key: Value}, in
    the order given. Raises ParameterError for anything that is not such a list."""
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise ParameterError(f"PARAMS cannot be read ({exc}): use Key=Value pairs") from None
    overrides: dict[str, str] = {}
    for token in tokens:
        pair = _PAIR_FORM.match(token)
        if pair is not None:
            key, value = pair.group("key"), pair.group("value")
        else:
            key, separator, value = token.partition("=")
            if not separator:
                raise ParameterError(
                    f'PARAMS: {token!r} is not Key=Value (e.g. PARAMS="EmailTransport=smtp '
                    'SmtpHost=127.0.0.1")'
                )
        if not re.fullmatch(r"[A-Za-z0-9]+", key):
            raise ParameterError(f"PARAMS: {key!r} is not a parameter name (letters and digits)")
        if key in overrides:
            raise ParameterError(f"PARAMS: {key} is given twice")
        overrides[key] = value
    return overrides


def validate_overrides(
    template: Mapping[str, Any], overrides: Mapping[str, str], *, template_name: str = "template"
) -> dict[str, str]:
    """`overrides` checked against the template's Parameters; returns them unchanged, or raises
    ParameterError naming every problem (unknown names, refused values)."""
    declared = template.get("Parameters") or {}
    problems: list[str] = []
    unknown = [name for name in overrides if name not in declared]
    if unknown:
        problems.append(
            f"{template_name} declares no parameter {', '.join(unknown)}; "
            f"its parameters are: {', '.join(sorted(declared))}"
        )
    for name, value in overrides.items():
        if name in OWN_PARAMETERS:
            problems.append(f"{name} is set by the local stack: {OWN_PARAMETERS[name]}")
            continue
        declaration = declared.get(name)
        if isinstance(declaration, Mapping):
            problem = parameter_problem(name, declaration, value)
            if problem is not None:
                problems.append(problem)
    if problems:
        raise ParameterError("PARAMS refused: " + "; ".join(problems))
    return dict(overrides)


def parameter_problem(name: str, declaration: Mapping[str, Any], value: str) -> str | None:
    """Why CloudFormation would refuse `value` for this parameter (None: it would not)."""
    kind = str(declaration.get("Type", "String"))
    values = [v.strip() for v in value.split(",")] if kind in _LIST_TYPES else [value]
    for item in values:
        problem = _value_problem(name, declaration, kind, item)
        if problem is not None:
            return problem
    return None


def _value_problem(name: str, declaration: Mapping[str, Any], kind: str, value: str) -> str | None:
    constraint = declaration.get("ConstraintDescription")
    numeric = kind in ("Number", "List<Number>")
    number: Decimal | None = None
    if numeric:
        number = _number(value)
        if number is None:
            return f"Parameter '{name}' must be a number, got {value!r}"
    allowed = declaration.get("AllowedValues")
    if isinstance(allowed, list) and not _allowed(value, number, allowed):
        choices = ", ".join(_text(v) for v in allowed)
        return f"Parameter '{name}' must be one of AllowedValues ({choices}), got {value!r}"
    pattern = declaration.get("AllowedPattern")
    if isinstance(pattern, str) and not _full_match(pattern, value):
        why = _text(constraint) if constraint else f"Parameter {name} must match pattern {pattern}"
        return f"Parameter {name} failed to satisfy constraint: {why} (got {value!r})"
    for bound, test, words in (
        ("MinLength", lambda limit: len(value) >= limit, "characters long or more"),
        ("MaxLength", lambda limit: len(value) <= limit, "characters long or fewer"),
    ):
        limit = _number(_text(declaration.get(bound, "")))
        if limit is not None and not test(int(limit)):
            why = _text(constraint) if constraint else f"it must be {int(limit)} {words}"
            return f"Parameter '{name}' failed to satisfy constraint: {why} (got {value!r})"
    if number is not None:
        low = _number(_text(declaration.get("MinValue", "")))
        high = _number(_text(declaration.get("MaxValue", "")))
        if low is not None and number < low:
            return f"Parameter '{name}' must be a number not less than {_text(low)}, got {value}"
        if high is not None and number > high:
            return (
                f"Parameter '{name}' must be a number not greater than {_text(high)}, got {value}"
            )
    return None


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and text.strip() else None


def _allowed(value: str, number: Decimal | None, allowed: list[Any]) -> bool:
    if number is not None:
        return any(_number(_text(choice)) == number for choice in allowed)
    return value in (_text(choice) for choice in allowed)


def _full_match(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return True  # a pattern Python cannot read: CloudFormation's (Java) rules apply there


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)
