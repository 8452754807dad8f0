"""template.yaml, Design 1: the same ner/qa images as SageMaker endpoints behind one thin front
function. What each design deploys, the endpoint kinds, least privilege, and the outputs the deploy
script and the client read."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.cfn import (
    ACCOUNT,
    REGION,
    ROOT,
    dump,
    failed_rules,
    load_template,
    render,
    resolve,
)
from tests.deploy.test_template import cfn_lint

TAGS = {"NerImageTag": "0123456789abcdef", "QaImageTag": "fedcba9876543210"}
DESIGN1 = {**TAGS, "Design": "1", "FrontImageTag": "00112233aabbccdd"}
NAMESPACE = "LambdaNlp/lambda-nlp"
REPOSITORIES = {"NerRepository", "QaRepository"}
DESIGN2_RESOURCES = REPOSITORIES | {
    "NerLogGroup",
    "NerFunction",
    "NerUrl",
    "QaLogGroup",
    "QaFunction",
    "QaUrl",
    "Design2Dashboard",
}
DESIGN1_RESOURCES = REPOSITORIES | {
    "FrontRepository",
    "EndpointRole",
    "NerEndpointLogGroup",
    "QaEndpointLogGroup",
    "NerModel",
    "QaModel",
    "NerEndpointConfig",
    "QaEndpointConfig",
    "NerEndpoint",
    "QaEndpoint",
    "FrontLogGroup",
    "FrontFunction",
    "FrontUrl",
    "Design1Dashboard",
}
ENDPOINTS = {"ner": "NerEndpoint", "qa": "QaEndpoint"}


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy_document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- what each design deploys


def test_design_parameter_defaults_to_2_and_allows_only_1_and_2() -> None:
    spec = load_template()["Parameters"]["Design"]
    assert str(spec["Default"]) == "2"
    assert [str(v) for v in spec["AllowedValues"]] == ["1", "2"]
    with pytest.raises(ValueError, match="Design"):
        resolve({**DESIGN1, "Design": "3"})


def test_design2_second_pass_is_unchanged_by_the_design_parameter() -> None:
    """Design 2 deploys exactly its functions, URLs, log groups and dashboard, with or without an
    explicit Design=2, and a front tag is ignored."""
    default = resolve(TAGS)
    assert set(default["Resources"]) == DESIGN2_RESOURCES
    explicit = resolve({**TAGS, "Design": "2", "FrontImageTag": "00112233aabbccdd"})
    assert explicit["Resources"] == default["Resources"]
    assert explicit["Outputs"] == default["Outputs"]


def test_design1_second_pass_deploys_endpoints_and_front_but_no_model_functions() -> None:
    template = resolve(DESIGN1)
    assert set(template["Resources"]) == DESIGN1_RESOURCES
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert set(functions) == {"FrontFunction"}
    assert len(resources_of_type(template, "AWS::SageMaker::Model")) == 2
    assert len(resources_of_type(template, "AWS::SageMaker::EndpointConfig")) == 2
    assert len(resources_of_type(template, "AWS::SageMaker::Endpoint")) == 2
    assert set(resources_of_type(template, "AWS::Lambda::Url")) == {"FrontUrl"}


def test_design1_first_pass_creates_only_the_three_repositories() -> None:
    template = resolve({"Design": "1"})
    assert set(template["Resources"]) == REPOSITORIES | {"FrontRepository"}
    assert set(template["Outputs"]) == {"NerRepositoryUri", "QaRepositoryUri", "FrontRepositoryUri"}
    front = template["Resources"]["FrontRepository"]["Properties"]
    assert front["RepositoryName"] == "lambda-nlp/front"
    assert front["ImageTagMutability"] == "IMMUTABLE"
    assert front["ImageScanningConfiguration"] == {"ScanOnPush": True}
    # Going back to Design 2 deletes the repository, which CloudFormation can do only when empty.
    assert front["EmptyOnDelete"] is True


def test_design1_front_repository_has_the_same_pull_policy_as_the_model_images() -> None:
    """Another account running Design 1 from these images pulls the front image too."""
    repositories = resolve({**DESIGN1, "PullAccountIds": "111122223333,444455556666"})["Resources"]
    policy = repositories["FrontRepository"]["Properties"]["RepositoryPolicyText"]
    assert policy == repositories["NerRepository"]["Properties"]["RepositoryPolicyText"]
    assert policy["Statement"][0]["Principal"] == {
        "AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]
    }
    unlisted = resolve(DESIGN1)["Resources"]["FrontRepository"]["Properties"]
    assert "RepositoryPolicyText" not in unlisted


@pytest.mark.parametrize(
    "tags",
    [
        {"NerImageTag": "a"},
        {"NerImageTag": "a", "QaImageTag": "b"},
        {"FrontImageTag": "c"},
        {"QaImageTag": "b", "FrontImageTag": "c"},
    ],
)
def test_design1_rule_wants_all_three_tags_or_none(tags: dict[str, str]) -> None:
    (message,) = failed_rules({"Design": "1", **tags})
    assert "NerImageTag, QaImageTag and FrontImageTag" in message
    # And nothing but the repositories would be deployed with a partial set.
    assert set(resolve({"Design": "1", **tags})["Resources"]) == REPOSITORIES | {"FrontRepository"}


def test_design1_rule_accepts_all_three_tags_or_none_and_ignores_design2() -> None:
    assert failed_rules({"Design": "1"}) == []
    assert failed_rules(DESIGN1) == []
    assert failed_rules({"Design": "2", "NerImageTag": "a"}) == []


# ---------------------------------------------------------------- models and endpoints


def test_design1_models_run_the_same_images_as_design2() -> None:
    design2 = resolve(TAGS)["Resources"]
    design1 = resolve(DESIGN1)
    for service, model, function in (
        ("ner", "NerModel", "NerFunction"),
        ("qa", "QaModel", "QaFunction"),
    ):
        properties = design1["Resources"][model]["Properties"]
        container = properties["PrimaryContainer"]
        # The same repository URI and tag, so one push serves both designs.
        assert container["Image"] == design2[function]["Properties"]["ImageUri"]
        assert render(container["Image"], design1) == (
            f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/lambda-nlp/{service}:{TAGS[function[:-8] + 'ImageTag']}"
        )
        assert container["Mode"] == "SingleModel"
        assert "ModelDataUrl" not in container  # the model is baked into the image
        environment = container["Environment"]
        expected = {
            "SERVICES": service,
            "LOG_LEVEL": "INFO",
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "POWERTOOLS_SERVICE_NAME": service,
        }
        if service == "qa":
            expected["QA_PRECISION"] = "auto"
        assert environment == expected
        assert properties["ExecutionRoleArn"] == {"Fn::GetAtt": ["EndpointRole", "Arn"]}


def test_design1_passes_qa_precision_and_log_level_to_the_models() -> None:
    resources = resolve({**DESIGN1, "QaPrecision": "int8", "LogLevel": "DEBUG"})["Resources"]
    assert (
        resources["QaModel"]["Properties"]["PrimaryContainer"]["Environment"]["QA_PRECISION"]
        == "int8"
    )
    for model in ("NerModel", "QaModel"):
        assert (
            resources[model]["Properties"]["PrimaryContainer"]["Environment"]["LOG_LEVEL"]
            == "DEBUG"
        )


def variant(template: dict[str, Any], config: str) -> dict[str, Any]:
    (only,) = template["Resources"][config]["Properties"]["ProductionVariants"]
    return dict(only)


def test_design1_serverless_endpoints_by_default() -> None:
    spec = load_template()["Parameters"]
    assert spec["EndpointKind"]["Default"] == "serverless"
    assert spec["EndpointKind"]["AllowedValues"] == ["serverless", "realtime"]
    assert [int(v) for v in spec["NerServerlessMemorySize"]["AllowedValues"]] == [
        1024, 2048, 3072, 4096, 5120, 6144,
    ]  # fmt: skip
    template = resolve(
        {**DESIGN1, "QaServerlessMemorySize": "6144", "ServerlessMaxConcurrency": "7"}
    )
    expected_memory = {"NerEndpointConfig": "2048", "QaEndpointConfig": "6144"}
    for config, memory in expected_memory.items():
        production = variant(template, config)
        assert production["ServerlessConfig"] == {"MemorySizeInMB": memory, "MaxConcurrency": "7"}
        assert "InstanceType" not in production and "InitialInstanceCount" not in production
        assert production["VariantName"] == "AllTraffic"


def test_design1_realtime_endpoints_use_instances() -> None:
    spec = load_template()["Parameters"]
    assert spec["NerInstanceType"]["Default"] == spec["QaInstanceType"]["Default"] == "ml.c6i.large"
    # MXNet's wheels are x86_64: no Graviton (ml.*g.*) or GPU instance types are offered.
    for name in ("NerInstanceType", "QaInstanceType"):
        for instance_type in spec[name]["AllowedValues"]:
            family = instance_type.split(".")[1]
            assert family[0] in "cm" and not family.endswith("g"), instance_type
    template = resolve(
        {
            **DESIGN1,
            "EndpointKind": "realtime",
            "QaInstanceType": "ml.c6i.xlarge",
            "EndpointInstanceCount": "2",
        }
    )
    for config, instance_type in (
        ("NerEndpointConfig", "ml.c6i.large"),
        ("QaEndpointConfig", "ml.c6i.xlarge"),
    ):
        production = variant(template, config)
        assert production["InstanceType"] == instance_type
        assert production["InitialInstanceCount"] == "2"
        assert "ServerlessConfig" not in production
        assert production["VariantName"] == "AllTraffic"


def test_design1_endpoints_use_their_configs_and_log_groups() -> None:
    template = resolve(DESIGN1)
    resources = template["Resources"]
    for service, endpoint in ENDPOINTS.items():
        prefix = endpoint[: -len("Endpoint")]
        properties = resources[endpoint]["Properties"]
        assert properties["EndpointName"] == f"lambda-nlp-{service}"
        assert properties["EndpointConfigName"] == {
            "Fn::GetAtt": [f"{prefix}EndpointConfig", "EndpointConfigName"]
        }
        assert variant(template, f"{prefix}EndpointConfig")["ModelName"] == {
            "Fn::GetAtt": [f"{prefix}Model", "ModelName"]
        }
        # SageMaker writes to /aws/sagemaker/Endpoints/<name>: the stack owns that group.
        log_group = resources[f"{prefix}EndpointLogGroup"]
        assert (
            log_group["Properties"]["LogGroupName"]
            == f"/aws/sagemaker/Endpoints/lambda-nlp-{service}"
        )
        assert log_group["Properties"]["RetentionInDays"] == "30"
        assert resources[endpoint]["DependsOn"] == f"{prefix}EndpointLogGroup"


# ---------------------------------------------------------------- least privilege


def test_design1_endpoint_role_is_least_privilege() -> None:
    template = resolve(DESIGN1)
    role = render(template["Resources"]["EndpointRole"], template)["Properties"]
    (trust,) = statements(role["AssumeRolePolicyDocument"])
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert "ManagedPolicyArns" not in role
    granted: dict[str, list[str]] = {}
    conditions: dict[str, Any] = {}
    for policy in role["Policies"]:
        for statement in statements(policy["PolicyDocument"]):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            for action in as_list(statement["Action"]):
                assert "*" not in action, action
                granted.setdefault(action, []).extend(as_list(statement["Resource"]))
                if "Condition" in statement:
                    conditions[action] = statement["Condition"]
    repositories = [
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/lambda-nlp/{s}" for s in ("ner", "qa")
    ]
    for action in (
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
    ):
        assert sorted(granted.pop(action)) == repositories  # not the front's, not any other
    assert granted.pop("ecr:GetAuthorizationToken") == ["*"]  # it has no resource-level form
    log_groups = {
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/lambda-nlp-{s}{tail}"
        for s in ("ner", "qa")
        for tail in ("", ":*")
    }
    for action in (
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    ):
        assert set(granted.pop(action)) == log_groups
    assert granted.pop("cloudwatch:PutMetricData") == ["*"]
    assert conditions["cloudwatch:PutMetricData"] == {
        "StringEquals": {"cloudwatch:namespace": [NAMESPACE, "/aws/sagemaker/Endpoints"]}
    }
    assert granted == {}, f"unexpected permissions: {granted}"


def test_design1_front_may_only_invoke_the_two_endpoints() -> None:
    template = resolve(DESIGN1)
    front = render(template["Resources"]["FrontFunction"], template)["Properties"]
    (policy,) = front["Policies"]  # plus SAM's basic execution role (its own logs), as NER/QA
    (statement,) = statements(policy)
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["sagemaker:InvokeEndpoint"]
    assert "Condition" not in statement and "NotResource" not in statement
    endpoint_arns = {render({"Ref": endpoint}, template) for endpoint in ENDPOINTS.values()}
    assert endpoint_arns == {
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/lambda-nlp-{s}" for s in ENDPOINTS
    }
    assert set(as_list(statement["Resource"])) == endpoint_arns
    # The raw template refers to the endpoint resources, not to names typed twice.
    raw = template["Resources"]["FrontFunction"]["Properties"]["Policies"][0]["Statement"][0]
    assert raw["Resource"] == [{"Ref": "NerEndpoint"}, {"Ref": "QaEndpoint"}]


# ---------------------------------------------------------------- the front function and its URL


def test_design1_front_function_configuration() -> None:
    template = resolve(DESIGN1)
    front = render(template["Resources"]["FrontFunction"], template)["Properties"]
    assert front["PackageType"] == "Image"
    assert front["ImageUri"] == (
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/lambda-nlp/front:{DESIGN1['FrontImageTag']}"
    )
    assert front["ImageConfig"] == {"Command": ["app.front.handler"]}
    assert front["FunctionName"] == "lambda-nlp-front"
    assert front["LoggingConfig"] == {"LogGroup": "/aws/lambda/lambda-nlp-front"}
    assert int(front["MemorySize"]) == 512  # from the measured curve (bench/front_memory.py)
    # Above SageMaker's 60 s per InvokeEndpoint (and the front's own 70 s read timeout).
    assert int(front["Timeout"]) > 70
    assert int(load_template()["Parameters"]["FrontTimeout"]["MinValue"]) > 70
    assert front["SnapStart"] == {"ApplyOn": "None"}  # ColdStartMode is Design 2's
    assert "Architectures" not in front  # x86_64 from Globals
    assert front["Environment"]["Variables"] == {
        "NER_ENDPOINT_NAME": "lambda-nlp-ner",
        "QA_ENDPOINT_NAME": "lambda-nlp-qa",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "POWERTOOLS_SERVICE_NAME": "front",
    }


@pytest.mark.parametrize("mode", ["none", "snapstart", "provisioned"])
def test_design1_front_url_defaults_iam_without_cors_or_public_permissions(mode: str) -> None:
    resources = resolve({**DESIGN1, "ColdStartMode": mode})["Resources"]
    url = resources["FrontUrl"]["Properties"]
    assert url["AuthType"] == "AWS_IAM"
    assert "Cors" not in url
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": ["FrontFunction", "Arn"]}
    assert not resources_of_type({"Resources": resources}, "AWS::Lambda::Permission")
    assert not resources_of_type({"Resources": resources}, "AWS::Lambda::Version")


def test_design1_public_front_url_has_both_public_permissions_and_cors() -> None:
    origins = "https://example.org,https://app.example.org"
    resources = resolve({**DESIGN1, "FunctionUrlAuthType": "NONE", "CorsAllowOrigins": origins})[
        "Resources"
    ]
    url = resources["FrontUrl"]["Properties"]
    assert url["AuthType"] == "NONE"
    assert url["Cors"]["AllowOrigins"] == origins.split(",")
    assert url["Cors"]["AllowMethods"] == ["GET", "POST"]
    permissions = resources_of_type({"Resources": resources}, "AWS::Lambda::Permission")
    assert set(permissions) == {"FrontUrlPublicInvokeUrl", "FrontUrlPublicInvokeFunction"}
    by_action = {p["Properties"]["Action"]: p["Properties"] for p in permissions.values()}
    assert by_action["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert by_action["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    for permission in by_action.values():
        assert permission["Principal"] == "*"
        assert permission["FunctionName"] == url["TargetFunctionArn"]


# ---------------------------------------------------------------- one namespace, both designs


@pytest.mark.parametrize("params", [TAGS, DESIGN1], ids=["design2", "design1"])
def test_every_function_and_model_gets_the_stack_metrics_namespace(params: dict[str, str]) -> None:
    template = resolve(params)
    environments = [
        r["Properties"]["Environment"]["Variables"]
        for r in resources_of_type(template, "AWS::Serverless::Function").values()
    ] + [
        r["Properties"]["PrimaryContainer"]["Environment"]
        for r in resources_of_type(template, "AWS::SageMaker::Model").values()
    ]
    assert len(environments) == (2 if params is TAGS else 3)
    for environment in environments:
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
        assert environment["POWERTOOLS_SERVICE_NAME"] in {"ner", "qa", "front"}
    assert template["Outputs"]["MetricsNamespace"]["Value"] == NAMESPACE


# ---------------------------------------------------------------- outputs


def test_design1_outputs_point_both_urls_at_the_front() -> None:
    """scripts/deploy.sh invoke and tools.client read NerFunctionUrl/QaFunctionUrl, whatever the
    design: with Design 1 both are the front's URL, which serves every path."""
    template = resolve(DESIGN1)
    outputs = {k: render(v["Value"], template) for k, v in template["Outputs"].items()}
    front_url = f"https://fronturl.lambda-url.{REGION}.on.aws/"
    assert (
        outputs["NerFunctionUrl"]
        == outputs["QaFunctionUrl"]
        == outputs["FrontFunctionUrl"]
        == front_url
    )
    assert outputs["NerEndpointName"] == "lambda-nlp-ner"
    assert outputs["QaEndpointName"] == "lambda-nlp-qa"
    assert outputs["FrontFunctionName"] == "lambda-nlp-front"
    assert outputs["DashboardName"] == "lambda-nlp-design1"
    assert outputs["DashboardUrl"] == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        "#dashboards/dashboard/lambda-nlp-design1"
    )
    assert "NerFunctionName" not in outputs and "QaFunctionName" not in outputs


def test_design2_outputs_keep_their_own_urls() -> None:
    template = resolve(TAGS)
    outputs = {k: render(v["Value"], template) for k, v in template["Outputs"].items()}
    assert outputs["NerFunctionUrl"] == f"https://nerurl.lambda-url.{REGION}.on.aws/"
    assert outputs["QaFunctionUrl"] == f"https://qaurl.lambda-url.{REGION}.on.aws/"
    assert outputs["DashboardName"] == "lambda-nlp-design2"
    assert outputs["DashboardUrl"].endswith("#dashboards/dashboard/lambda-nlp-design2")
    assert not {"FrontFunctionUrl", "FrontRepositoryUri", "NerEndpointName"} & set(outputs)


# ---------------------------------------------------------------- lint, as CloudFormation sees it


@pytest.mark.parametrize(
    "extra",
    [
        {"EndpointKind": "serverless"},
        {
            "EndpointKind": "realtime",
            "FunctionUrlAuthType": "NONE",
            "CorsAllowOrigins": "https://example.org",
            "PullAccountIds": "111122223333",
        },
    ],
    ids=["serverless", "realtime-public-cors"],
)
def test_design1_cfn_lint_resolved_variants(
    sam_venv: Path, tmp_path: Path, extra: dict[str, str]
) -> None:
    path = dump(resolve({**DESIGN1, **extra}), tmp_path / "template-design1.json")
    result = cfn_lint(sam_venv, path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_design1_sam_validate_lint_resolved(sam_venv: Path, tmp_path: Path) -> None:
    """SAM accepts the front function (image config, inline policy) as CloudFormation gets it."""
    path = dump(resolve({**DESIGN1, "EndpointKind": "realtime"}), tmp_path / "template.json")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(
        [
            str(sam_venv / "bin" / "sam"),
            "validate",
            "--lint",
            "--template",
            str(path),
            "--region",
            REGION,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
