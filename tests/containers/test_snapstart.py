"""Issue 10: both images opt in to SnapStart with the label (no restore hooks are needed)."""

from __future__ import annotations

import json

import pytest

from tests.containers.harness import run

LABEL = "com.amazonaws.lambda.feature.snapstart"


@pytest.mark.parametrize("name", ["ner", "qa"])
def test_snapstart_label_on_built_image(images: dict[str, str], name: str) -> None:
    out = run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", images[name]])
    labels = json.loads(out.stdout) or {}
    assert labels.get(LABEL) == "Allow", labels
