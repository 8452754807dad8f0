"""scripts/deploy.sh passes the template only parameters it has, with values it accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.cfn import ACCOUNT, REGION, ROOT, failed_rules, load_template, resolve


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


# ---------------------------------------------------------------- DESIGN (issue 16)

DESIGN1_TAGS = ("0123456789abcdef", "fedcba9876543210", "00112233aabbccdd")


def test_deploy_script_passes_the_design_every_time() -> None:
    """`aws cloudformation deploy` keeps a parameter's previous value when it is not passed, so
    Design, FrontImageTag and EndpointKind are always passed, Design 2 by default."""
    params = deploy_params({"STACK": "lambda-nlp"}, "a", "b")
    assert (params["Design"], params["FrontImageTag"], params["EndpointKind"]) == (
        "2",
        "",
        "serverless",
    )
    assert failed_rules(params) == []


@pytest.mark.parametrize("kind", ["serverless", "realtime"])
def test_deploy_script_design1_parameters_deploy_endpoints_and_front(kind: str) -> None:
    env = {"STACK": "lambda-nlp", "DESIGN": "1", "ENDPOINT_KIND": kind}
    params = deploy_params(env, *DESIGN1_TAGS)
    assert params["Design"] == "1" and params["EndpointKind"] == kind
    assert (params["NerImageTag"], params["QaImageTag"], params["FrontImageTag"]) == DESIGN1_TAGS
    assert failed_rules(params) == []
    resources = resolve(params)["Resources"]
    assert {"FrontFunction", "NerEndpoint", "QaEndpoint"} <= set(resources)
    assert not {"NerFunction", "QaFunction"} & set(resources)
    production = resources["QaEndpointConfig"]["Properties"]["ProductionVariants"][0]
    assert ("ServerlessConfig" in production) == (kind == "serverless")
    # The first pass of Design 1: the three repositories only.
    first = deploy_params(env, "", "")
    assert failed_rules(first) == []
    assert set(resolve(first)["Resources"]) == {"NerRepository", "QaRepository", "FrontRepository"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DESIGN": "3"}, "DESIGN must be 1"),
        ({"DESIGN": "1", "ENDPOINT_KIND": "batch"}, "ENDPOINT_KIND must be serverless or realtime"),
    ],
)
def test_deploy_script_rejects_unknown_design_or_endpoint_kind(
    env: dict[str, str], message: str
) -> None:
    for command in ("params", "deploy", "invoke"):
        result = subprocess.run(
            ["bash", "scripts/deploy.sh", command],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, command
        assert message in result.stderr, command
        assert result.stdout == "", command  # nothing printed, nothing called


# A stand-in AWS CLI: CloudFormation "deploys" by resolving the real template with the parameter
# overrides it is given (tests/deploy/cfn.py) and keeps the rendered outputs as the stack's state.
FAKE_AWS = """#!{python}
import json, os, sys
sys.path.insert(0, {root!r})
from tests.deploy.cfn import failed_rules, render, resolve
state = os.environ["FAKE_AWS_STATE"]
args = sys.argv[1:]
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps(["aws", *args]) + "\\n")
outputs_file = os.path.join(state, "outputs.json")
if args[:2] == ["sts", "get-caller-identity"]:
    print("{account}")
elif args[:2] == ["cloudformation", "describe-stacks"]:
    if not os.path.exists(outputs_file):
        sys.exit("An error occurred (ValidationError): Stack with id lambda-nlp does not exist")
    key = args[args.index("--query") + 1].split("'")[1]
    print(json.load(open(outputs_file)).get(key, ""))
elif args[:2] == ["cloudformation", "deploy"]:
    overrides = dict(a.split("=", 1) for a in args[args.index("--parameter-overrides") + 1 :])
    assert failed_rules(overrides) == [], failed_rules(overrides)
    template = resolve(overrides)
    json.dump({{k: render(v["Value"], template) for k, v in template["Outputs"].items()}}, open(outputs_file, "w"))
elif args[:2] == ["ecr", "describe-images"]:
    sys.exit(254)  # not pushed yet
elif args[:2] == ["ecr", "get-login-password"]:
    print("password")
else:
    sys.exit("fake aws: unexpected " + " ".join(args))
"""

FAKE_TOOL = """#!/usr/bin/env bash
# Records its arguments; docker answers what deploy.sh asks of it.
printf '%s\\n' "$(basename "$0") $*" >>"$FAKE_AWS_STATE/tools.log"
case "$(basename "$0") $1 $2" in
"docker image inspect")
    image=${{@: -1}}
    [[ $image == *front* && -n ${{FAKE_NO_FRONT_IMAGE:-}} ]] && exit 1
    printf 'sha256:%s\\n' "$(printf '%s' "$image" | sha256sum | cut -c1-64)" ;;
"docker login "*) cat >/dev/null ;;
esac
exit 0
"""


@pytest.fixture
def fake_aws(tmp_path: Path) -> dict[str, str]:
    """PATH with stand-ins for aws, docker, make and the client's python; the env to run with."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS.format(python=sys.executable, root=str(ROOT), account=ACCOUNT))
    for tool in ("docker", "make", "client-python"):
        (bin_dir / tool).write_text(FAKE_TOOL.format())
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    model = tmp_path / "models-qa"
    model.mkdir()
    (model / "config.json").write_text("{}")
    return {
        **env,
        "QA_MODEL": str(model),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "AWS_REGION": REGION,
        "FAKE_AWS_STATE": str(state),
        "STACK": "lambda-nlp",
        "MAKE": str(bin_dir / "make"),
        "PY": str(bin_dir / "client-python"),
    }


def run_script(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/deploy.sh", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def recorded(env: dict[str, str]) -> tuple[list[dict[str, str]], list[str]]:
    """The parameter overrides of each `cloudformation deploy`, and the tools' command lines."""
    state = Path(env["FAKE_AWS_STATE"])
    deploys = []
    for line in (state / "calls.jsonl").read_text().splitlines():
        args = json.loads(line)
        if args[1:3] == ["cloudformation", "deploy"]:
            overrides = args[args.index("--parameter-overrides") + 1 :]
            deploys.append(dict(a.split("=", 1) for a in overrides))
    tools = (state / "tools.log").read_text().splitlines() if (state / "tools.log").exists() else []
    return deploys, tools


def test_deploy_design1_builds_pushes_three_images_and_deploys_twice(
    fake_aws: dict[str, str],
) -> None:
    env = {**fake_aws, "DESIGN": "1", "ENDPOINT_KIND": "realtime"}
    result = run_script("deploy", env)
    assert result.returncode == 0, result.stdout + result.stderr
    (first, second), tools = recorded(env)
    assert first["Design"] == second["Design"] == "1"
    assert (first["NerImageTag"], first["QaImageTag"], first["FrontImageTag"]) == ("", "", "")
    assert all(second[k] for k in ("NerImageTag", "QaImageTag", "FrontImageTag"))
    assert second["EndpointKind"] == "realtime"
    builds = [t for t in tools if t.startswith("make ")]
    assert builds == [
        "make images BASE=aws DESIGN=1 NER_IMAGE=lambda-nlp/ner:latest QA_IMAGE=lambda-nlp/qa:latest "
        "FRONT_IMAGE=lambda-nlp/front:latest"
    ]
    registry = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/lambda-nlp"
    pushes = sorted(t.split()[-1] for t in tools if t.startswith("docker push"))
    assert pushes == sorted(
        f"{registry}/{service}:{second[key]}"
        for service, key in (
            ("ner", "NerImageTag"),
            ("qa", "QaImageTag"),
            ("front", "FrontImageTag"),
        )
    )
    front_url = f"https://fronturl.lambda-url.{REGION}.on.aws/"
    assert f"==> NER: {front_url}" in result.stdout and f"==> QA:  {front_url}" in result.stdout
    assert "#dashboards/dashboard/lambda-nlp-design1" in result.stdout

    # A second deploy finds the repositories: no first pass.
    again = run_script("deploy", env)
    assert again.returncode == 0, again.stdout + again.stderr
    deploys, _ = recorded(env)
    assert len(deploys) == 3 and deploys[2]["FrontImageTag"] == second["FrontImageTag"]

    # `make invoke` calls the same client, through the front, for both services.
    invoked = run_script("invoke", env)
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    _, tools = recorded(env)
    clients = [t for t in tools if t.startswith("client-python ")]
    assert [c.split()[3] for c in clients] == ["ner", "qa"]  # client-python -m tools.client ner
    assert all(f"--url {front_url} --auth auto" in c for c in clients)


def test_deploy_design2_pushes_only_the_model_images(fake_aws: dict[str, str]) -> None:
    result = run_script("deploy", fake_aws)
    assert result.returncode == 0, result.stdout + result.stderr
    (first, second), tools = recorded(fake_aws)
    assert first["Design"] == second["Design"] == "2"
    assert second["FrontImageTag"] == ""
    pushes = [t.split()[-1] for t in tools if t.startswith("docker push")]
    assert [p.split("/")[-1].split(":")[0] for p in pushes] == ["ner", "qa"]
    assert f"==> NER: https://nerurl.lambda-url.{REGION}.on.aws/" in result.stdout
    invoked = run_script("invoke", fake_aws)
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    clients = [t for t in recorded(fake_aws)[1] if t.startswith("client-python ")]
    assert f"--url https://nerurl.lambda-url.{REGION}.on.aws/" in clients[0]
    assert f"--url https://qaurl.lambda-url.{REGION}.on.aws/" in clients[1]


def test_deploy_design1_stops_when_the_front_image_was_not_built(fake_aws: dict[str, str]) -> None:
    env = {**fake_aws, "DESIGN": "1", "FAKE_NO_FRONT_IMAGE": "1"}
    result = run_script("deploy", env)
    assert result.returncode == 2
    assert "no image lambda-nlp/front:latest after 'make images'" in result.stderr
    deploys, tools = recorded(env)
    assert len(deploys) == 1  # the first pass only; nothing pushed, no second pass
    assert not [t for t in tools if t.startswith("docker push")]


def test_deploy_design1_needs_a_qa_model_first(fake_aws: dict[str, str], tmp_path: Path) -> None:
    env = {**fake_aws, "DESIGN": "1", "QA_MODEL": str(tmp_path / "no-model")}
    result = run_script("deploy", env)
    assert result.returncode == 2
    assert "DESIGN=1 needs a QA model" in result.stderr and "make models" in result.stderr
    # It stops right after the preflight: no stack, no build, no push.
    deploys, tools = recorded(env)
    assert deploys == [] and tools == []
    # Design 2 deploys without one (its /qa answers 503 until a model is baked in).
    assert run_script("deploy", {**env, "DESIGN": "2"}).returncode == 0


def test_deploy_switching_a_design2_stack_to_design1_creates_the_front_repository_first(
    fake_aws: dict[str, str],
) -> None:
    assert run_script("deploy", fake_aws).returncode == 0
    env = {**fake_aws, "DESIGN": "1"}
    result = run_script("deploy", env)
    assert result.returncode == 0, result.stdout + result.stderr
    deploys, tools = recorded(env)
    assert [d["Design"] for d in deploys] == ["2", "2", "1", "1"]
    assert deploys[2]["FrontImageTag"] == "" and deploys[3]["FrontImageTag"] != ""
    front_push = [t for t in tools if t.startswith("docker push") and "/lambda-nlp/front:" in t]
    assert front_push == [
        f"docker push --quiet {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/lambda-nlp/front:{deploys[3]['FrontImageTag']}"
    ]


@pytest.mark.parametrize(
    ("env", "proxied"),
    [
        ({}, True),  # the template's default: AWS_IAM
        ({"URL_AUTH": "NONE"}, False),
        ({"PARAMS": "FunctionUrlAuthType=NONE"}, False),  # PARAMS overrides URL_AUTH
        ({"DESIGN": "1"}, True),
    ],
)
def test_deploy_closing_lines_say_how_to_open_the_page(
    fake_aws: dict[str, str], env: dict[str, str], proxied: bool
) -> None:
    result = run_script("deploy", {**fake_aws, **env})
    assert result.returncode == 0, result.stdout + result.stderr
    tail = "\n".join(result.stdout.splitlines()[-4:])
    proxy_line = (
        f"make proxy STACK=lambda-nlp AWS_REGION={REGION}, then open http://127.0.0.1:8080/"
    )
    assert (proxy_line in tail) is proxied, tail
    assert ('{"Message":"Forbidden"}' in tail) is proxied
    if not proxied:
        assert f"open https://nerurl.lambda-url.{REGION}.on.aws/ in a browser" in tail
    assert ("Design 1's front serves no page" in tail) is (env.get("DESIGN") == "1")
