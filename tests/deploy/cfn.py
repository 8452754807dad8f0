"""Read template.yaml and resolve it for one set of parameter values, as CloudFormation would.

The loader turns short-form tags (``!Ref x``) into their long form (``{"Ref": "x"}``). ``resolve``
evaluates conditions and the intrinsics that depend only on parameters (Ref to a parameter or a
pseudo parameter, Sub, Join, Split, If, Equals, Not, And, Or), drops resources and outputs whose
condition is false, and leaves references to resources (Ref/GetAtt) as they are.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": "lambda-nlp",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that knows CloudFormation's short-form intrinsic tags."""


def _construct(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    name = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type,unused-ignore]
        return {name: value}

    return construct


SHORT_FORM_TAGS = (
    "Ref", "Condition", "GetAtt", "Sub", "Join", "Split", "If", "Equals", "Not", "And", "Or",
    "Select", "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Transform", "Contains",
    "EachMemberEquals", "ValueOf",
)  # fmt: skip
for _tag in SHORT_FORM_TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain dicts, intrinsics in long form."""
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)
    return data


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Defaults overridden by ``overrides``; CommaDelimitedList values become lists (as in CFN)."""
    unknown = set(overrides) - set(template["Parameters"])
    if unknown:
        raise KeyError(f"unknown parameters {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in template["Parameters"].items():
        raw = overrides.get(name, str(spec.get("Default", "")))
        allowed = spec.get("AllowedValues")
        if allowed is not None and raw not in [str(v) for v in allowed]:
            raise ValueError(f"{name}={raw!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if spec["Type"] == "CommaDelimitedList":
            items = raw.split(",")
            if pattern is not None:
                for item in items:
                    if not re.fullmatch(pattern, item):
                        raise ValueError(f"{name} item {item!r} does not match {pattern}")
            values[name] = items
        else:
            if pattern is not None and not re.fullmatch(pattern, raw):
                raise ValueError(f"{name}={raw!r} does not match {pattern}")
            values[name] = raw
    return values


class Resolver:
    """Evaluates parameter-only intrinsics and conditions for one set of parameter values."""

    def __init__(self, template: dict[str, Any], params: dict[str, Any]) -> None:
        self.template = template
        self.params = params
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def ref(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        return {"Ref": name}  # a resource: left for CloudFormation

    def sub(self, arg: Any) -> Any:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        variables = {k: self.value(v) for k, v in variables.items()}
        unresolved = False
        kept: dict[str, Any] = {}  # variables whose values CloudFormation still has to compute

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            name = match.group(1)
            if name in variables:
                value = variables[name]
                if isinstance(value, dict):
                    kept[name] = value
            elif "." not in name:
                value = self.ref(name)
            else:
                value = {"Fn::GetAtt": name.split(".", 1)}
            if isinstance(value, dict):
                unresolved = True
                return match.group(0)
            return str(value)

        result = re.sub(r"\$\{([^}!]+)\}", replace, text)
        if not unresolved:
            return result
        return {"Fn::Sub": [result, kept] if kept else result}

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                left, right = (self.value(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Fn::Join":
                parts = self.value(arg[1])
                if all(isinstance(p, str | int | float) for p in parts):
                    return str(arg[0]).join(str(p) for p in parts)
                return {"Fn::Join": [arg[0], parts]}
            if key == "Fn::Split":
                text = self.value(arg[1])
                return (
                    text.split(arg[0]) if isinstance(text, str) else {"Fn::Split": [arg[0], text]}
                )
            if key == "Fn::Sub":
                return self.sub(arg)
        resolved = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def resolve(
    overrides: dict[str, str] | None = None, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The template as CloudFormation would see it for these parameter values.

    Conditions are evaluated, false-condition resources/outputs dropped, ``Conditions`` and
    ``Rules`` removed (see ``failed_rules``), parameters kept so the result still lints.
    """
    source = copy.deepcopy(template or load_template())
    resolver = Resolver(source, parameter_values(source, overrides or {}))
    out: dict[str, Any] = {
        key: source[key] for key in ("AWSTemplateFormatVersion", "Transform", "Description")
    }
    out["Parameters"] = source["Parameters"]
    out["Globals"] = resolver.value(source.get("Globals", {}))
    for section in ("Resources", "Outputs"):
        kept: dict[str, Any] = {}
        for name, body in source[section].items():
            condition = body.pop("Condition", None)
            if condition is None or resolver.condition(condition):
                kept[name] = resolver.value(body)
        out[section] = kept
    return out


def failed_rules(overrides: dict[str, str]) -> list[str]:
    """AssertDescriptions of the template's Rules that fail for these parameter values."""
    template = load_template()
    resolver = Resolver(template, parameter_values(template, overrides))
    failures = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not resolver.value(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not resolver.value(assertion["Assert"]):
                failures.append(str(assertion["AssertDescription"]))
    return failures


def dump(template: dict[str, Any], path: Path) -> Path:
    """Write a resolved template (JSON is YAML, and keeps long-form intrinsics unambiguous)."""
    path.write_text(json.dumps(template, indent=1))
    return path


def _physical_value(template: dict[str, Any], logical: str, attribute: str | None) -> str:
    """What CloudFormation would put for ``Ref``/``Fn::GetAtt`` of a resource of this resolved
    template (the names come from its own properties). KeyError for any other reference."""
    if logical not in template["Resources"]:
        raise KeyError(f"no resource {logical!r} in the resolved template")
    resource = template["Resources"][logical]
    kind, properties = resource["Type"], resource.get("Properties", {})

    def name(key: str) -> str:
        value = properties[key]
        if not isinstance(value, str):
            raise KeyError(f"{logical}.{key} is not a plain string: {value!r}")
        return value

    values: dict[tuple[str, str | None], Callable[[], str]] = {
        ("AWS::Serverless::Function", None): lambda: name("FunctionName"),
        ("AWS::Serverless::Function", "Arn"): lambda: (
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name('FunctionName')}"
        ),
        ("AWS::Logs::LogGroup", None): lambda: name("LogGroupName"),
        ("AWS::Logs::LogGroup", "Arn"): lambda: (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name('LogGroupName')}:*"
        ),
        ("AWS::SageMaker::Endpoint", None): lambda: (
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{name('EndpointName').lower()}"
        ),
        ("AWS::SageMaker::Endpoint", "EndpointName"): lambda: name("EndpointName"),
        ("AWS::CloudWatch::Dashboard", None): lambda: name("DashboardName"),
        # A URL id is random; the logical id stands in for it (lower case letters and digits).
        ("AWS::Lambda::Url", "FunctionUrl"): lambda: (
            f"https://{logical.lower()}.lambda-url.{REGION}.on.aws/"
        ),
        ("AWS::ECR::Repository", "RepositoryUri"): lambda: (
            f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name('RepositoryName')}"
        ),
        ("AWS::ECR::Repository", "Arn"): lambda: (
            f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name('RepositoryName')}"
        ),
    }
    try:
        return values[(kind, attribute)]()
    except KeyError as exc:
        raise KeyError(f"cannot render {logical}.{attribute} ({kind}): {exc}") from None


def render(node: Any, template: dict[str, Any]) -> Any:
    """``node`` of a resolved template with its Ref/GetAtt/Sub of resources filled in from that
    template (names, ARNs, URIs): what CloudFormation would send. A reference to a resource the
    template does not have, or whose name it does not set, raises KeyError."""
    if isinstance(node, list):
        return [render(item, template) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref":
            return _physical_value(template, arg, None)
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return _physical_value(template, logical, attribute)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            variables = {k: render(v, template) for k, v in variables.items()}

            def replace(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                logical, _, attribute = name.partition(".")
                return _physical_value(template, logical, attribute or None)

            return re.sub(r"\$\{([^}!]+)\}", replace, text)
    return {k: render(v, template) for k, v in node.items()}
