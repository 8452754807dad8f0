"""scripts/deploy.sh passes the template only parameters it has, with values it accepts."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.deploy.cfn import ROOT, load_template, resolve


def deploy_params(env: dict[str, str], *tags: str) -> dict[str, str]:
    result = subprocess.run(
        ["bash", "scripts/deploy.sh", "params", *tags],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"COLD_START": "snapstart", "PULL_ACCOUNTS": "111122223333,444455556666"},
        {"COLD_START": "provisioned", "PROVISIONED": "4", "URL_AUTH": "NONE"},
        {"CORS_ORIGINS": "https://example.org", "PARAMS": "QaMemorySize=6144 LogLevel=DEBUG"},
    ],
)
@pytest.mark.parametrize("tags", [("", ""), ("0123456789abcdef", "fedcba9876543210")])
def test_deploy_script_parameters_match_the_template(
    env: dict[str, str], tags: tuple[str, str]
) -> None:
    params = deploy_params({"STACK": "lambda-nlp", **env}, *tags)
    assert set(params) <= set(load_template()["Parameters"])
    template = resolve(params)  # raises on a value the template's AllowedValues/Pattern rejects
    functions = {"NerFunction", "QaFunction"} & set(template["Resources"])
    assert functions == (set() if tags == ("", "") else {"NerFunction", "QaFunction"})


def test_deploy_script_stack_name_is_the_repository_prefix() -> None:
    params = deploy_params({"STACK": "nlp-prod"}, "", "")
    assert params["RepositoryPrefix"] == "nlp-prod"
    with pytest.raises(ValueError, match="RepositoryPrefix"):
        resolve(deploy_params({"STACK": "NLP_Prod"}, "", ""))
