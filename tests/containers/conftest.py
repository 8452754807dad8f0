"""Session fixtures for the container tests: Docker, the base images, both function images
(QA with a random tiny checkpoint), and the compose stack started once on a free port."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load import compose_command
from tests.containers.harness import (
    DESIGN1_PROFILE,
    FRONT_IMAGE,
    NER_IMAGE,
    PROJECT,
    QA_IMAGE,
    QA_NO_MODEL_IMAGE,
    ROOT,
    Stack,
    build_image,
    free_port,
    make_tiny_qa_model,
    run,
    wait_until_answering,
)

# Inside the build context (see .dockerignore), so the QA Dockerfile can bake it.
TEST_MODELS = ROOT / "build" / "test-models"
ARTIFACTS = ROOT / "tests" / "artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.container)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    run(["bash", "scripts/ensure-docker.sh"])


@pytest.fixture(scope="session")
def base_images(docker_engine: None) -> None:
    run(["bash", "scripts/build-base-images.sh"])


@pytest.fixture(scope="session")
def qa_test_model() -> Path:
    """A random tiny ALBERT QA model dir, converted by the project's converter."""
    return make_tiny_qa_model(TEST_MODELS / "qa-tiny")


@pytest.fixture(scope="session")
def images(base_images: None, qa_test_model: Path) -> dict[str, str]:
    """Build the NER image, the QA image with the tiny model, and the QA image without one."""
    build_image("images/ner/Dockerfile", NER_IMAGE)
    model_src = qa_test_model.relative_to(ROOT).as_posix()
    build_image("images/qa/Dockerfile", QA_IMAGE, QA_MODEL_SRC=model_src)
    build_image("images/qa/Dockerfile", QA_NO_MODEL_IMAGE, QA_MODEL_SRC="images/qa/no-model")
    return {"ner": NER_IMAGE, "qa": QA_IMAGE, "qa-no-model": QA_NO_MODEL_IMAGE}


@pytest.fixture(scope="session")
def front_image(base_images: None) -> str:
    """Design 1's thin front function image (images/front/Dockerfile)."""
    build_image("images/front/Dockerfile", FRONT_IMAGE)
    return FRONT_IMAGE


@pytest.fixture(scope="session")
def stack(images: dict[str, str]) -> Iterator[Stack]:
    """docker-compose.yml with the test images, up once for the session, down afterwards.

    Only Design 2's services start here; tests/containers/test_design1.py adds Design 1's
    (profile design1, front door on DESIGN1_PORT) to the same project while it runs."""
    env = dict(os.environ)
    env.update(NER_IMAGE=NER_IMAGE, QA_IMAGE=QA_IMAGE, FRONT_IMAGE=FRONT_IMAGE)
    port, design1_port = free_port(), free_port()
    while design1_port == port:
        design1_port = free_port()
    env.update(PORT=str(port), DESIGN1_PORT=str(design1_port))
    stack = Stack(compose_command(), env, int(env["PORT"]), started_at=time.monotonic())
    stack.compose_run("down", "--remove-orphans", profile=DESIGN1_PROFILE)
    stack.compose_run("up", "-d", "--no-build")
    try:
        for name in ("ner", "qa"):
            wait_until_answering(stack, name)
            stack.first_answer_seconds[name] = time.monotonic() - stack.started_at
        yield stack
    except BaseException:
        print(stack.logs()[-20000:])
        raise
    finally:
        stack.compose_run("down", "--remove-orphans", profile=DESIGN1_PROFILE)


@pytest.fixture(scope="session")
def metrics() -> Iterator[dict[str, object]]:
    """Measurements the container tests record into tests/artifacts/images.json."""
    collected: dict[str, object] = {"project": PROJECT}
    yield collected
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "images.json").write_text(json.dumps(collected, indent=2) + "\n")
