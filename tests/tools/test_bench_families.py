"""The bench's model-family section: image-size arithmetic and the rendered table."""

from __future__ import annotations

from pathlib import Path

from bench import families
from bench.records import ModelPaths


def _files(root: Path, sizes: dict[str, int]) -> Path:
    for name, size in sizes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x" * size)
    return root


def test_image_size_swaps_the_baked_model_for_the_family_model(tmp_path: Path) -> None:
    baked = _files(tmp_path / "baked", {"model.params": 3_000_000, "int8/a.params": 1_000_000})
    family = _files(tmp_path / "family", {"model.params": 7_000_000, "tokenizer.json": 500_000})
    assert families.dir_bytes(baked) == 4_000_000
    assert families.estimated_image_mb(500_000_000, baked, family) == 503.5
    assert families.estimated_image_mb(None, baked, family) is None
    assert families.estimated_image_mb(500_000_000, tmp_path / "absent", family) is None


def test_albert_is_the_main_sections_model(tmp_path: Path) -> None:
    paths = ModelPaths(hf=tmp_path / "hf", qa=tmp_path / "qa", onnx=tmp_path / "x.onnx")
    assert families.prepare_family(tmp_path, "albert", paths) is paths


def test_section_renders_each_family_and_the_published_figures() -> None:
    row = families.FamilyRow(
        family="distilbert",
        layers=6,
        hidden=768,
        tokens_150w=210,
        fp32_ms=80.0,
        int8_ms=30.0,
        pipeline_ms=160.0,
        cold_s=1.2,
        init_s=0.9,
        pipeline_cold_s=2.5,
        model_mb=265.0,
        image_mb=720.0,
        cost_per_m=4.5,
        int8_cost_per_m=2.1,
    ).to_json()
    lines = families.section({"rows": [row], "errors": {"roberta": "could not be prepared"}})
    text = "\n".join(lines)
    assert (
        "| distilbert | 6 × 768 | 210 | 80 ms | 30 ms | 160 ms | 0.50x | 0.19x | 0.90 s | 1.20 s |"
        in text
    )
    assert "| 265 MB | 720 MB | $4.50 | $2.10 |" in text
    assert "- roberta: could not be prepared" in text
    for card in families.PUBLISHED.values():
        assert card["checkpoint"] in text and card["source"] in text
    assert "| not stated | 87.10 |" in text  # DistilBERT's card states F1 only
    assert families.section(None)[-2] == "Not measured in this run."
    assert "quick mode" in families.section({"skipped": "quick mode"})[-2]
