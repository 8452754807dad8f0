"""QaService answers equal transformers' question-answering pipeline on the same checkpoint,
for every model family: ALBERT, BERT cased and uncased, DistilBERT and RoBERTa.

The random checkpoint's QA head is scaled up so that logits are well separated (a random head
gives near-uniform scores whose order flips on rounding). Pipeline answers are compared after
trimming surrounding whitespace, which the service does and the pipeline does not
(docs/qa-text.md): same text, same start, scores within 1e-4.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.qa.decode import Answer
from app.qa.service import QaService
from tools.checkpoints import FAMILY_SIZES, build_hf_checkpoint

pytestmark = pytest.mark.parity

HEAD_SCALE = 20.0
TOLERANCE = 1e-4
#: name -> (family, lowercase): one checkpoint per family, BERT cased and uncased.
CHECKPOINTS = {
    "albert": ("albert", False),
    "bert-cased": ("bert", False),
    "bert-uncased": ("bert", True),
    "distilbert": ("distilbert", False),
    "roberta": ("roberta", False),
}


def scale_head(checkpoint: Path) -> None:
    """Multiply the QA head by HEAD_SCALE, in place (any family: all name it qa_outputs)."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(checkpoint))
    with torch.no_grad():
        model.qa_outputs.weight.mul_(HEAD_SCALE)
    model.save_pretrained(str(checkpoint), safe_serialization=True)


@pytest.fixture(scope="module", params=list(CHECKPOINTS))
def separated_hf_dir(
    request: pytest.FixtureRequest, qa_spiece: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    family, lowercase = CHECKPOINTS[request.param]
    out = build_hf_checkpoint(
        tmp_path_factory.mktemp(f"hf-separated-{request.param}"),
        FAMILY_SIZES[family]["tiny"],
        family=family,
        spiece=qa_spiece if family == "albert" else None,
        lowercase=lowercase,
        seed=1,
    )
    scale_head(out)
    return out


@pytest.fixture(scope="module")
def service(separated_hf_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> QaService:
    from tools.convert import convert

    model_dir = tmp_path_factory.mktemp("model-separated")
    convert(str(separated_hf_dir), model_dir)
    return QaService.load(Settings(services=("qa",), qa_model_dir=model_dir, num_threads=1))


@pytest.fixture(scope="module")
def reference(separated_hf_dir: Path) -> Any:
    from transformers import pipeline

    return pipeline(
        "question-answering", model=str(separated_hf_dir), tokenizer=str(separated_hf_dir)
    )


def _trimmed(answer: dict[str, Any]) -> tuple[str, int, float]:
    text = answer["answer"]
    start = answer["start"] + len(text) - len(text.lstrip())
    text = text.strip()
    return text, (start if text else 0), float(answer["score"])


def _assert_same(ours: list[Answer], expected: list[tuple[str, int, float]]) -> None:
    assert len(ours) == len(expected)
    boundary = expected[-1][2]
    # Trimmed, two spans may read the same ("1815 ." and "1815 .  " with RoBERTa's space
    # tokens): each key keeps every score it has.
    by_key: dict[tuple[str, int], list[float]] = {}
    for text, start, score in expected:
        by_key.setdefault((text, start), []).append(score)
    for rank, answer in enumerate(ours):
        assert answer.score == pytest.approx(expected[rank][2], abs=TOLERANCE)
        key = (answer.text, answer.start)
        if key in by_key:
            assert any(abs(answer.score - score) <= TOLERANCE for score in by_key[key]), (
                key,
                by_key[key],
            )
        else:
            # Only a near-tie at the cut-off may be swapped for another answer.
            assert abs(answer.score - boundary) < TOLERANCE, (key, expected)


WORDS = [
    "the",
    "of",
    "café",
    "東京",
    "tokyo",
    "question",
    "answer",
    "in",
    "1234",
    "naïve",
    "paris",
    "''quoted''",
    "``x``",
    "😀",
    "İstanbul",
    "river",
    "north",
    "1815",
    "london",
    "ada",
    "lovelace",
    "babbage",
    "engine",
]


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    rng = random.Random(7)
    cases = [
        (
            "Where was Ada Lovelace born?",
            "Ada Lovelace was born in London in 1815. She worked with Charles Babbage on the "
            "Analytical Engine.",
            {},
        ),
        ("Quién?", "Dvořák vivió en Praga; «Ångström» y naïve café.\r\nTab\there.", {"top_k": 3}),
        (
            "  where   was\tshe born?",
            "Ada   Lovelace\t\twas born \n\n in  London , 東京 and Paris 😀 in 1815 .  ",
            {"top_k": 5, "max_answer_len": 4},
        ),
    ]
    for i in range(14):
        n_words = rng.choice([30, 120, 400, 900])  # 400+ words need several windows
        context = " ".join(rng.choice(WORDS) for _ in range(n_words))
        question = f"where is the {rng.choice(WORDS)}?"
        options = {
            "top_k": rng.choice([1, 3, 5]),
            "max_answer_len": rng.choice([3, 15, 30]),
            "doc_stride": rng.choice([32, 64, 128]),
            "handle_impossible_answer": i % 3 == 0,
            "align_to_words": i % 4 != 1,
        }
        cases.append((question, context, options))
    return cases


@pytest.mark.parametrize(("question", "context", "options"), _cases())
def test_pipeline_parity_answers_match_transformers(
    service: QaService, reference: Any, question: str, context: str, options: dict[str, Any]
) -> None:
    expected = reference(question=question, context=context, **options)
    expected = expected if isinstance(expected, list) else [expected]
    ours = service.answer(
        question,
        context,
        top_k=options.get("top_k", 1),
        max_answer_length=options.get("max_answer_len", 15),
        doc_stride=options.get("doc_stride", 128),
        allow_no_answer=options.get("handle_impossible_answer", False),
        align_to_words=options.get("align_to_words", True),
    )
    _assert_same(ours, [_trimmed(a) for a in expected])
    for answer in ours:
        assert context[answer.start : answer.end] == answer.text


def test_pipeline_parity_long_context_uses_several_windows(service: QaService) -> None:
    context = " ".join(["ada lovelace london 1815 babbage engine"] * 200)
    windows = service._windows("who?", context, 128)
    assert windows.count > 3
