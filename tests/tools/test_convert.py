"""The HF -> model dir converter: weight layout, checkpoint formats, the CLI and its failures."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.qa.model import QaModel
from app.qa.modeldir import QaConfig
from tools.convert import ConversionError, architecture_from_hf, interleave_qkv, map_weights

ROOT = Path(__file__).parents[2]
# A loopback port nothing listens on: the hub is "unreachable" in a second, on any machine.
UNREACHABLE_HUB = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "5"}


def _run(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def _convert_cli(
    source: str | Path, out: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``python -m tools.convert --from-hf SOURCE --out OUT`` in a fresh process."""
    cmd = [sys.executable, "-m", "tools.convert", "--from-hf", str(source), "--out", str(out)]
    return _run(cmd, env=env, timeout=timeout)


def test_convert_interleave_qkv_puts_heads_together() -> None:
    heads, head_dim, cols = 3, 2, 4
    hidden = heads * head_dim
    q, k, v = (np.full((hidden, cols), 0.0) for _ in range(3))
    for row in range(hidden):
        q[row], k[row], v[row] = 100 + row, 200 + row, 300 + row
    out = interleave_qkv(q, k, v, heads)
    assert out.shape == (3 * hidden, cols)
    expected = [
        100,
        101,
        200,
        201,
        300,
        301,
        102,
        103,
        202,
        203,
        302,
        303,
        104,
        105,
        204,
        205,
        304,
        305,
    ]
    assert out[:, 0].tolist() == expected
    bias = interleave_qkv(q[:, 0], k[:, 0], v[:, 0], heads)
    assert bias.tolist() == expected


def test_convert_rejects_unsupported_architectures() -> None:
    base = json.loads(
        '{"model_type": "albert", "vocab_size": 10, "embedding_size": 4, "hidden_size": 8,'
        ' "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,'
        ' "max_position_embeddings": 16}'
    )
    assert architecture_from_hf(base).hidden_act == "gelu_new"
    with pytest.raises(ConversionError, match="num_hidden_groups=2"):
        architecture_from_hf({**base, "num_hidden_groups": 2})
    with pytest.raises(ConversionError, match="inner_group_num=2"):
        architecture_from_hf({**base, "inner_group_num": 2})
    with pytest.raises(ConversionError, match="hidden_act 'swish'"):
        architecture_from_hf({**base, "hidden_act": "swish"})
    with pytest.raises(ConversionError, match=r"'gpt2' is not supported.*albert, bert, distilbert"):
        architecture_from_hf({**base, "model_type": "gpt2"})
    # The same numbers as a BERT config: no projection, layers of their own.
    bert = architecture_from_hf({**base, "model_type": "bert", "hidden_size": 4})
    assert (bert.embedding_size, bert.embedding_projection, bert.shared_layers) == (4, False, False)
    assert bert.hidden_act == "gelu"
    with pytest.raises(ConversionError, match="position_embedding_type 'relative_key'"):
        architecture_from_hf(
            {**base, "model_type": "bert", "position_embedding_type": "relative_key"}
        )
    distil = {"model_type": "distilbert", "vocab_size": 10, "dim": 8, "n_layers": 2, "n_heads": 2}
    with pytest.raises(ConversionError, match="lacks 'hidden_dim'"):
        architecture_from_hf(distil)
    arch = architecture_from_hf({**distil, "hidden_dim": 16, "max_position_embeddings": 16})
    assert (arch.type_vocab_size, arch.layer_norm_eps, arch.num_hidden_layers) == (1, 1e-12, 2)
    roberta = {**base, "model_type": "roberta", "hidden_size": 4, "max_position_embeddings": 18}
    assert architecture_from_hf(roberta).position_offset == 2
    assert architecture_from_hf(roberta).max_tokens == 16
    with pytest.raises(ConversionError, match="lacks 'hidden_size'"):
        architecture_from_hf({k: v for k, v in base.items() if k != "hidden_size"})


def test_convert_names_missing_and_unknown_weights(tiny_hf_dir: Path) -> None:
    from safetensors.numpy import load_file

    tensors = load_file(str(tiny_hf_dir / "model.safetensors"))
    arch = architecture_from_hf(json.loads((tiny_hf_dir / "config.json").read_text()))
    partial = {k: v for k, v in tensors.items() if not k.startswith("qa_outputs")}
    with pytest.raises(ConversionError, match="AlbertForQuestionAnswering"):
        map_weights(partial, arch)
    extra = {**tensors, "albert.encoder.albert_layer_groups.1.ffn.weight": np.zeros(1)}
    with pytest.raises(ConversionError, match="does not use"):
        map_weights(extra, arch)
    with_pooler = {**tensors, "albert.pooler.weight": np.zeros(1)}
    assert set(map_weights(with_pooler, arch)) == set(map_weights(tensors, arch))


def test_convert_safetensors_cli_never_imports_torch(tiny_hf_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    code = (
        "import sys\n"
        "from tools.convert import main\n"
        f"rc = main(['--from-hf', {str(tiny_hf_dir)!r}, '--out', {str(out)!r}])\n"
        "assert rc == 0, rc\n"
        "assert 'torch' not in sys.modules, 'the safetensors path imported torch'\n"
        "assert 'transformers' not in sys.modules\n"
    )
    done = _run([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert "checking that the converted model loads" in done.stdout
    config = QaConfig.load(out)
    assert config.source["kind"] == "local"
    assert (out / "spiece.model").read_bytes() == (tiny_hf_dir / "spiece.model").read_bytes()
    assert not (out / "tokenizer.json").exists()
    doc = json.loads((out / "config.json").read_text())
    assert (doc["format_version"], doc["family"]) == (2, "albert")
    assert doc["params_sha256"] == hashlib.sha256((out / "model.params").read_bytes()).hexdigest()
    arch = config.architecture
    assert (arch.embedding_projection, arch.shared_layers, arch.position_offset) == (True, True, 0)


def test_convert_reads_tokenizer_config(tiny_hf_dir: Path, tmp_path: Path) -> None:
    from tools.convert import convert

    src = tmp_path / "hf"
    shutil.copytree(tiny_hf_dir, src)
    tc = json.loads((src / "tokenizer_config.json").read_text())
    tc.update(do_lower_case=False, keep_accents=True)
    (src / "tokenizer_config.json").write_text(json.dumps(tc))
    config = convert(str(src), tmp_path / "model")
    assert config.tokenizer.do_lower_case is False
    assert config.tokenizer.keep_accents is True
    assert (config.tokenizer.cls_token_id, config.tokenizer.sep_token_id) == (2, 3)
    assert (config.tokenizer.pad_token_id, config.tokenizer.unk_token_id) == (0, 1)


def test_convert_pytorch_bin_without_torch_says_install_torch(
    tiny_hf_dir: Path, tmp_path: Path
) -> None:
    src = tmp_path / "hf"
    shutil.copytree(tiny_hf_dir, src)
    (src / "model.safetensors").rename(src / "pytorch_model.bin")
    # Simulate a machine without torch: a None entry makes `import torch` raise ImportError.
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from tools.convert import main\n"
        f"sys.exit(main(['--from-hf', {str(src)!r}, '--out', {str(tmp_path / 'out')!r}]))\n"
    )
    done = _run([sys.executable, "-c", code])
    assert done.returncode == 1
    assert "torch is not installed" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parity
def test_convert_pytorch_bin_matches_safetensors(
    tiny_hf_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    from tools.convert import convert

    src = tmp_path / "hf"
    shutil.copytree(tiny_hf_dir, src)
    torch.save(load_file(str(src / "model.safetensors")), src / "pytorch_model.bin")
    (src / "model.safetensors").unlink()
    convert(str(src), tmp_path / "model")
    ids = np.arange(5, 45).reshape(2, 20)
    args = (ids, np.zeros_like(ids), np.ones_like(ids))
    a = QaModel.load(tmp_path / "model").forward(*args)
    b = QaModel.load(tiny_model_dir).forward(*args)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nonexistent/checkpoint", "neither a checkpoint directory nor a hub repo id"),
        ("not a repo id", "neither a checkpoint directory nor a hub repo id"),
    ],
)
def test_convert_cli_bad_source_is_one_clean_line(
    source: str, message: str, tmp_path: Path
) -> None:
    done = _convert_cli(source, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert "Traceback" not in done.stderr


def test_convert_cli_incomplete_checkpoint_dir(tiny_hf_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "hf"
    shutil.copytree(tiny_hf_dir, src)
    (src / "spiece.model").unlink()
    done = _convert_cli(src, tmp_path / "o")
    assert done.returncode == 1 and "has no spiece.model" in done.stderr
    (src / "model.safetensors").unlink()
    shutil.copyfile(tiny_hf_dir / "spiece.model", src / "spiece.model")
    done = _convert_cli(src, tmp_path / "o")
    assert done.returncode == 1 and "neither model.safetensors nor pytorch_model.bin" in done.stderr


@pytest.mark.parametrize(
    "env", [UNREACHABLE_HUB, {"HF_HUB_OFFLINE": "1"}], ids=["unreachable", "offline"]
)
def test_convert_cli_hub_unreachable_fails_fast_and_clean(
    env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "HF_HOME": str(tmp_path / "hf-home")}
    started = time.monotonic()
    done = _convert_cli("twmkn9/albert-base-v2-squad2", tmp_path / "qa", env=env, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "cannot download twmkn9/albert-base-v2-squad2" in errors[0]
    assert "--from-hf" in errors[0]
    assert not (tmp_path / "qa").exists()
    # A guard against retry loops (minutes), not a speed target.
    assert elapsed < 60


def test_convert_make_models_fails_clean_without_hub(tmp_path: Path) -> None:
    env = {**UNREACHABLE_HUB, "HF_HOME": str(tmp_path / "hf-home")}
    done = _run(
        [
            "make",
            "--no-print-directory",
            f"PY={sys.executable}",
            f"MODELS_DIR={tmp_path}",
            "models",
        ],
        env=env,
    )
    assert done.returncode != 0
    assert "cannot download twmkn9/albert-base-v2-squad2" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "qa" / "config.json").exists()


def test_convert_make_models_random_builds_a_loadable_dir(tmp_path: Path) -> None:
    out = tmp_path / "random"
    done = _run(
        [
            "make",
            "--no-print-directory",
            f"PY={sys.executable}",
            f"RANDOM_QA_OUT={out}",
            "models-random",
        ]
    )
    assert done.returncode == 0, done.stderr
    assert f"model dir: {out / 'model'}" in done.stdout
    model = QaModel.load(out / "model")
    assert model.config.architecture.hidden_size == 32
    assert (out / "hf" / "model.safetensors").is_file()
    assert (out / "hf" / "tokenizer.json").is_file()
