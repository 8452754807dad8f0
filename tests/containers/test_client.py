"""tools.client, unsigned, against the compose front door (the local stand-in for function URLs)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.containers.harness import ROOT, Stack

TEXT = "Ada Lovelace was born in London in 1815."


def run_client(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}  # no AWS settings: auto auth must not sign
    return subprocess.run(
        [sys.executable, "-m", "tools.client", *args, "--url", stack.url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_client_ner_through_front_door(stack: Stack) -> None:
    result = run_client(stack, "ner", TEXT)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    entities = {(e["text"], e["label"]) for e in answer["entities"]}
    assert ("Ada Lovelace", "PERSON") in entities
    assert ("London", "GPE") in entities
    for entity in answer["entities"]:
        assert TEXT[entity["start"] : entity["end"]] == entity["text"]


def test_client_qa_through_front_door(stack: Stack) -> None:
    # The test stack's QA model is a random tiny checkpoint: check the shape, not the answer.
    question = "Where was Ada Lovelace born?"
    result = run_client(stack, "qa", "--question", question, "--context", TEXT, "--top-k", "2")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert 1 <= len(answer["answers"]) <= 2
    for item in answer["answers"]:
        assert TEXT[item["start"] : item["start"] + item["length"]] == item["text"]


def test_client_prints_front_door_error_message(stack: Stack) -> None:
    result = run_client(stack, "ner", "x" * 100_001)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "HTTP 413" in result.stderr
    assert "payload_too_large: The text has 100001 characters" in result.stderr
    assert "NER_MAX_TEXT_CHARS" in result.stderr
    assert "Traceback" not in result.stderr
