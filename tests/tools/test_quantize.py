"""INT8 quantization of a tiny random converted checkpoint: fidelity to fp32 and the load seam.

Bounds (documented in docs/performance.md): logits cosine >= 0.99 on held-out windows, and the
fp32 and INT8 answers agree (same span) on at least half of the held-out pairs. They hold on CPUs
with and without VNNI: this tiny random model measured cosine 0.9998 and 19/20 answers with VNNI,
but 0.9914 and 10/20 on an AVX2-only CPU, where oneDNN's int8 GEMM sums u8 x s8 pairs in int16
(vpmaddubsw) and saturates on large activations times large weights. Random weights give
near-uniform logits, so close calls flip; the trained model's accuracy is in
docs/int8-accuracy.md. A broken quantization (wrong scales, a swapped graph) lands far below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.errors import ModelLoadError

ROOT = Path(__file__).resolve().parents[2]
COSINE_BOUND = 0.99
AGREEMENT_BOUND = 0.5


@pytest.fixture(scope="module")
def quantized_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny converted checkpoint with its int8/ artefact, made through the CLI."""
    out = tmp_path_factory.mktemp("int8ckpt")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.checkpoints",
            "--out",
            str(out),
            "--size",
            "tiny",
            "--converted",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    model_dir = out / "model"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.quantize",
            "--model-dir",
            str(model_dir),
            "--calib-windows",
            "16",
            "--fidelity-pairs",
            "20",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return model_dir


def test_quantize_writes_artefact_and_fidelity_report(quantized_dir: Path) -> None:
    int8 = quantized_dir / "int8"
    assert (int8 / "padded-symbol.json").is_file()
    # Its weights are the model's own, read from model.params at load: no second copy.
    assert not (int8 / "padded-0000.params").exists()
    assert not (int8 / "unpadded-symbol.json").exists()  # one form: every window runs masked
    report = json.loads((int8 / "fidelity.json").read_text())
    assert report["logits"]["128"]["cosine"] >= COSINE_BOUND
    assert report["answers_agree"] >= AGREEMENT_BOUND * report["answers_total"]


def test_quantize_int8_logits_close_to_fp32_through_qamodel(quantized_dir: Path) -> None:
    from app.qa.model import QaModel
    from tools.quantize import _windows_at, calibration_pairs, cosine

    fp32 = QaModel.load(quantized_dir, precision="fp32", num_threads=2)
    int8 = QaModel.load(quantized_dir, precision="int8", num_threads=2)
    assert int8.int8_runner is not None
    data = _windows_at(quantized_dir, calibration_pairs(6, seed=99), 64)
    full = data["attention_mask"].all(axis=1)
    # A full batch of 1 and a padded batch (last column masked), both through the masked graph.
    one = {k: v[full][:1] for k, v in data.items()}
    padded = {k: v[:3].copy() for k, v in data.items()}
    padded["attention_mask"][-1, -5:] = 0
    for batch in (one, padded):
        ref = np.stack(
            fp32.forward(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
        )
        got = np.stack(
            int8.forward(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
        )
        valid = np.broadcast_to(batch["attention_mask"][None] != 0, ref.shape)
        assert got.shape == ref.shape and got.dtype == np.float32
        assert cosine(ref[valid], got[valid]) >= COSINE_BOUND


def test_quantize_answers_agree_with_fp32_through_service(quantized_dir: Path) -> None:
    from app.config import Settings
    from app.qa.service import QaService
    from tools.quantize import calibration_pairs

    services = {
        p: QaService.load(Settings(services=("qa",), qa_model_dir=quantized_dir, qa_precision=p))
        for p in ("fp32", "int8")
    }
    pairs = calibration_pairs(15, seed=7)
    same = 0
    for pair in pairs:
        a, b = (services[p].answer(pair.question, pair.context)[0] for p in ("fp32", "int8"))
        assert pair.context[b.start : b.end] == b.text
        same += int((a.start, a.length) == (b.start, b.length))
    assert same >= AGREEMENT_BOUND * len(pairs)


def test_quantize_missing_artefact_file_says_how_to_rebuild(
    quantized_dir: Path, tmp_path: Path
) -> None:
    from app.qa.int8 import load_int8

    broken = tmp_path / "int8"
    broken.mkdir()
    (broken / "padded-symbol.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="make quantize"):
        load_int8(broken)


def test_int8_artefact_with_its_own_weights_still_loads(
    quantized_dir: Path, tmp_path: Path
) -> None:
    """An artefact made before the quantizer dropped the copied weights holds its own
    padded-0000.params: it loads them, and answers as the shared-weight artefact does."""
    import shutil

    from app.qa.model import QaModel
    from app.qa.runtime import mxnet
    from tools.quantize import _windows_at, calibration_pairs

    older = tmp_path / "model"
    shutil.copytree(quantized_dir, older)
    shared = QaModel.load(quantized_dir, precision="int8", num_threads=2)
    weights = {f"arg:{name}": p.data() for name, p in shared.net.collect_params().items()}
    mxnet().nd.save(str(older / "int8" / "padded-0000.params"), weights)
    own = QaModel.load(older, precision="int8", num_threads=2)
    data = _windows_at(quantized_dir, calibration_pairs(3, seed=5), 64)
    batch = (data["input_ids"][:1], data["token_type_ids"][:1], data["attention_mask"][:1])
    np.testing.assert_array_equal(np.stack(own.forward(*batch)), np.stack(shared.forward(*batch)))


def test_int8_graph_reading_a_weight_the_model_lacks_says_how_to_rebuild(
    quantized_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from app.qa.model import QaModel

    other = tmp_path / "model"
    shutil.copytree(quantized_dir, other)
    symbol = other / "int8" / "padded-symbol.json"
    text = symbol.read_text()
    assert '"qanet_qa_outputs_weight"' in text
    symbol.write_text(text.replace('"qanet_qa_outputs_weight"', '"qanet_qa_outputs_renamed"'))
    with pytest.raises(ModelLoadError, match=r"weights the model lacks.*make quantize"):
        QaModel.load(other, precision="int8", num_threads=2)


def test_quantize_auto_precision_needs_the_artefacts_gate(quantized_dir: Path) -> None:
    """`make quantize` without a check set makes an artefact no gate judged: auto keeps fp32
    (tests/tools/test_int8_gate.py covers a gate that passed); int8 forces it, with a warning."""
    from app.qa.model import QaModel

    model = QaModel.load(quantized_dir, precision="auto", num_threads=2)
    assert model.precision == "fp32" and model.int8_runner is None
    assert "has no accuracy gate" in model.precision_reason
    forced = QaModel.load(quantized_dir, precision="int8", num_threads=2)
    assert forced.precision == "int8" and forced.int8_runner is not None
    assert forced.precision_warning and "has no accuracy gate" in forced.precision_warning


def test_fallback_kinds_are_tried_cheapest_first(tmp_path: Path) -> None:
    """The search keeps the first single kind that passes, so it tries them by cost on the
    model's own shape: ALBERT-base's FFN (I = 4H) costs more than its QKV, the tiny tests' less."""
    from tools.quantize import FALLBACK_GROUPS, FALLBACK_MACS, cheapest_first

    assert set(FALLBACK_MACS) == set(FALLBACK_GROUPS)

    def order(hidden: int, embedding: int, ffn: int, layers: int) -> list[str]:
        arch = {
            "hidden_size": hidden,
            "embedding_size": embedding,
            "intermediate_size": ffn,
            "num_hidden_layers": layers,
        }
        (tmp_path / "config.json").write_text(json.dumps({"architecture": arch}))
        return cheapest_first(tmp_path)

    base = order(768, 128, 3072, 12)
    assert base == ["qa_head", "embed_proj", "attn_out", "qkv", "ffn_in", "ffn_out"]
    assert order(32, 16, 64, 3).index("qkv") > order(32, 16, 64, 3).index("ffn_out")


def test_fallback_groups_skip_what_the_model_lacks(tmp_path: Path) -> None:
    """A model without an embedding projection (BERT, DistilBERT, RoBERTa) has no embed_proj to
    keep in fp32; a format-1 config (no flag) is ALBERT's, which has it."""
    from tools.quantize import cheapest_first

    arch = {
        "hidden_size": 768,
        "embedding_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "embedding_projection": False,
    }
    (tmp_path / "config.json").write_text(json.dumps({"architecture": arch}))
    assert cheapest_first(tmp_path) == ["qa_head", "attn_out", "qkv", "ffn_in", "ffn_out"]
    del arch["embedding_projection"]
    (tmp_path / "config.json").write_text(json.dumps({"architecture": arch}))
    assert "embed_proj" in cheapest_first(tmp_path)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
def test_fallback_groups_match_every_layers_nodes(shared: bool, tmp_path: Path) -> None:
    """Each kind's patterns match its Dense in every layer of the exported fp32 graph, whether
    one shared layer runs L times (ALBERT) or L layers have their own (BERT-shaped), and
    nothing else: what quantize_net_v2's exclude_layers_match is given."""
    from app.qa.model import _masked_graph, build_net
    from app.qa.modeldir import Architecture
    from app.qa.runtime import mxnet
    from tools.quantize import FALLBACK_GROUPS

    mx = mxnet()
    layers = 3
    arch = Architecture(
        vocab_size=50,
        embedding_size=8 if shared else 16,
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_act="gelu_new" if shared else "gelu",
        max_position_embeddings=40,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        embedding_projection=shared,
        shared_layers=shared,
        position_offset=0 if shared else 2,
    )
    net = build_net(arch)
    net.initialize()
    graph = _masked_graph(net)
    ones = mx.nd.ones((1, 6))
    graph(ones, ones * 0, ones)
    graph.export(str(tmp_path / "g"), epoch=0)
    nodes = json.loads((tmp_path / "g-symbol.json").read_text())["nodes"]
    dense = [n["name"] for n in nodes if n["op"] == "FullyConnected"]
    matched: dict[str, list[str]] = {
        group: [n for n in dense if any(p in n for p in patterns)]
        for group, patterns in FALLBACK_GROUPS.items()
    }
    expected = {
        "qa_head": 1,
        "embed_proj": 1 if shared else 0,
        **{group: layers for group in ("attn_out", "qkv", "ffn_in", "ffn_out")},
    }
    assert {group: len(names) for group, names in matched.items()} == expected
    # Every Dense belongs to exactly one kind; unshared layers' nodes are distinct per layer.
    assert sorted(n for names in matched.values() for n in names) == sorted(dense)
    if not shared:
        assert len(set(matched["qkv"])) == layers
