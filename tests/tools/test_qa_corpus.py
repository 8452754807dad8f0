"""The synthetic QA corpus: exact answer spans, disjoint splits, held-out-only templates."""

from __future__ import annotations

import re

import pytest

from tools.qa_corpus import RELATIONS, QaExample, generate, pools, value_split


@pytest.fixture(scope="module")
def train() -> list[QaExample]:
    return list(generate("train", 150))


@pytest.fixture(scope="module")
def heldout() -> list[QaExample]:
    return list(generate("heldout", 150))


def test_answers_are_exact_spans_of_their_contexts(
    train: list[QaExample], heldout: list[QaExample]
) -> None:
    for e in train + heldout:
        assert e.context[e.answer_start : e.answer_end] == e.answer_text, e.id
        assert e.answer_text.strip() == e.answer_text and e.answer_text


def test_contexts_have_realistic_lengths(train: list[QaExample]) -> None:
    words = [len(e.context.split()) for e in train]
    assert min(words) >= 85 and max(words) <= 240
    assert 120 <= sum(words) / len(words) <= 180


def test_generation_is_deterministic() -> None:
    assert list(generate("heldout", 5)) == list(generate("heldout", 5))
    assert list(generate("train", 5, seed=1)) != list(generate("train", 5, seed=2))


def test_value_pools_are_disjoint() -> None:
    a, b = pools("train"), pools("heldout")
    for name in ("first_names", "surnames", "professions", "towns", "rivers", "org_stems", "years"):
        left, right = set(getattr(a, name)), set(getattr(b, name))
        assert left and right, name
        assert not left & right, name
    assert all(value_split(t) == "heldout" for t in b.towns)


def _words(examples: list[QaExample]) -> set[str]:
    return {w for e in examples for w in re.findall(r"[A-Za-z]+", e.context + " " + e.question)}


def test_heldout_answers_never_occur_in_training_text(
    train: list[QaExample], heldout: list[QaExample]
) -> None:
    train_text = " ".join(sorted({e.context for e in train}))
    train_words = _words(train)
    for e in heldout:
        if e.relation in ("employees", "population", "bridge_length", "birthdate", "founded_year"):
            # Numbers and dates: the held-out value (its year / number) is never a training value.
            number = re.findall(r"\d[\d,]*", e.answer_text)[-1].replace(",", "")
            assert value_split(number) == "heldout", e.answer_text
        else:
            # Names: the distinguishing word never occurs in any training context or question.
            word = e.answer_text.split()[0]
            assert word not in train_words, (e.answer_text, e.id)
        whole = rf"(?<![\w,]){re.escape(e.answer_text)}(?![\w,])"
        assert not re.search(whole, train_text), e.answer_text


def test_heldout_only_templates_appear_only_in_heldout(
    train: list[QaExample], heldout: list[QaExample]
) -> None:
    assert all(e.all_templates_seen for e in train)
    unseen = [e for e in heldout if not e.all_templates_seen]
    assert 0.2 * len(heldout) < len(unseen) < 0.8 * len(heldout)
    for relation in RELATIONS:
        reserved = relation.sentences[-relation.heldout_sentences :]
        assert not set(reserved) & set(relation.sentence_pool("train"))
        assert not relation.seen(relation.questions[-1])


def test_questions_name_a_subject_of_their_context(heldout: list[QaExample]) -> None:
    for e in heldout:
        words = re.findall(r"[A-Z][a-z]+", e.question)
        names = [w for w in words if w.lower() not in {"who", "what", "where", "when", "which"}]
        assert names and any(re.search(rf"\b{n}\b", e.context) for n in names), e.question


def test_short_curriculum_contexts(heldout: list[QaExample]) -> None:
    short = list(generate("train", 150, short=True))
    assert short != list(generate("train", 150))
    for e in short:
        assert e.context[e.answer_start : e.answer_end] == e.answer_text, e.id
        assert e.all_templates_seen
    words = [len(e.context.split()) for e in short]
    assert max(words) <= 80 and sum(words) / len(words) <= 55
    # Still only training values: no held-out answer appears in a short context.
    text = " ".join({e.context for e in short})
    assert not any(re.search(rf"\b{re.escape(e.answer_text)}\b", text) for e in heldout)
