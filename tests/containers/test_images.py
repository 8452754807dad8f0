"""The images themselves: lint, contents, the Lambda contract, isolation, sizes and cold start."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.containers.harness import (
    BASE_IMAGE,
    LAMBDA_RUN_FLAGS,
    PROJECT,
    ROOT,
    Stack,
    build_image,
    run,
    wait_until_answering,
)

DOCKERFILES = [
    "images/ner/Dockerfile",
    "images/qa/Dockerfile",
    "images/front/Dockerfile",
    "images/base/runtime.Dockerfile",
    "images/base/build.Dockerfile",
]


def _sh(image: str, script: str) -> subprocess.CompletedProcess[str]:
    cmd = ["docker", "run", "--rm", *LAMBDA_RUN_FLAGS, "--entrypoint", "sh", image, "-c", script]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_images_hadolint_clean() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), *DOCKERFILES], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_final_stage_has_no_build_tools_or_tests(images: dict[str, str]) -> None:
    for name in ("ner", "qa"):
        script = (
            "command -v gcc cc g++ || true; ls -d /var/task/tests /var/task/Cython /var/task/cython* "
            "/root/.cache/pip /var/task/bin 2>/dev/null || true; ls /var/task/app"
        )
        out = _sh(images[name], script)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.split()
        assert not [x for x in lines if x.startswith("/")], out.stdout
        # The front doors and the SageMaker stand-in are tools (tools/), not in any image.
        assert "main.py" in lines and "frontdoor.py" not in lines
    # Only the product (app/): no tools, bench or tests, no client, converter or quantizer; the
    # NER image carries no QA code and neither carries Design 1's front function.
    script = (
        "ls -d /var/task/tools /var/task/bench /var/task/tests /var/task/app/client.py "
        "/var/task/app/qa/convert.py /var/task/app/qa/quantize.py /var/task/app/front.py "
        "2>/dev/null || true; echo; ls /var/task/app/qa/model.py 2>&1"
    )
    ner = _sh(images["ner"], script).stdout
    qa = _sh(images["qa"], script).stdout
    assert ner.split("\n", 1)[0] == "" and "No such file" in ner, ner
    assert qa.split("\n", 1)[0] == "" and "model.py" in qa, qa


def test_images_keep_the_lambda_base_contract(images: dict[str, str]) -> None:
    script = (
        'echo "$LAMBDA_TASK_ROOT $LAMBDA_RUNTIME_DIR $(pwd)"; readlink -f "$(command -v python3)"; '
        "readlink -f /var/lang/bin/python3.11; python3 -c 'import awslambdaric, sys; "
        'print(sys.version_info[:2] == (3, 11))\'; echo "$SERVICES"'
    )
    ner = _sh(images["ner"], script).stdout.split()
    assert ner[:3] == ["/var/task", "/var/runtime", "/var/task"]
    assert ner[3] == ner[4] and ner[5] == "True" and ner[6] == "ner"
    qa = _sh(images["qa"], script + '; echo "$QA_MODEL_DIR"; ls /opt/models/qa').stdout.split()
    assert qa[6] == "qa" and qa[7] == "/opt/models/qa"
    assert {"config.json", "model.params", "spiece.model"} <= set(qa[8:])
    inspect = run(["docker", "image", "inspect", images["ner"]]).stdout
    config = json.loads(inspect)[0]["Config"]
    # One image, both designs: `serve` is SageMaker hosting, anything else the base's Lambda
    # entrypoint with the handler from CMD (images/entrypoint.sh).
    assert config["Entrypoint"] == ["/usr/local/bin/lambda-nlp-entrypoint"]
    assert config["Cmd"] == ["app.main.handler"]
    entrypoint = _sh(images["ner"], "cat /usr/local/bin/lambda-nlp-entrypoint").stdout
    assert 'exec /lambda-entrypoint.sh "$@"' in entrypoint
    # The NER image needs no mxnet, the QA image no spaCy.
    assert _sh(images["ner"], "python3 -c 'import mxnet'").returncode != 0
    assert _sh(images["qa"], "python3 -c 'import spacy'").returncode != 0


def test_images_stack_runs_functions_like_lambda(stack: Stack) -> None:
    for name in ("ner", "qa"):
        info = json.loads(run(["docker", "inspect", stack.container(name)]).stdout)[0]
        host = info["HostConfig"]
        assert host["ReadonlyRootfs"] is True
        assert "/tmp" in host["Tmpfs"]
        assert host["Memory"] == 3008 * 1024 * 1024
        assert host["NanoCpus"] == 2_000_000_000
        assert info["Config"]["User"] == "993:990"
        assert list(info["NetworkSettings"]["Networks"]) == [stack.functions_network]
    network = json.loads(run(["docker", "network", "inspect", stack.functions_network]).stdout)
    assert network[0]["Internal"] is True
    probe = (
        "import socket\ntry:\n    socket.create_connection(('pypi.org', 443), timeout=5)\n"
        "    print('reached')\nexcept OSError as exc:\n    print('blocked', exc)\n"
    )
    out = run(["docker", "exec", stack.container("ner"), "python3", "-c", probe]).stdout
    assert out.startswith("blocked"), out


def test_images_qa_without_model_starts_and_answers_503(
    stack: Stack, images: dict[str, str], metrics: dict[str, object]
) -> None:
    name = f"{PROJECT}-qa-no-model"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    cmd = ["docker", "run", "-d", "--name", name, "--network", stack.functions_network]
    run([*cmd, *LAMBDA_RUN_FLAGS, images["qa-no-model"]])
    try:
        metrics["qa_no_model_first_answer_s"] = round(wait_until_answering(stack, name), 2)
        event = json.loads((ROOT / "events/qa.json").read_text())
        result = stack.invoke(name, event)
        body = json.loads(result["body"])
        assert result["statusCode"] == 503, body
        assert "make models" in body["error"]["message"]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_images_cold_start_and_sizes_are_recorded(
    stack: Stack, images: dict[str, str], metrics: dict[str, object]
) -> None:
    cold: dict[str, float] = {}
    for name in ("ner", "qa"):
        container = f"{PROJECT}-cold-{name}"
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        cmd = ["docker", "run", "-d", "--name", container, "--network", stack.functions_network]
        started = time.monotonic()
        run([*cmd, *LAMBDA_RUN_FLAGS, images[name]])
        try:
            wait_until_answering(stack, container)
            cold[name] = round(time.monotonic() - started, 2)
        finally:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    sizes: dict[str, dict[str, float]] = {}
    base = _size(BASE_IMAGE)
    for name in ("ner", "qa"):
        total = _size(images[name])
        sizes[name] = {
            "total_mb": round(total / 1e6, 1),
            "added_mb": round((total - base) / 1e6, 1),
        }
    metrics.update(
        cold_start_s=cold,
        stack_up_to_first_answer_s={k: round(v, 2) for k, v in stack.first_answer_seconds.items()},
        sizes=sizes,
        base_mb=round(base / 1e6, 1),
    )
    print(json.dumps(metrics, indent=2))
    assert all(v > 0 for v in cold.values()) and sizes["ner"]["added_mb"] > 0


def _size(image: str) -> int:
    return int(run(["docker", "image", "inspect", "-f", "{{.Size}}", image]).stdout.strip())


def test_images_qa_builds_and_answers_with_mxnet_mkl(
    stack: Stack, qa_test_model: Path, metrics: dict[str, object]
) -> None:
    # The design names mxnet-mkl (1.6.0): selectable by build argument, with its own lock.
    tag = "lambda-nlp/qa:test-mxnet-mkl"
    model_src = qa_test_model.relative_to(ROOT).as_posix()
    build_image("images/qa/Dockerfile", tag, QA_MODEL_SRC=model_src, MXNET_PACKAGE="mxnet-mkl")
    version = _sh(tag, "python3 -c 'import mxnet; print(mxnet.__version__)'").stdout.strip()
    assert version == "1.6.0"
    name = f"{PROJECT}-qa-mxnet-mkl"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    cmd = ["docker", "run", "-d", "--name", name, "--network", stack.functions_network]
    run([*cmd, *LAMBDA_RUN_FLAGS, tag])
    try:
        metrics["qa_mxnet_mkl_first_answer_s"] = round(wait_until_answering(stack, name), 2)
        event = json.loads((ROOT / "events/qa.json").read_text())
        result = stack.invoke(name, event)
        assert result["statusCode"] == 200, result["body"]
        context = json.loads(event["body"])["context"]
        for answer in json.loads(result["body"])["answers"]:
            assert answer["text"] == context[answer["start"] : answer["start"] + answer["length"]]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
