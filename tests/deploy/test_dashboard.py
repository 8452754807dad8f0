"""The CloudWatch dashboards of template.yaml: one per design, valid JSON once CloudFormation has
filled in the names, and every metric, dimension and log group they show belongs to the stack
(the functions, endpoints, log groups and metrics namespace of the resolved template)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.deploy.cfn import REGION, render, resolve

TAGS = {"NerImageTag": "0123456789abcdef", "QaImageTag": "fedcba9876543210"}
DESIGN1 = {**TAGS, "Design": "1", "FrontImageTag": "00112233aabbccdd"}
NAMESPACE = "LambdaNlp/lambda-nlp"
SAGEMAKER_NAMESPACES = {"AWS/SageMaker", "/aws/sagemaker/Endpoints"}
SEARCH = re.compile(
    r"""^SEARCH\('\{"(?P<namespace>[^"]+)",(?P<dims>[^}]*)\} MetricName="(?P<metric>\w+)"', 'Sum', \d+\)$"""
)
SOURCE = re.compile(r"SOURCE '([^']+)'")
PERCENTILES = {"p50", "p90", "p99"}
KINDS = {
    "AWS::Serverless::Function",
    "AWS::SageMaker::Model",
    "AWS::Logs::LogGroup",
    "AWS::SageMaker::Endpoint",
}

VARIANTS = {
    "design2": TAGS,
    "design2-snapstart": {**TAGS, "ColdStartMode": "snapstart"},
    "design1-serverless": {**DESIGN1, "EndpointKind": "serverless"},
    "design1-realtime": {**DESIGN1, "EndpointKind": "realtime"},
}


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str

    def dims(self) -> dict[str, str]:
        return dict(self.dimensions)


@dataclass
class Stack:
    """The facts of one resolved template that a dashboard may refer to."""

    template: dict[str, Any]
    functions: dict[str, dict[str, Any]]  # function name -> properties
    log_groups: set[str]
    endpoints: dict[str, set[str]]  # endpoint name -> its variants
    services: set[str]  # POWERTOOLS_SERVICE_NAME of every function and model

    @classmethod
    def of(cls, template: dict[str, Any]) -> Stack:
        functions, endpoints, services = {}, {}, set()
        log_groups = set()
        for resource in template["Resources"].values():
            kind = resource["Type"]
            if kind not in KINDS:
                continue
            properties = resource["Properties"]
            if kind == "AWS::Serverless::Function":
                properties = render(properties, template)
                functions[properties["FunctionName"]] = properties
                services.add(properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])
            elif kind == "AWS::SageMaker::Model":
                environment = render(properties["PrimaryContainer"]["Environment"], template)
                services.add(environment["POWERTOOLS_SERVICE_NAME"])
            elif kind == "AWS::Logs::LogGroup":
                log_groups.add(render(properties["LogGroupName"], template))
            elif kind == "AWS::SageMaker::Endpoint":
                config = properties["EndpointConfigName"]
                assert isinstance(config, dict), config  # the GetAtt of the stack's own config
                config_id = config["Fn::GetAtt"][0]
                variants = template["Resources"][config_id]["Properties"]["ProductionVariants"]
                name = render(properties["EndpointName"], template)
                endpoints[name] = {v["VariantName"] for v in variants}
        return cls(template, functions, log_groups, endpoints, services)


def dashboards(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: r
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    }


def body_of(params: dict[str, str]) -> tuple[Stack, dict[str, Any]]:
    template = resolve(params)
    (dashboard,) = dashboards(template).values()
    body = render(dashboard["Properties"]["DashboardBody"], template)
    assert isinstance(body, str)
    return Stack.of(template), json.loads(body)


def metrics_of(body: dict[str, Any]) -> tuple[list[Metric], list[re.Match[str]]]:
    """Every metric line of every metric widget (stat from the line, else the widget), and the
    SEARCH expressions."""
    metrics: list[Metric] = []
    searches: list[re.Match[str]] = []
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        assert properties["region"] == REGION
        for line in properties["metrics"]:
            options = line[-1] if isinstance(line[-1], dict) else {}
            if "expression" in options:
                match = SEARCH.match(options["expression"])
                assert match, options["expression"]
                searches.append(match)
                continue
            fields = line[:-1] if options else line
            assert all(isinstance(f, str) for f in fields), line
            assert "." not in fields, "write metric lines out in full"
            namespace, name, *flat = fields
            assert len(flat) % 2 == 0, line
            dimensions = tuple(sorted(zip(flat[::2], flat[1::2], strict=True)))
            stat = options.get("stat") or properties.get("stat")
            assert stat, line
            metrics.append(Metric(namespace, name, dimensions, stat))
    return metrics, searches


def log_queries(body: dict[str, Any]) -> list[str]:
    return [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]


# ---------------------------------------------------------------- one dashboard per design


def test_dashboard_only_in_the_second_pass() -> None:
    assert dashboards(resolve({})) == {}
    assert dashboards(resolve({"Design": "1"})) == {}
    assert dashboards(resolve({"NerImageTag": "a"})) == {}  # it shows both functions


@pytest.mark.parametrize(
    ("params", "expected"),
    [(TAGS, "Design2Dashboard"), (DESIGN1, "Design1Dashboard")],
    ids=["design2", "design1"],
)
def test_one_dashboard_per_design_named_after_the_stack(
    params: dict[str, str], expected: str
) -> None:
    template = resolve(params)
    assert set(dashboards(template)) == {expected}
    name = render({"Ref": expected}, template)
    assert name == f"lambda-nlp-design{params.get('Design', '2')}"
    assert render(template["Outputs"]["DashboardUrl"]["Value"], template).endswith(name)


@pytest.mark.parametrize("params", VARIANTS.values(), ids=VARIANTS.keys())
def test_dashboard_body_is_json_with_a_sane_layout(params: dict[str, str]) -> None:
    _, body = body_of(params)
    widgets = body["widgets"]
    assert widgets and body["start"].startswith("-PT")
    cells: set[tuple[int, int]] = set()
    for widget in widgets:
        x, y, width, height = (widget[k] for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + width <= 24, widget
        area = {(col, row) for col in range(x, x + width) for row in range(y, y + height)}
        assert not area & cells, f"widgets overlap at {widget.get('properties', {}).get('title')}"
        cells |= area


# ---------------------------------------------------------------- every reference exists


@pytest.mark.parametrize("params", VARIANTS.values(), ids=VARIANTS.keys())
def test_dashboard_refers_only_to_the_stacks_resources(params: dict[str, str]) -> None:
    stack, body = body_of(params)
    metrics, searches = metrics_of(body)
    assert metrics
    for metric in metrics:
        dims = metric.dims()
        if metric.namespace == "AWS/Lambda":
            assert set(dims) == {"FunctionName"}, metric
            assert dims["FunctionName"] in stack.functions, metric
        elif metric.namespace in SAGEMAKER_NAMESPACES:
            assert set(dims) == {"EndpointName", "VariantName"}, metric
            assert dims["EndpointName"] in stack.endpoints, metric
            assert dims["VariantName"] in stack.endpoints[dims["EndpointName"]], metric
        else:
            # The app's own metrics: the namespace every function and model is given.
            assert metric.namespace == NAMESPACE, metric
            assert dims["service"] in stack.services, metric
            if "function_name" in dims:  # powertools' cold start metric of a Lambda handler
                function = stack.functions[dims["function_name"]]
                assert (
                    function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
                    == dims["service"]
                )
    for search in searches:
        assert search["namespace"] == NAMESPACE
    for function in stack.functions.values():
        assert function["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
    queries = log_queries(body)
    assert queries
    for query in queries:
        sources = SOURCE.findall(query)
        assert sources and set(sources) <= stack.log_groups, query


@pytest.mark.parametrize("params", VARIANTS.values(), ids=VARIANTS.keys())
def test_init_duration_query_covers_every_function_log_group(params: dict[str, str]) -> None:
    stack, body = body_of(params)
    function_log_groups = {f["LoggingConfig"]["LogGroup"] for f in stack.functions.values()}
    (query,) = [q for q in log_queries(body) if "@initDuration" in q]
    assert set(SOURCE.findall(query)) == function_log_groups
    assert 'filter @type = "REPORT"' in query
    assert "pct(@initDuration, 50)" in query and "pct(@initDuration, 99)" in query


# ---------------------------------------------------------------- what each dashboard shows


def assert_lambda_metrics(metrics: list[Metric], function: str) -> None:
    def stats(name: str) -> set[str]:
        return {
            m.stat
            for m in metrics
            if m.namespace == "AWS/Lambda"
            and m.name == name
            and m.dims() == {"FunctionName": function}
        }

    assert stats("Duration") >= PERCENTILES, function
    for name in ("Invocations", "Errors", "Throttles"):
        assert stats(name) == {"Sum"}, (function, name)
    assert stats("ConcurrentExecutions") == {"Maximum"}, function


def custom(metrics: list[Metric], name: str, **dims: str) -> set[str]:
    return {
        m.stat for m in metrics if m.namespace == NAMESPACE and m.name == name and m.dims() == dims
    }


def assert_model_metrics(metrics: list[Metric]) -> None:
    for service in ("ner", "qa"):
        assert custom(metrics, "ModelLatency", service=service) >= PERCENTILES, service
        assert custom(metrics, "ColdStart", service=service) == {"Sum"}, service
    for name in ("Characters", "Entities"):
        assert custom(metrics, name, service="ner"), name
    for name in ("Tokens", "Windows"):
        assert custom(metrics, name, service="qa"), name


def assert_errors_by_code(searches: list[re.Match[str]]) -> None:
    (search,) = searches
    assert search["metric"] == "Errors"
    assert sorted(search["dims"].split(",")) == ["code", "service"]  # every code of every service


def test_design2_dashboard_shows_the_lambda_and_model_metrics() -> None:
    stack, body = body_of(TAGS)
    metrics, searches = metrics_of(body)
    assert set(stack.functions) == {"lambda-nlp-ner", "lambda-nlp-qa"}
    for function in stack.functions:
        assert_lambda_metrics(metrics, function)
    assert_model_metrics(metrics)
    assert_errors_by_code(searches)
    assert not [m for m in metrics if m.namespace in SAGEMAKER_NAMESPACES]
    assert not custom(metrics, "EndpointLatency", service="front", endpoint="ner")


@pytest.mark.parametrize("kind", ["serverless", "realtime"])
def test_design1_dashboard_shows_front_endpoints_and_model_metrics(kind: str) -> None:
    stack, body = body_of({**DESIGN1, "EndpointKind": kind})
    metrics, searches = metrics_of(body)
    assert set(stack.functions) == {"lambda-nlp-front"}
    assert_lambda_metrics(metrics, "lambda-nlp-front")
    assert custom(metrics, "ColdStart", function_name="lambda-nlp-front", service="front") == {
        "Sum"
    }
    for endpoint in ("ner", "qa"):
        assert custom(metrics, "EndpointLatency", endpoint=endpoint, service="front") >= PERCENTILES
    assert_model_metrics(metrics)
    assert_errors_by_code(searches)

    def sagemaker(name: str, endpoint: str, namespace: str = "AWS/SageMaker") -> set[str]:
        dims = {"EndpointName": endpoint, "VariantName": "AllTraffic"}
        return {
            m.stat
            for m in metrics
            if (m.namespace, m.name) == (namespace, name) and m.dims() == dims
        }

    assert set(stack.endpoints) == {"lambda-nlp-ner", "lambda-nlp-qa"}
    for endpoint in stack.endpoints:
        assert sagemaker("ModelLatency", endpoint) >= PERCENTILES
        assert sagemaker("OverheadLatency", endpoint) >= {"p50", "p99"}
        for name in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors"):
            assert sagemaker(name, endpoint) == {"Sum"}, name
        setup = sagemaker("ModelSetupTime", endpoint)
        utilization = sagemaker("CPUUtilization", endpoint, "/aws/sagemaker/Endpoints")
        if kind == "serverless":
            assert {"Average", "Maximum", "SampleCount"} <= setup and not utilization
        else:
            assert utilization and sagemaker(
                "MemoryUtilization", endpoint, "/aws/sagemaker/Endpoints"
            )
            assert not setup
