"""CloudFormation's intrinsic functions, for the few places the local stack must resolve a
template fragment itself.

moto's CloudFormation resolves everything it creates, but some resources it cannot create
(Amazon Cognito) are created by devstack through their own API, and the HTTP API's authorizer
settings (issuer, audience) must be read with those resources' real ids. This resolver follows
CloudFormation's documented rules for the functions a translated SAM template uses:

- Conditions: `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`.
- `Ref`: a parameter (its given value, else its Default; list types become lists), a pseudo
  parameter (AWS::Region, AccountId, Partition, StackName, StackId, URLSuffix,
  NotificationARNs, NoValue) or a resource that already exists (`resources`).
- `Fn::GetAtt` (both forms), `Fn::Sub` (string and [string, variables]; `${!x}` is a literal
  `${x}`), `Fn::If`, `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::FindInMap`.

A value that resolves to `AWS::NoValue` removes the property (or list item) holding it, as
CloudFormation does. Anything the resolver cannot do raises `IntrinsicError` naming it, rather
than passing an unresolved fragment on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "NO_VALUE",
    "IntrinsicError",
    "Resolver",
    "ResourceValues",
    "is_intrinsic",
    "partition_for",
    "url_suffix_for",
]


class _NoValue:
    """What `!Ref AWS::NoValue` resolves to: the holder of it is left out."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __bool__(self) -> bool:
        return False


NO_VALUE: Final = _NoValue()


class IntrinsicError(ValueError):
    """A fragment that cannot be resolved here (unknown name, unsupported function, bad shape)."""


@dataclass(frozen=True)
class ResourceValues:
    """What a created resource answers to `Ref` and `Fn::GetAtt`."""

    ref: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


_LIST_PARAMETER = re.compile(r"^(CommaDelimitedList|List<.+>)$")
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"})


def is_intrinsic(value: Any) -> bool:
    """A one-key mapping whose key is `Ref` or `Fn::*`: CloudFormation's function syntax."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key,) = value
    return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::"))


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def url_suffix_for(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


class Resolver:
    """Resolves intrinsics in fragments of one template, for one set of parameter values."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        *,
        region: str,
        account_id: str,
        stack_name: str = "local",
        resources: Mapping[str, ResourceValues] | None = None,
    ) -> None:
        self._template = template
        self._declared: Mapping[str, Any] = template.get("Parameters") or {}
        self._parameters = parameters
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.resources: dict[str, ResourceValues] = dict(resources or {})
        self._decided: dict[str, bool] = {}
        self._deciding: set[str] = set()

    # --- public --------------------------------------------------------------------------

    def __call__(self, value: Any) -> Any:
        return self.resolve(value)

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic resolved; NO_VALUE when the whole value is AWS::NoValue."""
        if isinstance(value, dict):
            if is_intrinsic(value):
                ((name, argument),) = value.items()
                return self._function(name, argument)
            resolved_map: dict[str, Any] = {}
            for key, child in value.items():
                resolved = self.resolve(child)
                if resolved is not NO_VALUE:
                    resolved_map[key] = resolved
            return resolved_map
        if isinstance(value, list):
            items = (self.resolve(item) for item in value)
            return [item for item in items if item is not NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        """The value of a named condition of the template (each evaluated once)."""
        if name in self._decided:
            return self._decided[name]
        if name not in self._conditions:
            raise IntrinsicError(f"condition {name!r} is not declared in Conditions")
        if name in self._deciding:
            raise IntrinsicError(f"condition {name!r} refers to itself")
        self._deciding.add(name)
        try:
            decided = self._evaluate(self._conditions[name])
        finally:
            self._deciding.discard(name)
        self._decided[name] = decided
        return decided

    def resource_enabled(self, logical_id: str) -> bool:
        """False when the resource's `Condition` is false (CloudFormation does not create it)."""
        resource = (self._template.get("Resources") or {}).get(logical_id) or {}
        name = resource.get("Condition") if isinstance(resource, dict) else None
        return True if name is None else self.condition(str(name))

    def parameter(self, name: str) -> Any:
        """A parameter's value as `Ref` gives it (a list for list types)."""
        declaration = self._declared.get(name)
        if not isinstance(declaration, dict):
            raise IntrinsicError(f"Ref {name!r}: not a parameter, pseudo parameter or resource")
        if name in self._parameters:
            raw: Any = self._parameters[name]
        elif "Default" in declaration:
            raw = declaration["Default"]
        else:
            raise IntrinsicError(f"parameter {name!r} has no value and no Default")
        if _LIST_PARAMETER.match(str(declaration.get("Type", ""))):
            if isinstance(raw, list):
                return [_text(item) for item in raw]
            return [] if _text(raw) == "" else [part.strip() for part in _text(raw).split(",")]
        return _text(raw)

    # --- conditions ----------------------------------------------------------------------

    def _evaluate(self, node: Any) -> bool:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict) or len(node) != 1:
            raise IntrinsicError(f"not a condition: {node!r}")
        ((name, argument),) = node.items()
        if name not in _CONDITION_FUNCTIONS:
            raise IntrinsicError(f"{name} is not a condition function")
        if name == "Condition":
            return self.condition(str(argument))
        if name == "Fn::Not":
            (only,) = _arguments(name, argument, 1)
            return not self._evaluate(only)
        if name == "Fn::And":
            return all(self._evaluate(item) for item in _arguments(name, argument, None))
        if name == "Fn::Or":
            return any(self._evaluate(item) for item in _arguments(name, argument, None))
        left, right = _arguments(name, argument, 2)
        return bool(_comparable(self.resolve(left)) == _comparable(self.resolve(right)))

    # --- functions -----------------------------------------------------------------------

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._ref(argument)
        if name == "Fn::GetAtt":
            return self._get_att(argument)
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::If":
            condition, when_true, when_false = _arguments(name, argument, 3)
            return self.resolve(when_true if self.condition(str(condition)) else when_false)
        if name == "Fn::Join":
            delimiter, items = _arguments(name, argument, 2)
            values = self.resolve(items)
            if not isinstance(values, list):
                raise IntrinsicError(f"Fn::Join needs a list, got {values!r}")
            return str(self.resolve(delimiter)).join(_text(v) for v in values)
        if name == "Fn::Select":
            index, items = _arguments(name, argument, 2)
            values = self.resolve(items)
            position = int(self.resolve(index))
            if not isinstance(values, list) or not 0 <= position < len(values):
                raise IntrinsicError(f"Fn::Select index {position} outside {values!r}")
            return values[position]
        if name == "Fn::Split":
            delimiter, source = _arguments(name, argument, 2)
            return _text(self.resolve(source)).split(str(self.resolve(delimiter)))
        if name == "Fn::FindInMap":
            map_name, top, second = (self.resolve(a) for a in _arguments(name, argument, 3))
            try:
                return self.resolve(self._mappings[map_name][top][second])
            except (KeyError, TypeError):
                raise IntrinsicError(
                    f"Fn::FindInMap {map_name}/{top}/{second}: no such entry"
                ) from None
        if name in _CONDITION_FUNCTIONS:
            return self._evaluate({name: argument})
        raise IntrinsicError(f"{name} is not supported by the local resolver")

    def _ref(self, argument: Any) -> Any:
        name = self.resolve(argument) if is_intrinsic(argument) else argument
        if not isinstance(name, str):
            raise IntrinsicError(f"Ref needs a name, got {name!r}")
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self._declared:
            return self.parameter(name)
        if name in self.resources:
            return self.resources[name].ref
        if name in (self._template.get("Resources") or {}):
            raise IntrinsicError(f"Ref {name}: that resource does not exist (yet)")
        raise IntrinsicError(f"Ref {name!r}: not a parameter, pseudo parameter or resource")

    def _pseudo(self, name: str) -> Any:
        if not name.startswith("AWS::"):
            return None
        values: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": partition_for(self.region),
            "AWS::URLSuffix": url_suffix_for(self.region),
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{partition_for(self.region)}:cloudformation:{self.region}:"
                f"{self.account_id}:stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise IntrinsicError(f"unknown pseudo parameter {name}")
        return values[name]

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            logical_id = str(argument[0])
            attribute = str(self.resolve(argument[1]))
        else:
            raise IntrinsicError(f"Fn::GetAtt needs [resource, attribute], got {argument!r}")
        resource = self.resources.get(logical_id)
        if resource is None:
            raise IntrinsicError(
                f"Fn::GetAtt {logical_id}.{attribute}: resource does not exist (yet)"
            )
        if attribute not in resource.attributes:
            raise IntrinsicError(f"Fn::GetAtt {logical_id}.{attribute}: no such attribute")
        return resource.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text = argument[0]
            given = self.resolve(argument[1])
            if not isinstance(given, dict):
                raise IntrinsicError(f"Fn::Sub variables must be a mapping, got {given!r}")
            variables = given
        else:
            raise IntrinsicError(f"Fn::Sub needs a string or [string, variables], got {argument!r}")

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return _text(variables[inner])
            if "." in inner and not inner.startswith("AWS::"):
                logical_id, attribute = inner.split(".", 1)
                return _text(self._get_att([logical_id, attribute]))
            value = self._ref(inner)
            if value is NO_VALUE or isinstance(value, list):
                raise IntrinsicError(f"Fn::Sub ${{{inner}}} is not a string")
            return _text(value)

        return _SUB_VARIABLE.sub(replace, text)


def _arguments(name: str, argument: Any, count: int | None) -> list[Any]:
    if not isinstance(argument, list) or (count is not None and len(argument) != count):
        expected = "a list" if count is None else f"{count} arguments"
        raise IntrinsicError(f"{name} needs {expected}, got {argument!r}")
    return argument


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is NO_VALUE:
        raise IntrinsicError("AWS::NoValue used where a value is needed")
    if isinstance(value, dict | list):
        raise IntrinsicError(f"expected a scalar, got {value!r}")
    return str(value)


def _comparable(value: Any) -> Any:
    # CloudFormation compares what it would pass on: the text of scalars, element by element.
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if value is NO_VALUE:
        return value
    return _text(value)


def references(value: Any) -> set[str]:
    """Names a fragment refers to through Ref, Fn::GetAtt or `${...}` in Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        ref = value.get("Ref")
        if isinstance(ref, str):
            found.add(ref)
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and isinstance(get_att[0], str):
            found.add(get_att[0])
        elif isinstance(get_att, str):
            found.add(get_att.split(".", 1)[0])
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            shadowed = (
                set(sub[1])
                if isinstance(sub, list) and len(sub) > 1 and isinstance(sub[1], dict)
                else set()
            )
            for inner in _SUB_VARIABLE.findall(text):
                if not inner.startswith("!") and inner.split(".", 1)[0] not in shadowed:
                    found.add(inner.split(".", 1)[0])
        for child in value.values():
            found |= references(child)
    elif isinstance(value, list):
        for child in value:
            found |= references(child)
    return found
