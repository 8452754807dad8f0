"""`make models`, `make run`'s model step and the converter against a hub on 127.0.0.1 (the
stand-in, tests/hub_standin.py): the online first run without the internet, and a hub that
accepts connections and never answers, which must cost a bounded wait and a clear message.

The real parts run: huggingface_hub's client, tools.convert, tools.fetch_model, make, MXNet.
Each command runs in a subprocess with a timeout, so a regression that hangs fails the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub_standin import HubStandin
from tools import fetch_model

ROOT = Path(__file__).resolve().parents[2]
REPO = "lambda-nlp-test/albert-tiny-qa"
#: What a hung hub may cost `fetch` / `make models` (the client's 10 s timeout, plus start-up).
HUNG_BOUND = 60.0
#: What it may cost `make models-auto`, the first step of `make run` (the probe's 3 s + 1 s).
PROBE_BOUND = 10.0


@pytest.fixture(scope="module")
def hub(tiny_hf_dir: Path) -> Iterator[HubStandin]:
    """The stand-in serving the tiny random checkpoint as REPO."""
    with HubStandin() as standin:
        standin.add_repo(REPO, tiny_hf_dir)
        yield standin


@pytest.fixture
def hung_hub() -> Iterator[HubStandin]:
    with HubStandin(hang=True) as standin:
        yield standin


def hub_env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    """os.environ with HF_ENDPOINT at ``endpoint``, a private empty cache, no other HF_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf-home"))
    return env


def run(
    cmd: list[str], env: dict[str, str], timeout: float = 300, cwd: Path = ROOT
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cmd`` in ``cwd``; on timeout its whole process group (make's children too) is
    killed, so nothing it started keeps running."""
    started = time.monotonic()
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    done = subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)
    return done, time.monotonic() - started


def make(
    *args: str, env: dict[str, str], timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], float]:
    return run(["make", "--no-print-directory", *args, f"PY={sys.executable}"], env, timeout)


@pytest.fixture
def probe_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_convert_by_repo_id_makes_the_model_of_the_local_checkpoint(
    hub: HubStandin, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """`python -m tools.convert --from-hf REPO` downloads through the hub's API and writes the
    same model directory as converting the checkpoint's own directory; only the provenance
    differs."""
    out = tmp_path / "qa"
    cmd = [sys.executable, "-m", "tools.convert", "--from-hf", REPO, "--out", str(out)]
    done, _ = run(cmd, hub_env(hub.endpoint, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"downloading {REPO} from the Hugging Face hub at {hub.endpoint}" in done.stdout
    assert "Fetching 6 files: 100%" in done.stderr  # huggingface_hub's progress bar
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in tiny_model_dir.iterdir())
    for name in ("model.params", "spiece.model"):
        assert (out / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
    ours = json.loads((out / "config.json").read_text())
    local = json.loads((tiny_model_dir / "config.json").read_text())
    assert ours.pop("source") == {
        "kind": "huggingface_hub",
        "repo_id": REPO,
        "converted_by": "tools.convert",
    }
    assert local.pop("source")["kind"] == "local"
    assert ours == local
    # It went through the file API: the listing, then every file at the listed commit.
    sha = hub.repos[("model", REPO)].sha
    assert ("GET", f"/api/models/{REPO}/revision/main") in hub.requests
    assert ("HEAD", f"/{REPO}/resolve/{sha}/model.safetensors") in hub.requests
    # The cache holds only what the converter asked for (no .gitattributes).
    snapshot = tmp_path / "hf-home" / "hub" / "models--lambda-nlp-test--albert-tiny-qa"
    assert ".gitattributes" not in {p.name for p in (snapshot / "snapshots" / sha).iterdir()}


def test_probe_finds_the_checkpoint_on_the_hub(
    hub: HubStandin,
    probe_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    before = len(hub.requests)
    assert fetch_model.main(["probe", REPO]) == 0
    assert capsys.readouterr().out == ""
    # One HEAD: the hub's answer, a redirect to its resolve-cache URL, is not followed (urllib
    # would follow it with a GET of the file).
    assert hub.requests[before:] == [("HEAD", f"/{REPO}/resolve/main/config.json")]


def test_probe_of_an_unknown_repo_is_one_line_and_exit_3(
    hub: HubStandin,
    probe_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    assert fetch_model.main(["probe", "nobody/nothing"]) == fetch_model.UNREACHABLE == 3
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"==> QA model: cannot fetch nobody/nothing (127.0.0.1:{hub.port}: it answered HTTP 404 ("
    )
    assert lines[0].endswith(fetch_model.OFFLINE_NEXT)


def test_probe_of_a_hung_hub_returns_within_its_bound(
    hung_hub: HubStandin,
    probe_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hung_hub.endpoint)
    started = time.monotonic()
    assert fetch_model.main(["probe", REPO]) == fetch_model.UNREACHABLE
    elapsed = time.monotonic() - started
    assert elapsed < fetch_model.PROBE_TIMEOUT + 1.5, elapsed
    assert hung_hub.held >= 1  # it did connect: the hub accepted and said nothing
    (line,) = capsys.readouterr().out.splitlines()
    assert f"cannot fetch {REPO} (127.0.0.1:{hung_hub.port}: no answer" in line


def test_fetch_from_a_hung_hub_fails_within_a_bound_saying_what_to_do(
    hung_hub: HubStandin, tmp_path: Path
) -> None:
    """The listing that snapshot_download starts with used to wait forever on such a hub."""
    out = tmp_path / "models" / "qa"
    cmd = [sys.executable, "-m", "tools.fetch_model", "fetch", REPO, "--out", str(out)]
    done, elapsed = run(cmd, hub_env(hung_hub.endpoint, tmp_path), timeout=2 * HUNG_BOUND)
    assert done.returncode == 1
    assert elapsed < HUNG_BOUND, elapsed
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: cannot download {REPO} from the Hugging Face hub at {hung_hub.endpoint} "
        "(no answer in 10 s). Check the repo id and network access to the hub (HF_ENDPOINT), "
        "or download the checkpoint elsewhere and pass its directory to --from-hf "
        "(make models QA_CHECKPOINT=DIR)."
    ], done.stderr
    assert "Traceback" not in done.stderr
    assert not out.parent.exists() or sorted(out.parent.iterdir()) == []
    assert hung_hub.held >= 1


def test_make_models_against_a_hung_hub_fails_with_its_message_within_a_bound(
    hung_hub: HubStandin, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    env = hub_env(hung_hub.endpoint, tmp_path)
    done, elapsed = make(
        "models", f"MODELS_DIR={models}", f"QA_CHECKPOINT={REPO}", env=env, timeout=2 * HUNG_BOUND
    )
    assert done.returncode != 0
    assert elapsed < HUNG_BOUND, elapsed
    assert (
        f"error: cannot download {REPO} from the Hugging Face hub at {hung_hub.endpoint} (no answer in 10 s)"
        in done.stderr
    )
    assert (
        f"make models: could not build {models}/qa from {REPO} (see the error above)."
        in done.stderr
    )
    assert "make models QA_CHECKPOINT=DIR" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (models / "qa").exists() and not (models / "qa.tmp").exists()


def test_make_models_auto_against_a_hung_hub_starts_without_a_model_within_a_bound(
    hung_hub: HubStandin, tmp_path: Path
) -> None:
    """`make run`'s first step: one line after the probe's bound, then the stack would start."""
    models = tmp_path / "models"
    env = hub_env(hung_hub.endpoint, tmp_path)
    done, elapsed = make(
        "models-auto", f"MODELS_DIR={models}", f"QA_CHECKPOINT={REPO}", env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert elapsed < PROBE_BOUND, elapsed
    (line,) = done.stdout.splitlines()
    assert line.startswith(
        f"==> QA model: cannot fetch {REPO} (127.0.0.1:{hung_hub.port}: no answer"
    )
    assert line.endswith(fetch_model.OFFLINE_NEXT)
    assert done.stderr == ""
    assert not models.exists()


def test_make_models_auto_fetches_from_a_reachable_hub(hub: HubStandin, tmp_path: Path) -> None:
    """The online branch of `make run`'s first step, from the hub's API: probe, download,
    conversion and (when the default precision needs it) the INT8 artefact, then models/qa."""
    models = tmp_path / "models"
    env = hub_env(hub.endpoint, tmp_path)
    done, _ = make("models-auto", f"MODELS_DIR={models}", f"QA_CHECKPOINT={REPO}", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    steps = [
        f"==> QA model: {REPO} is available; fetching it",
        f"==> QA model: converting {REPO} into {models}/qa",
        f"downloading {REPO} from the Hugging Face hub at {hub.endpoint}",
        "checking that the converted model loads and runs",
        f"==> QA model ready: {models}/qa",
    ]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), out
    assert "Fetching 6 files: 100%" in done.stderr
    wants_int8 = fetch_model.needs_int8(fetch_model.default_precision())
    assert ("building the INT8 artefact" in out) == wants_int8
    assert (models / "qa" / "int8" / "padded-symbol.json").is_file() == wants_int8
    source = json.loads((models / "qa" / "config.json").read_text())["source"]
    assert source["repo_id"] == REPO
