"""QaService on a real (tiny, random) converted ALBERT model: limits, deadline, threads, offsets."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.errors import BadRequestError, DeadlineExceededError, PayloadTooLargeError
from app.qa.features import seq_buckets
from app.qa.service import QaItem, QaService

LONG_CONTEXT = " ".join(["Ada Lovelace was born in London in 1815 and met Babbage."] * 40)


@pytest.fixture(scope="module")
def service(tiny_model_dir: Path) -> QaService:
    return QaService.load(Settings(services=("qa",), qa_model_dir=tiny_model_dir, num_threads=1))


def _with_settings(service: QaService, **overrides: object) -> QaService:
    """The same loaded model under other settings (no second load)."""
    settings_ = service.settings.model_copy(update=overrides)
    return QaService(
        service.model,
        service.tokenizer,
        settings_,
        name=service.name,
        version=service.version,
        special_ids=(service.cls_id, service.sep_id, service.pad_id),
    )


def test_service_load_reports_phases_name_and_buckets(service: QaService) -> None:
    assert set(service.load_seconds) == {"import", "load", "warmup"}
    assert all(v >= 0 for v in service.load_seconds.values())
    assert service.load_seconds["warmup"] > 0
    assert service.name.startswith("albert-qa") and len(service.version) == 12
    assert service.buckets == seq_buckets(384, 32)  # fp32: every 32 tokens


def test_service_answer_is_a_span_of_the_context(service: QaService) -> None:
    context = "Ada Lovelace was born in London in 1815."
    answers = service.answer("Where was Ada born?", context, top_k=3)
    assert 1 <= len(answers) <= 3
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)
    for a in answers:
        assert context[a.start : a.start + a.length] == a.text and a.text == a.text.strip()


def test_service_no_answer_is_explicit(service: QaService) -> None:
    answers = service.answer("Who?", "Ada met Babbage.", top_k=20, allow_no_answer=True)
    [no_answer] = [a for a in answers if a.is_no_answer]
    assert (no_answer.text, no_answer.start, no_answer.length) == ("", 0, 0)


def test_service_batch_equals_single_answers(service: QaService) -> None:
    items = [
        QaItem("Where was Ada born?", "Ada Lovelace was born in London in 1815."),
        QaItem("Who met Babbage?", LONG_CONTEXT),
    ]
    batch = service.answer_batch(items, top_k=2)
    assert batch == [service.answer(i.question, i.context, top_k=2) for i in items]


def test_service_too_many_windows_is_413_naming_the_limit(service: QaService) -> None:
    limited = _with_settings(service, qa_max_windows=2)
    with pytest.raises(PayloadTooLargeError, match="QA_MAX_WINDOWS") as info:
        limited.answer("Who?", LONG_CONTEXT)
    assert "shorter context" in info.value.message
    assert limited.answer("Who?", "Ada met Babbage.")  # short contexts still pass


@pytest.mark.parametrize(
    ("question", "context", "doc_stride", "needle"),
    [
        ("   ", "Ada met Babbage.", 128, "question is empty"),
        ("Who?", "\u0301\u0302", 128, "context has no text"),
        ("Who?", LONG_CONTEXT, 400, "doc_stride"),
    ],
)
def test_service_bad_input_is_400_saying_what_to_do(
    service: QaService, question: str, context: str, doc_stride: int, needle: str
) -> None:
    with pytest.raises(BadRequestError, match=needle):
        service.answer(question, context, doc_stride=doc_stride)


def test_service_deadline_already_passed_stops_before_any_window(service: QaService) -> None:
    with pytest.raises(DeadlineExceededError, match="after 0 of"):
        service.answer("Who?", LONG_CONTEXT, deadline=time.monotonic() - 1.0)


def test_service_deadline_uses_measured_window_time(service: QaService) -> None:
    service.answer("Who?", LONG_CONTEXT)  # measures the per-window time of the buckets used
    with pytest.raises(DeadlineExceededError, match="function times out"):
        service.answer("Who?", LONG_CONTEXT, deadline=time.monotonic() + 1e-7)
    answers = service.answer("Who?", LONG_CONTEXT, deadline=time.monotonic() + 600.0)
    assert answers


def test_service_concurrent_calls_equal_sequential(service: QaService) -> None:
    requests = [
        ("Where was Ada born?", "Ada Lovelace was born in London in 1815."),
        ("Who met Babbage?", LONG_CONTEXT),
        ("When?", "In 1843 Ada published notes on the engine. 東京 café 😀"),
        ("What?", "Tabs\tand\r\nCRLF and NUL\x00 characters."),
    ] * 2
    sequential = [service.answer(q, c, top_k=3) for q, c in requests]
    with ThreadPoolExecutor(max_workers=6) as pool:
        concurrent = list(pool.map(lambda qc: service.answer(qc[0], qc[1], top_k=3), requests))
    assert concurrent == sequential


_CONTEXT = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from(list("ab c\t\r\n\x00\u0301\u0316😀👍🏽東京''``")),
    ),
    min_size=1,
    max_size=300,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(context=_CONTEXT, top_k=st.integers(1, 5), allow_no_answer=st.booleans())
def test_service_every_answer_is_exactly_its_context_span(
    service: QaService, context: str, top_k: int, allow_no_answer: bool
) -> None:
    try:
        answers = service.answer(
            "what is it?", context, top_k=top_k, allow_no_answer=allow_no_answer
        )
    except BadRequestError as exc:  # a context of only removed characters has nothing to search
        assert "no text" in exc.message
        return
    assert len(answers) <= top_k
    for a in answers:
        assert context[a.start : a.start + a.length] == a.text
        # Scores are >= 0; one text found in several windows adds up (pipeline semantics).
        assert 0 <= a.start <= len(context) and a.score >= 0.0


def test_version_reads_the_weights_hash_from_config(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The converter records params_sha256, so the version hashes only the small files: the
    weights' bytes are not read at init (a BERT-large model.params is 1.3 GB). A directory
    without it has model.params hashed, as before."""
    import hashlib
    import json
    import shutil

    from app.qa.service import _fingerprint

    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "qa"))
    config = json.loads((model / "config.json").read_text())
    params = (model / "model.params").read_bytes()
    assert config["params_sha256"] == hashlib.sha256(params).hexdigest()
    version = _fingerprint(model)
    (model / "model.params").write_bytes(params[::-1])  # not read: the version stays
    assert _fingerprint(model) == version
    config["params_sha256"] = "0" * 64  # the recorded hash is what counts
    (model / "config.json").write_text(json.dumps(config))
    assert _fingerprint(model) != version
    del config["params_sha256"]
    (model / "config.json").write_text(json.dumps(config))
    without = _fingerprint(model)
    (model / "model.params").write_bytes(params)
    assert _fingerprint(model) != without
