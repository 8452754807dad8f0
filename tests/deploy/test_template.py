"""template.yaml: lints clean in every mode, and its security defaults hold once resolved."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.cfn import REGION, ROOT, TEMPLATE, dump, failed_rules, load_template, resolve

IMAGES = {"NerImageTag": "0123456789abcdef", "QaImageTag": "fedcba9876543210"}
ACCOUNTS = ["111122223333", "444455556666"]
MODES = ["none", "snapstart", "provisioned"]
FUNCTIONS = ["NerFunction", "QaFunction"]


def cfn_lint(sam_venv: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(sam_venv / "bin" / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_template_cfn_lint_clean(sam_venv: Path) -> None:
    result = cfn_lint(sam_venv, TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("accounts", [[], ACCOUNTS], ids=["no-pull-accounts", "pull-accounts"])
@pytest.mark.parametrize("mode", MODES)
def test_template_cfn_lint_resolved_variants(
    sam_venv: Path, tmp_path: Path, mode: str, accounts: list[str]
) -> None:
    """cfn-lint on the template as CloudFormation sees it for each mode (conditions evaluated)."""
    params = {**IMAGES, "ColdStartMode": mode, "PullAccountIds": ",".join(accounts)}
    if mode == "provisioned":
        params |= {"FunctionUrlAuthType": "NONE", "CorsAllowOrigins": "https://example.org"}
    path = dump(resolve(params), tmp_path / f"template-{mode}.json")
    result = cfn_lint(sam_venv, path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_sam_validate_lint(sam_venv: Path) -> None:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    cmd = [str(sam_venv / "bin" / "sam"), "validate", "--lint", "--template", str(TEMPLATE)]
    result = subprocess.run(
        [*cmd, "--region", REGION], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_template_first_pass_creates_only_the_repositories() -> None:
    template = resolve({})
    assert set(template["Resources"]) == {"NerRepository", "QaRepository"}
    assert set(template["Outputs"]) == {"NerRepositoryUri", "QaRepositoryUri"}


def test_template_one_image_tag_creates_only_that_function() -> None:
    resources = resolve({"NerImageTag": "abc"})["Resources"]
    assert "NerFunction" in resources and "NerUrl" in resources
    assert not any(name.startswith("Qa") and name != "QaRepository" for name in resources)


def test_template_defaults_url_auth_iam_without_cors_or_public_permissions() -> None:
    template = load_template()
    assert template["Parameters"]["FunctionUrlAuthType"]["Default"] == "AWS_IAM"
    assert template["Parameters"]["CorsAllowOrigins"]["Default"] == ""
    resources = resolve(IMAGES)["Resources"]
    for url in ("NerUrl", "QaUrl"):
        assert resources[url]["Properties"]["AuthType"] == "AWS_IAM"
        assert "Cors" not in resources[url]["Properties"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]


@pytest.mark.parametrize("mode", MODES)
def test_template_public_url_has_both_public_permissions(mode: str) -> None:
    resources = resolve({**IMAGES, "FunctionUrlAuthType": "NONE", "ColdStartMode": mode})[
        "Resources"
    ]
    for service in ("Ner", "Qa"):
        url = resources[f"{service}Url"]["Properties"]
        assert url["AuthType"] == "NONE"
        permissions = [
            r["Properties"]
            for name, r in resources.items()
            if r["Type"] == "AWS::Lambda::Permission" and name.startswith(service)
        ]
        assert {p["Action"] for p in permissions} == {
            "lambda:InvokeFunctionUrl",
            "lambda:InvokeFunction",
        }
        for permission in permissions:
            assert permission["Principal"] == "*"
            # The permissions cover exactly what the URL invokes ($LATEST or the alias).
            assert permission["FunctionName"] == url["TargetFunctionArn"]
        by_action = {p["Action"]: p for p in permissions}
        assert by_action["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
        assert by_action["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True


def test_template_cors_only_for_listed_origins() -> None:
    origins = "https://example.org,https://app.example.org"
    resources = resolve({**IMAGES, "CorsAllowOrigins": origins})["Resources"]
    for url in ("NerUrl", "QaUrl"):
        cors = resources[url]["Properties"]["Cors"]
        assert cors["AllowOrigins"] == origins.split(",")
        assert "*" not in cors["AllowOrigins"]
        assert "AllowCredentials" not in cors


def repository_policies(template: dict[str, Any]) -> list[dict[str, Any] | None]:
    return [
        template["Resources"][name]["Properties"].get("RepositoryPolicyText")
        for name in ("NerRepository", "QaRepository")
    ]


def test_template_no_pull_policy_without_accounts() -> None:
    assert repository_policies(resolve({})) == [None, None]
    assert repository_policies(resolve(IMAGES)) == [None, None]


@pytest.mark.parametrize("accounts", [ACCOUNTS[:1], ACCOUNTS])
def test_template_pull_policy_scoped_to_listed_accounts(accounts: list[str]) -> None:
    for policy in repository_policies(resolve({"PullAccountIds": ",".join(accounts)})):
        assert policy is not None
        account_pull, lambda_pull = policy["Statement"]
        for statement in (account_pull, lambda_pull):
            assert statement["Effect"] == "Allow"
            assert sorted(statement["Action"]) == [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ]
        assert account_pull["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]}
        assert "Condition" not in account_pull
        assert lambda_pull["Principal"] == {"Service": "lambda.amazonaws.com"}
        condition = lambda_pull["Condition"]
        assert condition["StringLike"]["aws:sourceARN"] == [
            f"arn:*:lambda:*:{a}:function:*" for a in accounts
        ]
        assert condition["ArnLike"]["aws:sourceARN"] == f"arn:aws:lambda:{REGION}:*:function:*"


@pytest.mark.parametrize("bad", ["12345", "1111222233334", "abc", "111122223333,*"])
def test_template_pull_accounts_must_be_account_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="PullAccountIds"):
        resolve({"PullAccountIds": bad})


def test_template_repositories_scan_on_push_expire_and_immutable_tags() -> None:
    for name in ("NerRepository", "QaRepository"):
        properties = resolve({"ImagesToKeep": "7"})["Resources"][name]["Properties"]
        assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert properties["ImageTagMutability"] == "IMMUTABLE"
        rules = json.loads(properties["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        assert rules[0]["selection"]["countNumber"] == 7
        assert rules[0]["action"] == {"type": "expire"}


def test_template_functions_are_x86_64_images_with_their_service() -> None:
    template = resolve(IMAGES)
    assert template["Globals"]["Function"]["Architectures"] == ["x86_64"]
    resources = template["Resources"]
    for name, service in (("NerFunction", "ner"), ("QaFunction", "qa")):
        properties = resources[name]["Properties"]
        assert properties["PackageType"] == "Image"
        assert properties["Environment"]["Variables"]["SERVICES"] == service
        assert properties["Environment"]["Variables"]["LOG_LEVEL"] == "INFO"
        assert properties["ImageUri"]["Fn::Sub"].endswith(":" + IMAGES[f"{name[:-8]}ImageTag"])
        assert "Architectures" not in properties  # only from Globals, so both stay x86_64
        log_group = properties["LoggingConfig"]["LogGroup"]
        assert resources[log_group["Ref"]]["Properties"]["RetentionInDays"] == "30"


@pytest.mark.parametrize("mode", MODES)
def test_template_cold_start_mode(mode: str) -> None:
    template = resolve({**IMAGES, "ColdStartMode": mode, "ProvisionedConcurrency": "3"})
    resources = template["Resources"]
    function_globals = template["Globals"]["Function"]
    assert function_globals["SnapStart"]["ApplyOn"] == (
        "PublishedVersions" if mode == "snapstart" else "None"
    )
    assert int(function_globals["EphemeralStorage"]["Size"]) <= 512
    for service in ("Ner", "Qa"):
        target = resources[f"{service}Url"]["Properties"]["TargetFunctionArn"]
        if mode == "none":
            assert target == {"Fn::GetAtt": [f"{service}Function", "Arn"]}  # $LATEST
            assert f"{service}Alias" not in resources and f"{service}Version" not in resources
            continue
        assert target == {"Ref": f"{service}Alias"}
        alias = resources[f"{service}Alias"]["Properties"]
        assert alias["Name"] == "live"
        assert alias["FunctionVersion"] == {"Fn::GetAtt": [f"{service}Version", "Version"]}
        if mode == "provisioned":
            assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": "3"}
        else:
            assert "ProvisionedConcurrencyConfig" not in alias  # SnapStart excludes it


def test_template_snapstart_rule_rejects_large_ephemeral_storage() -> None:
    assert failed_rules({"ColdStartMode": "snapstart"}) == []
    assert failed_rules({"ColdStartMode": "none", "EphemeralStorageSize": "1024"}) == []
    (message,) = failed_rules({"ColdStartMode": "snapstart", "EphemeralStorageSize": "1024"})
    assert "EphemeralStorageSize=512" in message


@pytest.mark.parametrize(
    "change",
    [{"NerImageTag": "1111111111111111"}, {"NerMemorySize": "3008"}, {"LogLevel": "DEBUG"}],
)
def test_template_new_image_or_config_publishes_a_new_version(change: dict[str, str]) -> None:
    """A Version is replaced (so published again) exactly when its Description changes."""
    before = resolve({**IMAGES, "ColdStartMode": "snapstart"})["Resources"]["NerVersion"]
    after = resolve({**IMAGES, "ColdStartMode": "snapstart", **change})["Resources"]["NerVersion"]
    assert before["Properties"]["Description"] != after["Properties"]["Description"]


def test_template_parameters_have_safe_defaults() -> None:
    parameters = load_template()["Parameters"]
    assert parameters["ColdStartMode"]["Default"] == "none"
    assert parameters["PullAccountIds"]["Default"] == ""
    assert parameters["EphemeralStorageSize"]["Default"] == 512
    assert parameters["FunctionUrlAuthType"]["AllowedValues"] == ["AWS_IAM", "NONE"]
