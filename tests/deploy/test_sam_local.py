"""SAM's own commands on template.yaml, as a SAM user runs them: `sam build` builds the images from
the functions' Metadata (the project's Dockerfiles, on the local bases), and `sam local invoke` and
`sam local start-lambda` (through botocore's Lambda client) answer the sample events in events/
exactly as app.main.handler does in-process.

Needs the Docker engine (marked ``container``). The Dockerfiles, build args and QA model are the
ones tests/containers builds, so Docker's layer cache makes the builds quick after them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.config import Config

from tests.conftest import EVENTS_DIR, load_event
from tests.containers.harness import (
    BASE_IMAGE,
    BUILD_IMAGE,
    free_port,
    in_process_results,
    make_tiny_qa_model,
    run,
)
from tests.deploy.cfn import REGION, ROOT, TEMPLATE, load_template

pytestmark = pytest.mark.container

# The random tiny QA model of tests/containers (inside the Docker build context).
QA_MODEL = ROOT / "build" / "test-models" / "qa-tiny"
# SAM lets a shell variable override the function variable of the same name (the suite sets
# SERVICES=ner for itself), so sam runs with a bare environment: the template's variables hold.
SAM_ENV = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_HOST", "TMPDIR")}
SAM_ENV["SAM_CLI_TELEMETRY"] = "0"
NER_EVENTS = ["ner.json", "ner_batch.json", "ner_base64.json", "ner_invalid_json.json"]


def sam(venv: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return run([str(venv / "bin" / "sam"), *args], env=SAM_ENV, timeout=timeout)


def image_uris(built_template: Path) -> dict[str, Any]:
    """Each function's ImageUri in a built template (SAM writes intrinsics in their long form)."""
    resources = yaml.safe_load(built_template.read_text())["Resources"]
    functions = ("NerFunction", "QaFunction", "FrontFunction")
    return {name: resources[name]["Properties"]["ImageUri"] for name in functions}


def comparable(result: dict[str, Any]) -> tuple[int, Any]:
    return result["statusCode"], json.loads(result["body"])


def assert_same_qa_answer(got: dict[str, Any], want: dict[str, Any]) -> None:
    status, body = comparable(got)
    want_status, reference = comparable(want)
    assert status == want_status == 200, body
    # The model name comes from the model dir's name (/opt/models/qa vs .../model): same version.
    assert body["model"]["version"] == reference["model"]["version"]
    assert [(a["text"], a["start"], a["length"]) for a in body["answers"]] == [
        (a["text"], a["start"], a["length"]) for a in reference["answers"]
    ]
    for a, b in zip(body["answers"], reference["answers"], strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)


@pytest.fixture(scope="module")
def qa_model() -> Path:
    return make_tiny_qa_model(QA_MODEL)


@pytest.fixture(scope="module")
def built(sam_venv: Path, qa_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of the template with the tiny QA model; the built template's path."""
    run(["bash", "scripts/ensure-docker.sh"])
    run(["bash", "scripts/build-base-images.sh"])
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    model_src = qa_model.relative_to(ROOT).as_posix()
    sam(
        sam_venv,
        "build",
        "--template",
        str(TEMPLATE),
        "--build-dir",
        str(build_dir),
        "--parameter-overrides",
        f"QaModelSrc={model_src}",
    )
    return build_dir / "template.yaml"


def test_sam_build_parameters_default_to_the_local_bases() -> None:
    """The bases `make base-images` builds, which tests/containers builds on too (same cache)."""
    parameters = load_template()["Parameters"]
    assert parameters["BaseImage"]["Default"] == BASE_IMAGE
    assert parameters["BuildImage"]["Default"] == BUILD_IMAGE
    assert parameters["QaModelSrc"]["Default"] == "images/qa/no-model"


def test_sam_build_builds_the_model_images_and_not_the_front_of_design1(built: Path) -> None:
    uris = image_uris(built)
    assert uris["NerFunction"] == "nerfunction:sam"
    assert uris["QaFunction"] == "qafunction:sam"
    assert not isinstance(uris["FrontFunction"], str)  # still the template's Fn::Sub: not built
    for image in ("nerfunction:sam", "qafunction:sam"):
        run(["docker", "image", "inspect", image])


def test_sam_local_invoke_ner_answers_as_in_process(sam_venv: Path, built: Path) -> None:
    event = EVENTS_DIR / "ner.json"
    answer = sam(
        sam_venv,
        "local",
        "invoke",
        "NerFunction",
        "--template",
        str(built),
        "--event",
        str(event),
        "--skip-pull-image",
        timeout=300,
    )
    got = json.loads(answer.stdout)
    [want] = in_process_results(dict(os.environ, SERVICES="ner"), [load_event("ner.json")])
    assert comparable(got) == comparable(want)
    assert {"Ada Lovelace", "London"} <= {e["text"] for e in json.loads(got["body"])["entities"]}


def test_sam_local_invoke_qa_answers_as_in_process(
    sam_venv: Path, built: Path, qa_model: Path
) -> None:
    event = EVENTS_DIR / "qa.json"
    answer = sam(
        sam_venv,
        "local",
        "invoke",
        "QaFunction",
        "--template",
        str(built),
        "--event",
        str(event),
        "--skip-pull-image",
        timeout=300,
    )
    env = dict(os.environ, SERVICES="qa", QA_MODEL_DIR=str(qa_model))
    [want] = in_process_results(env, [load_event("qa.json")])
    assert_same_qa_answer(json.loads(answer.stdout), want)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def start_lambda(sam_venv: Path, built: Path) -> Iterator[str]:
    """`sam local start-lambda` on a free port; its endpoint URL. Stopped with Ctrl-C (SIGINT)."""
    port = free_port()
    cmd = [str(sam_venv / "bin" / "sam"), "local", "start-lambda", "--template", str(built)]
    cmd += ["--port", str(port), "--skip-pull-image", "--warm-containers", "LAZY"]
    log = built.parent / "start-lambda.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=SAM_ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A background job (CI started with `&`) inherits SIGINT ignored; SAM must see it.
            preexec_fn=_default_sigint,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"start-lambda exited {proc.returncode}:\n{log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (
                    f"start-lambda not listening:\n{log.read_text()}"
                )
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        # SAM removes its warm containers on Ctrl-C; kill only when it does not stop.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_sam_local_start_lambda_answers_botocore_invoke(start_lambda: str, qa_model: Path) -> None:
    client = botocore.session.get_session().create_client(
        "lambda",
        region_name=REGION,
        endpoint_url=start_lambda,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(read_timeout=300, retries={"max_attempts": 0}),
    )

    def invoke(function: str, name: str) -> dict[str, Any]:
        response = client.invoke(FunctionName=function, Payload=(EVENTS_DIR / name).read_bytes())
        assert response["StatusCode"] == 200
        assert "FunctionError" not in response, response
        result: dict[str, Any] = json.loads(response["Payload"].read())
        return result

    got = [invoke("NerFunction", name) for name in NER_EVENTS]
    events = [load_event(name) for name in NER_EVENTS]
    want = in_process_results(dict(os.environ, SERVICES="ner"), events)
    assert [comparable(g) for g in got] == [comparable(w) for w in want]
    assert [g["statusCode"] for g in got] == [200, 200, 200, 400]

    env = dict(os.environ, SERVICES="qa", QA_MODEL_DIR=str(qa_model))
    [want_qa] = in_process_results(env, [load_event("qa.json")])
    assert_same_qa_answer(invoke("QaFunction", "qa.json"), want_qa)


def test_make_sam_build_design1_builds_the_front_too(
    sam_venv: Path, qa_model: Path, tmp_path: Path, built: Path
) -> None:
    """`make sam-build DESIGN=1`: the three images, the same model baked in (cached layers)."""
    build_dir = tmp_path / "build"
    model_src = qa_model.relative_to(ROOT).as_posix()
    run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "sam-build",
            "DESIGN=1",
            f"SAM_VENV={sam_venv}",
            f"QA_MODEL_SRC={model_src}",
            f"SAM_BUILD_DIR={build_dir}",
        ],
        timeout=1800,
    )
    uris = image_uris(build_dir / "template.yaml")
    assert uris == {
        "NerFunction": "nerfunction:sam",
        "QaFunction": "qafunction:sam",
        "FrontFunction": "frontfunction:sam",
    }
    run(["docker", "image", "inspect", "frontfunction:sam"])
