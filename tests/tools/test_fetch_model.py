"""The QA model step of `make run` (tools/fetch_model.py, `make models-auto`): offline it prints one
line and lets the stack start; with a checkpoint it can reach it converts it (and adds INT8 when the
image's default precision needs it); `make models` stays the loud version.

"Offline" is made deterministic by pointing HF_ENDPOINT at a closed local port; "online" uses a
local HTTP server for the probe and a local checkpoint directory for the conversion (the real hub
is not reachable from these machines)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools import fetch_model

ROOT = Path(__file__).resolve().parents[2]

CHECKPOINT = "twmkn9/albert-base-v2-squad2"  # QA_CHECKPOINT's default in mk/models.mk
CLOSED_HUB = "http://127.0.0.1:9"  # the discard port: nothing listens, connect is refused


def offline_env(tmp_path: Path) -> dict[str, str]:
    """os.environ with the hub at a closed port and a private, empty Hugging Face cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=CLOSED_HUB, HF_HOME=str(tmp_path / "hf-home"))
    return env


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args, f"PY={sys.executable}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_make_models_auto_offline_prints_one_line_and_fetches_nothing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    started = time.monotonic()
    result = make("models-auto", f"MODELS_DIR={models}", env=offline_env(tmp_path))
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(f"==> QA model: cannot fetch {CHECKPOINT} (127.0.0.1:9: ")
    assert "starting without a QA model" in lines[0]
    assert result.stderr == ""
    # It neither downloaded nor converted: no model, no temporary directory, no hub cache.
    assert not models.exists()
    assert not (tmp_path / "hf-home").exists()
    assert elapsed < 10, f"the offline probe took {elapsed:.1f}s"


def test_make_models_offline_fails_loudly(tmp_path: Path) -> None:
    models = tmp_path / "models"
    result = make("models", f"MODELS_DIR={models}", env=offline_env(tmp_path))
    assert result.returncode != 0
    assert f"error: cannot download {CHECKPOINT} from the Hugging Face hub" in result.stderr
    assert f"make models: could not build {models}/qa from {CHECKPOINT}" in result.stderr
    assert "make models-random" in result.stderr
    assert not models.exists()


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random transformers ALBERT QA checkpoint (tests/qa/checkpoints.py)."""
    from tools.checkpoints import SIZES, build_hf_checkpoint

    return build_hf_checkpoint(tmp_path_factory.mktemp("ckpt") / "hf", SIZES["tiny"])


def test_make_models_auto_converts_a_reachable_checkpoint(
    tmp_path: Path, hf_checkpoint: Path
) -> None:
    """The online branch, from a local checkpoint: convert, INT8 as the default precision asks,
    then the model is in place and a second run does nothing."""
    models = tmp_path / "models"
    env = offline_env(tmp_path)  # the hub stays unreachable: only the local directory is used
    result = make("models-auto", f"MODELS_DIR={models}", f"QA_CHECKPOINT={hf_checkpoint}", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fetching it (once; `make models` alone does the same)" in result.stdout
    assert f"==> QA model ready: {models}/qa" in result.stdout
    assert sorted(p.name for p in models.iterdir()) == ["qa"]  # qa.tmp was renamed
    assert (models / "qa" / "config.json").is_file()
    wants_int8 = fetch_model.needs_int8(fetch_model.default_precision())
    assert (models / "qa" / "int8" / "padded-symbol.json").is_file() == wants_int8

    again = make("models-auto", f"MODELS_DIR={models}", f"QA_CHECKPOINT={hf_checkpoint}", env=env)
    assert again.returncode == 0 and again.stdout == "" and again.stderr == ""


def test_int8_step_rebuilds_an_incomplete_artefact(tmp_path: Path, hf_checkpoint: Path) -> None:
    """An int8/ from another quantizer (other files) is rebuilt, not baked into a 503."""
    model_dir = tmp_path / "qa"
    assert fetch_model.fetch(str(hf_checkpoint), model_dir, "fp32")
    assert not (model_dir / "int8").exists()  # fp32 needs none
    stale = model_dir / "int8" / "old-format-symbol.json"
    stale.parent.mkdir()
    stale.write_text("{}")
    assert fetch_model.int8_missing(model_dir / "int8")
    assert fetch_model.main(["int8", str(model_dir), "--precision", "int8"]) == 0
    assert fetch_model.int8_missing(model_dir / "int8") == []
    assert not stale.exists()
    assert (model_dir / "int8" / "fidelity.json").is_file()


def test_fetch_failure_leaves_no_model_directory(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-checkpoint"
    empty.mkdir()
    out = tmp_path / "models" / "qa"
    assert fetch_model.main(["fetch", str(empty), "--out", str(out), "--precision", "fp32"]) == 1
    assert not out.exists() and not out.with_name("qa.tmp").exists()


def test_int8_step_follows_the_precision(tmp_path: Path) -> None:
    assert fetch_model.needs_int8("int8") and fetch_model.needs_int8("auto")
    assert not fetch_model.needs_int8("fp32")
    # fp32 needs no artefact: nothing is run, even on a directory that could not be quantized.
    assert fetch_model.add_int8(tmp_path, "fp32") is True
    assert not (tmp_path / "int8").exists()
    # A directory without config.json is refused before anything runs.
    assert fetch_model.main(["int8", str(tmp_path), "--precision", "int8"]) == 1


def test_default_precision_is_the_settings_default() -> None:
    from app.config import Settings

    assert fetch_model.default_precision() == Settings.model_fields["qa_precision"].default


class _Hub(BaseHTTPRequestHandler):
    status = 200
    paths: list[str]

    def do_HEAD(self) -> None:
        self.paths.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Hub]]:
    """A local 'hub' answering HEAD with ``handler.status``; HF_ENDPOINT points at it."""
    handler = type("Hub", (_Hub,), {"paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_probe_asks_for_the_checkpoint_config(local_hub: type[_Hub]) -> None:
    assert fetch_model.probe(CHECKPOINT) is None
    assert local_hub.paths == [f"/{CHECKPOINT}/resolve/main/config.json"]


def test_probe_reports_an_http_error(local_hub: type[_Hub]) -> None:
    local_hub.status = 404
    why = fetch_model.probe(CHECKPOINT)
    assert why is not None and "it answered HTTP 404" in why


def test_probe_honours_hf_hub_offline(
    local_hub: type[_Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fetch_model.probe(CHECKPOINT) == "HF_HUB_OFFLINE is set"
    assert local_hub.paths == []


def test_probe_gives_up_on_a_silent_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts connections but never answers: the probe stops at its timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads or writes
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        why = fetch_model.probe(CHECKPOINT, timeout=0.5)
    assert why is not None and "no answer" in why


def test_probe_accepts_a_local_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", CLOSED_HUB)
    assert fetch_model.probe(str(tmp_path)) is None


def test_hub_checkpoints_are_gated_on_the_squad_version_they_were_trained_for() -> None:
    assert fetch_model.check_set_for("twmkn9/albert-base-v2-squad2") == "squad_v2"
    assert fetch_model.check_set_for("deepset/roberta-base-squad_v2") == "squad_v2"
    assert fetch_model.check_set_for("distilbert-base-cased-distilled-squad") == "squad"


def test_int8_step_without_a_usable_check_set_makes_an_ungated_artefact(
    tmp_path: Path, hf_checkpoint: Path
) -> None:
    """The gate cannot run (its check set is missing): the artefact is still made, without a
    gate.json, so QA_PRECISION=auto serves fp32 and says why; a gated rerun adds the gate."""
    model_dir = tmp_path / "qa"
    assert fetch_model.fetch(str(hf_checkpoint), model_dir, "fp32")
    missing = str(tmp_path / "no-such-squad.json")
    assert fetch_model.add_int8(model_dir, "auto", missing) is True
    assert fetch_model.int8_missing(model_dir / "int8") == []
    assert not (model_dir / "int8" / "gate.json").exists()
    from app.qa.model import QaModel

    model = QaModel.load(model_dir, precision="auto", num_threads=1)
    assert model.precision == "fp32" and "has no accuracy gate" in model.precision_reason
