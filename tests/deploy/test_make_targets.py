"""`make deploy` and `make invoke` stop at once, with a message saying what to do, when the AWS
side cannot work: no AWS CLI, or no credentials. Nothing is built or pushed before that check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.cfn import ROOT

VENV_BIN = Path(sys.executable).parent  # holds the pinned awscli (requirements/dev.in)


def make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target, f"PY={sys.executable}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("target", ["deploy", "invoke"])
def test_make_targets_fail_fast_without_aws_cli(target: str, no_aws_env: dict[str, str]) -> None:
    env = {**no_aws_env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    result = make(target, env)
    assert result.returncode != 0
    assert "error: the AWS CLI is not installed or not on PATH" in result.stderr
    assert f"make {target} needs it" in result.stderr
    assert "==> building" not in result.stdout


@pytest.mark.parametrize("target", ["deploy", "invoke"])
def test_make_targets_fail_fast_without_credentials(
    target: str, no_aws_env: dict[str, str]
) -> None:
    assert (VENV_BIN / "aws").exists(), "the dev venv must hold awscli (requirements/dev.in)"
    env = {
        **no_aws_env,
        "PATH": f"{VENV_BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
        "AWS_REGION": "eu-west-1",
    }
    result = make(target, env)
    assert result.returncode != 0
    assert "error: no usable AWS credentials" in result.stderr
    assert "Unable to locate credentials" in result.stderr  # the CLI's own reason, passed on
    assert "aws configure" in result.stderr and "AWS_PROFILE" in result.stderr
    assert "==> building" not in result.stdout
    assert "==> account" not in result.stdout


def test_make_deploy_design1_fails_fast_the_same_way(no_aws_env: dict[str, str]) -> None:
    env = {**no_aws_env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    result = subprocess.run(
        ["make", "--no-print-directory", "deploy", "DESIGN=1", f"PY={sys.executable}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "error: the AWS CLI is not installed or not on PATH" in result.stderr
    assert "==> building" not in result.stdout


@pytest.mark.parametrize("target", ["deploy", "invoke"])
def test_make_targets_pass_the_design_to_the_script(target: str) -> None:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target, "DESIGN=1", "ENDPOINT_KIND=realtime"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [x for x in result.stdout.splitlines() if "scripts/deploy.sh" in x]
    assert line.endswith(f"bash scripts/deploy.sh {target}")
    for setting in ("DESIGN=1", "ENDPOINT_KIND=realtime", "FRONT_IMAGE=lambda-nlp/front:latest"):
        assert f" {setting} " in f" {line} ", setting


def test_make_proxy_runs_the_signing_proxy_on_the_stack() -> None:
    settings = ["STACK=nlp-prod", "AWS_REGION=eu-west-1", "PROXY_PORT=8099", f"PY={sys.executable}"]
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "proxy", *settings],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"{sys.executable} -m tools.proxy --stack nlp-prod --region eu-west-1 --port 8099"
    )
