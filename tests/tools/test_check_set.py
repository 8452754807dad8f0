"""tools.check_set: the INT8 gate's check set from SQuAD files, the synthetic held-out split, and
SQuAD dev sets on the hub, fetched through huggingface_hub from the stand-in on 127.0.0.1
(tests/hub_standin.py) as a SQuAD-shaped dataset repo with the hub's file layout and columns.

Real parts: the file parsers (JSON, JSON Lines, parquet written by pyarrow), the corpus generator,
huggingface_hub's client, the CLI in a subprocess. Every download runs in a subprocess with a
timeout or in a thread joined with one, so a regression that hangs fails the test."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.hub_standin import HubStandin
from tests.tools.test_hub_fetch import run
from tools import check_set
from tools.check_set import (
    ANSWERED_IMPOSSIBLE,
    BAD_LINE,
    BAD_PARAGRAPH,
    DUPLICATE_ID,
    EMPTY_TEXT,
    HUB_SQUAD,
    MISSING_FIELD,
    NO_ANSWER,
    NOT_A_SPAN,
    UNEXPECTED_IMPOSSIBLE,
    CheckQuestion,
    CheckSetError,
    fetch_squad,
    heldout_examples,
    load_squad_file,
    resolve,
    select,
)

ROOT = Path(__file__).resolve().parents[2]
V1, V2 = HUB_SQUAD["1.1"], HUB_SQUAD["2.0"]
#: What a hung hub may cost the CLI: one request's 10 s timeout, plus start-up (hf_hub_download's
#: own first request, retried five times with back-off, would take more than 80 s).
HUNG_BOUND = 30.0
#: What any other call against the stand-in may take before it counts as hung.
CALL_BOUND = 60.0

T = TypeVar("T")


# --- data --------------------------------------------------------------------------------------


def rows(n: int, *, prefix: str = "q", impossible_every: int = 0) -> list[dict[str, Any]]:
    """``n`` SQuAD-shaped records in the hub's flat columns; answerable ones have two gold
    answers (two annotators, different spans), every ``impossible_every``-th has none."""
    out = []
    for i in range(n):
        town, year = f"Town{i}", str(1800 + i)
        context = f"The bridge of {town} was built in {year}. It is {10 + i} metres long."
        record: dict[str, Any] = {"id": f"{prefix}{i:03d}", "title": f"Article {i // 5}"}
        if impossible_every and i % impossible_every == 0:
            record.update(
                question=f"Who paid for the bridge of {town}?",
                answers={"text": [], "answer_start": []},
            )
        else:
            record.update(
                question=f"When was the bridge of {town} built?",
                answers={
                    "text": [year, f"in {year}"],
                    "answer_start": [context.index(year), context.index(f"in {year}")],
                },
            )
        out.append({**record, "context": context})
    return out


def as_question(row: dict[str, Any]) -> CheckQuestion:
    answers = tuple(zip(row["answers"]["text"], row["answers"]["answer_start"], strict=True))
    return CheckQuestion(row["id"], row["question"], row["context"], answers, not answers)


def squad_json(records: list[dict[str, Any]], *, version: str = "1.1") -> dict[str, Any]:
    """The official nested layout: five paragraphs an article, one question a paragraph."""
    data: list[dict[str, Any]] = []
    for i, r in enumerate(records):
        if i % 5 == 0:
            data.append({"title": r["title"], "paragraphs": []})
        answers = [
            {"text": t, "answer_start": s}
            for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"], strict=True)
        ]
        qa: dict[str, Any] = {"id": r["id"], "question": r["question"], "answers": answers}
        if version == "2.0":
            qa["is_impossible"] = not answers
            if not answers:
                qa["plausible_answers"] = [{"text": "the council", "answer_start": 0}]
        data[-1]["paragraphs"].append({"context": r["context"], "qas": [qa]})
    return {"version": version, "data": data}


def parquet_bytes(records: list[dict[str, Any]]) -> bytes:
    """A parquet file as the hub's SQuAD has it: id, title, context, question (strings) and
    answers, a struct of text (list of string) and answer_start (list of int32)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("context", pa.string()),
            ("question", pa.string()),
            (
                "answers",
                pa.struct(
                    [("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int32()))]
                ),
            ),
        ]
    )
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(records, schema=schema), sink)
    return bytes(sink.getvalue().to_pybytes())


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# --- files -------------------------------------------------------------------------------------


def test_squad_v1_json_gives_every_question_with_all_its_answers(tmp_path: Path) -> None:
    records = rows(12)
    path = write_json(tmp_path / "dev-v1.1.json", squad_json(records))
    loaded = load_squad_file(path)
    assert loaded.questions == tuple(as_question(r) for r in records)
    first = loaded.questions[0]
    assert first.answers == (("1800", 33), ("in 1800", 30))
    assert first.answer_text == "1800" and first.answer_start == 33
    assert first.answer_texts == ("1800", "in 1800")
    assert not any(q.is_impossible for q in loaded.questions)
    assert loaded.skipped == {}
    assert loaded.provenance == {
        "source": "file",
        "file": str(path.resolve()),
        "format": "squad-json",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "revision": None,
    }


def test_squad_v2_json_keeps_unanswerable_questions(tmp_path: Path) -> None:
    records = rows(9, impossible_every=3)
    path = write_json(tmp_path / "dev-v2.0.json", squad_json(records, version="2.0"))
    loaded = load_squad_file(path)
    assert loaded.questions == tuple(as_question(r) for r in records)
    impossible = [q for q in loaded.questions if q.is_impossible]
    assert [q.id for q in impossible] == ["q000", "q003", "q006"]
    # plausible_answers are not answers
    assert all(q.answers == () and q.answer_text == "" for q in impossible)
    assert loaded.skipped == {}


def test_malformed_questions_are_skipped_and_counted(tmp_path: Path) -> None:
    document = squad_json(rows(6), version="2.0")
    good_ids = [f"q{i:03d}" for i in range(6)]
    context = "Ada Lovelace was born in London in 1815."

    def qa(qid: str, **fields: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": qid,
            "question": "Where was Ada Lovelace born?",
            "answers": [{"text": "London", "answer_start": 25}],
            "is_impossible": False,
        }
        return {**base, **fields}

    bad = [
        qa("off-by-one", answers=[{"text": "London", "answer_start": 24}]),
        qa("not-in-context", answers=[{"text": "Paris", "answer_start": 25}]),
        qa(
            "one-bad-of-two",
            answers=[{"text": "London", "answer_start": 25}, {"text": "x", "answer_start": 99}],
        ),
        qa("negative", answers=[{"text": "London", "answer_start": -1}]),
        qa("empty-text", answers=[{"text": "", "answer_start": 25}]),
        qa("blank-question", question="   "),
        qa("no-answer", answers=[]),
        qa("impossible-answered", is_impossible=True),
        qa("start-as-string", answers=[{"text": "London", "answer_start": "25"}]),
        qa("flag-as-string", is_impossible="no"),
        {"id": "no-question", "answers": [{"text": "London", "answer_start": 25}]},
        qa(""),
        qa("q002"),  # a good question's id again
    ]
    document["data"].append({"title": "Ada", "paragraphs": [{"context": context, "qas": bad}]})
    document["data"].append({"title": "no paragraphs"})
    document["data"].append({"title": "bad", "paragraphs": [{"qas": [qa("no-context")]}]})
    loaded = load_squad_file(write_json(tmp_path / "dev.json", document))
    assert [q.id for q in loaded.questions] == good_ids
    assert loaded.skipped == {
        NOT_A_SPAN: 5,
        EMPTY_TEXT: 2,
        NO_ANSWER: 1,
        ANSWERED_IMPOSSIBLE: 1,
        MISSING_FIELD: 3,
        DUPLICATE_ID: 1,
        BAD_PARAGRAPH: 2,
    }
    assert list(loaded.skipped) == sorted(loaded.skipped)


def test_json_lines_with_the_hubs_flat_columns(tmp_path: Path) -> None:
    """One question a line, answers as the hub's dict of lists or the official list of dicts;
    ``datasets``' ``to_json`` writes such files with a .json suffix."""
    records = rows(6, impossible_every=4)
    lines = [json.dumps(r) for r in records]
    r = records[1]
    listed = [
        {"text": t, "answer_start": s}
        for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"], strict=True)
    ]
    lines[1] = json.dumps({**r, "answers": listed})
    flagged = {**rows(7)[6], "answers": {"text": [], "answer_start": []}, "is_impossible": True}
    records.append(flagged)
    lines.append(json.dumps(flagged))
    lines.insert(3, "{not json")
    lines.insert(4, "")
    path = tmp_path / "squad.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = load_squad_file(path)
    assert loaded.provenance["format"] == "jsonl"
    assert loaded.questions == tuple(as_question(r) for r in records)
    assert [q.id for q in loaded.questions if q.is_impossible] == ["q000", "q004", "q006"]
    assert loaded.skipped == {BAD_LINE: 1}
    # A set without unanswerable questions (SQuAD 1.1) counts a question without answers.
    strict = load_squad_file(path, unanswerable=False)
    assert [q.id for q in strict.questions] == ["q001", "q002", "q003", "q005"]
    assert strict.skipped == {BAD_LINE: 1, NO_ANSWER: 2, UNEXPECTED_IMPOSSIBLE: 1}


def test_parquet_with_the_hubs_columns(tmp_path: Path) -> None:
    records = rows(15, impossible_every=5)
    records[7]["answers"]["answer_start"][0] += 1  # an annotator's offset is wrong
    path = tmp_path / "validation-00000-of-00001.parquet"
    path.write_bytes(parquet_bytes(records))
    loaded = load_squad_file(path)
    assert loaded.provenance["format"] == "parquet"
    assert loaded.questions == tuple(as_question(r) for i, r in enumerate(records) if i != 7)
    assert sum(q.is_impossible for q in loaded.questions) == 3
    assert loaded.skipped == {NOT_A_SPAN: 1}
    # The format is in the bytes, not the name.
    renamed = tmp_path / "squad.data"
    renamed.write_bytes(path.read_bytes())
    assert load_squad_file(renamed).questions == loaded.questions


def test_parquet_without_a_needed_column_fails_clearly(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"id": ["a"], "question": ["q?"], "context": ["c"]}), path)
    with pytest.raises(CheckSetError) as caught:
        load_squad_file(path)
    assert str(caught.value) == (
        f"{path}: parquet without the column(s) answers: a check set has the columns id, "
        "question, context, answers (answers: {text: list, answer_start: list})"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\xff\xfe binary", "neither parquet nor UTF-8 text (JSON / JSON Lines)"),
        (b"just some words\nand more", "neither SQuAD JSON, JSON Lines nor parquet"),
        (b'{"version": "1.1", "articles": []}', 'not SQuAD JSON (no "data" list)'),
        (b'{"data": {"title": "x"}}', 'not SQuAD JSON: no "data" list'),
        (b"PAR1 but not parquet", "unreadable parquet"),
    ],
)
def test_files_that_are_no_check_set_fail_clearly(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "dev.json"
    path.write_bytes(content)
    with pytest.raises(CheckSetError) as caught:
        load_squad_file(path)
    assert str(caught.value).startswith(f"{path}: {message}"), caught.value


def test_a_spec_that_is_neither_a_keyword_nor_a_file_fails_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "dev-v1.1.json"
    with pytest.raises(CheckSetError) as caught:
        resolve(missing)
    assert str(caught.value) == (
        f"check set {str(missing)!r} is neither one of squad, squad_v2, heldout nor a file "
        "(SQuAD JSON, JSON Lines or parquet)"
    )
    with pytest.raises(CheckSetError, match="cannot read the check set"):
        load_squad_file(tmp_path)  # a directory


# --- the held-out split and the selection ------------------------------------------------------


def test_heldout_examples_are_the_questions_make_accuracy_evaluates() -> None:
    from tools.train_qa import corpus

    ours = heldout_examples()
    theirs = corpus("heldout")
    assert len(ours) == len(theirs) == check_set.HELDOUT_QUESTIONS == 600
    assert ours == [CheckQuestion.from_qa_example(e) for e in theirs]
    assert all(q.problem() is None for q in ours)
    assert heldout_examples(7) == ours[:7]
    more = heldout_examples(605)
    assert more[:600] == ours and len(more) == 605 and len({q.id for q in more}) == 605


def test_resolve_heldout_is_the_whole_split_by_default() -> None:
    whole = resolve("heldout")
    questions, p = whole  # as the gate unpacks it
    assert questions == whole.questions == tuple(heldout_examples())
    assert p["source"] == "tools.qa_corpus" and p["split"] == "heldout"
    assert (p["count"], p["available"], p["skipped"], p["unanswerable"]) == (600, 600, {}, 0)
    assert p["selection"] == "all usable questions"
    assert p["revision"] is None and p["file"] is None
    part = resolve("heldout", limit=520, minimum=500, seed=3)
    assert len(part.questions) == 520 and set(part.questions) <= set(whole.questions)
    assert part.questions == resolve("heldout", limit=520, minimum=500, seed=3).questions


def test_the_selection_depends_only_on_ids_and_seed(tmp_path: Path) -> None:
    records = rows(80)
    forward = write_json(tmp_path / "a.json", squad_json(records))
    backward = write_json(tmp_path / "b.json", squad_json(records[::-1]))
    one = resolve(forward, limit=30, minimum=10)
    assert len(one.questions) == 30 and one.provenance["count"] == 30
    assert one.questions == resolve(forward, limit=30, minimum=10).questions
    # Kept in the file's order; the same ones whatever that order.
    order = [r["id"] for r in records]
    assert [q.id for q in one.questions] == sorted((q.id for q in one.questions), key=order.index)
    assert {q.id for q in resolve(backward, limit=30, minimum=10).questions} == {
        q.id for q in one.questions
    }
    other_seed = resolve(forward, limit=30, minimum=10, seed=1)
    assert {q.id for q in other_seed.questions} != {q.id for q in one.questions}
    # A question's choice does not depend on the others: a chosen one stays chosen in a subset.
    subset = [q for q in load_squad_file(forward).questions if q.id < "q050"]
    chosen = {q.id for q in one.questions}
    smaller = {q.id for q in select(subset, 10)}
    assert smaller <= {q.id for q in select(subset, 30)}
    ranked = sorted(subset, key=lambda q: hashlib.sha256(f"0:{q.id}".encode()).digest())
    assert smaller == {q.id for q in ranked[:10]}
    assert chosen & {q.id for q in subset} <= {q.id for q in select(subset, 30)}
    # Everything when there are no more than asked.
    assert resolve(forward, limit=100, minimum=10).provenance["selection"] == "all usable questions"


def test_resolve_fails_when_fewer_usable_questions_than_the_minimum(tmp_path: Path) -> None:
    records = rows(17)
    for r in records[12:]:
        r["answers"]["answer_start"][0] += 2
    path = write_json(tmp_path / "dev.json", squad_json(records))
    with pytest.raises(CheckSetError) as caught:
        resolve(path, limit=20, minimum=15)
    assert str(caught.value) == (
        f"check set {str(path)!r} has 12 usable questions, fewer than the 15 the check needs "
        f"(5 skipped: 5 {NOT_A_SPAN}). Give a larger set or fix its answer spans."
    )
    assert resolve(path, limit=20, minimum=12).provenance["count"] == 12
    with pytest.raises(ValueError, match="minimum <= limit"):
        resolve(path, limit=100)  # the gate's minimum is 500


def test_cli_prints_the_count_and_the_provenance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = rows(40, impossible_every=10)
    records[5]["context"] = records[5]["context"].replace("1805", "1850")
    path = write_json(tmp_path / "dev-v2.0.json", squad_json(records, version="2.0"))
    assert check_set.main([str(path), "--limit", "25", "--minimum", "20"]) == 0
    out = capsys.readouterr().out
    first, rest = out.split("\n", 1)
    provenance = json.loads(rest)
    assert first == (
        f"25 questions ({provenance['unanswerable']} unanswerable) of 39 usable; 1 skipped"
    )
    assert provenance["spec"] == str(path) and provenance["file"] == str(path.resolve())
    assert provenance["skipped"] == {NOT_A_SPAN: 1}
    assert (provenance["count"], provenance["limit"], provenance["seed"]) == (25, 25, 0)
    assert check_set.main([str(path), "--minimum", "45"]) == 1
    assert capsys.readouterr().err.startswith("error: check set ")


# --- the hub -----------------------------------------------------------------------------------


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()`` in a thread: a call still running after ``seconds`` fails the test."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # re-raised below, in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def cli(
    spec: str, endpoint: str, tmp_path: Path, *args: str, timeout: float = CALL_BOUND
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m tools.check_set SPEC`` with HF_ENDPOINT at ``endpoint``, an empty cache and no
    other HF_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf-home"))
    return run([sys.executable, "-m", "tools.check_set", spec, *args], env, timeout)


V1_ROWS = rows(40, prefix="v1-")
V1_ROWS[3]["answers"]["text"][1] = "in 1804"  # not where answer_start says
V1_ROWS[9]["id"] = V1_ROWS[8]["id"]
V2_ROWS = rows(30, prefix="v2-", impossible_every=3)
README = b"---\nlicense: cc-by-sa-4.0\n---\n"


@pytest.fixture(autouse=True)
def online_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process client online whatever HF_HUB_OFFLINE said when it was imported, and its
    HTTP backend back to the default afterwards (fetch_squad bounds it for the process)."""
    from huggingface_hub import configure_http_backend, constants
    from huggingface_hub.utils import reset_sessions
    from huggingface_hub.utils._http import _default_backend_factory

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    yield
    configure_http_backend(backend_factory=_default_backend_factory)


@pytest.fixture(scope="module")
def hub() -> Iterator[HubStandin]:
    """Both SQuAD dataset repos, with the hub's paths and columns (and a train split beside)."""
    with HubStandin() as standin:
        standin.add_repo(
            V1.repo_id,
            {
                V1.filename: parquet_bytes(V1_ROWS),
                "plain_text/train-00000-of-00001.parquet": parquet_bytes(rows(50, prefix="t-")),
                "README.md": README,
            },
            repo_type="dataset",
        )
        standin.add_repo(
            V2.repo_id,
            {V2.filename: parquet_bytes(V2_ROWS), "README.md": README},
            repo_type="dataset",
        )
        yield standin


def test_fetch_squad_downloads_the_validation_parquet_and_names_its_commit(
    hub: HubStandin, tmp_path: Path
) -> None:
    loaded = within(
        CALL_BOUND, lambda: fetch_squad("1.1", endpoint=hub.endpoint, cache_dir=tmp_path)
    )
    sha = hub.repos[("dataset", V1.repo_id)].sha
    content = hub.repos[("dataset", V1.repo_id)].files[V1.filename].content
    assert loaded.provenance == {
        "source": "huggingface_hub",
        "endpoint": hub.endpoint,
        "repo_id": "rajpurkar/squad",
        "repo_type": "dataset",
        "file": "plain_text/validation-00000-of-00001.parquet",
        "format": "parquet",
        "sha256": hashlib.sha256(content).hexdigest(),
        "revision": sha,
        "squad_version": "1.1",
    }
    assert loaded.questions == tuple(
        as_question(r) for i, r in enumerate(V1_ROWS) if i not in (3, 9)
    )
    assert loaded.skipped == {NOT_A_SPAN: 1, DUPLICATE_ID: 1}
    # The listing first (bounded, not retried), then the file.
    ours = [r for r in hub.requests if r[1].endswith(V1.repo_id) or f"{V1.repo_id}/" in r[1]]
    assert ours[:2] == [
        ("GET", f"/api/datasets/{V1.repo_id}"),
        ("HEAD", f"/datasets/{V1.repo_id}/resolve/main/{V1.filename}"),
    ]
    cached = tmp_path / "datasets--rajpurkar--squad" / "snapshots" / sha / V1.filename
    assert cached.read_bytes() == content
    # Without a hub (nothing listens on its port any more), the cached copy serves.
    closed = HubStandin()
    closed.close()
    again = within(
        CALL_BOUND, lambda: fetch_squad("1.1", endpoint=closed.endpoint, cache_dir=tmp_path)
    )
    assert again.questions == loaded.questions
    assert again.provenance["revision"] == sha
    assert again.provenance["cached_because"].startswith("cannot connect")
    with pytest.raises(CheckSetError, match=r"\(cannot connect"):
        within(
            CALL_BOUND,
            lambda: fetch_squad("1.1", endpoint=closed.endpoint, cache_dir=tmp_path / "empty"),
        )


def test_a_dataset_without_the_file_fails_saying_what_to_do(tmp_path: Path) -> None:
    with HubStandin() as standin:
        standin.add_repo(
            V1.repo_id, {"data/validation.parquet": parquet_bytes(V1_ROWS)}, repo_type="dataset"
        )
        with pytest.raises(CheckSetError) as caught:
            within(
                CALL_BOUND,
                lambda: fetch_squad("1.1", endpoint=standin.endpoint, cache_dir=tmp_path),
            )
    assert str(caught.value) == (
        f"cannot download SQuAD 1.1 dev (rajpurkar/squad, {V1.filename}) from the Hugging Face "
        f"hub at {standin.endpoint} (it answered HTTP 404). Check network access to the hub "
        "(HF_ENDPOINT), or get the SQuAD dev set elsewhere (the official dev-v1.1.json, or that "
        "parquet file) and give it as the check set (--check-set FILE)."
    )


def test_cli_resolves_squad_v2_from_the_hub(hub: HubStandin, tmp_path: Path) -> None:
    done, _ = cli("squad_v2", hub.endpoint, tmp_path, "--limit", "20", "--minimum", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    first, rest = done.stdout.split("\n", 1)
    provenance = json.loads(rest)
    assert provenance["revision"] == hub.repos[("dataset", V2.repo_id)].sha
    assert (provenance["repo_id"], provenance["file"]) == (V2.repo_id, V2.filename)
    assert (provenance["available"], provenance["count"], provenance["skipped"]) == (30, 20, {})
    expected = {q.id for q in select([as_question(r) for r in V2_ROWS], 20)}
    assert provenance["unanswerable"] == sum(
        1 for r in V2_ROWS if r["id"] in expected and not r["answers"]["text"]
    )
    assert (
        first == f"20 questions ({provenance['unanswerable']} unanswerable) of 30 usable; 0 skipped"
    )
    assert f"fetching SQuAD 2.0 dev ({V2.repo_id}, {V2.filename})" in done.stderr
    assert f"at {hub.endpoint} ..." in done.stderr


def test_cli_on_an_unknown_dataset_fails_at_once_saying_what_to_do(tmp_path: Path) -> None:
    with HubStandin() as standin:
        standin.add_repo(V1.repo_id, {V1.filename: parquet_bytes(V1_ROWS)}, repo_type="dataset")
        done, elapsed = cli("squad_v2", standin.endpoint, tmp_path, "--minimum", "10")
    assert standin.requests == [("GET", f"/api/datasets/{V2.repo_id}")]
    assert done.returncode == 1
    assert elapsed < 30, elapsed
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: cannot download SQuAD 2.0 dev (rajpurkar/squad_v2, {V2.filename}) from the "
        f"Hugging Face hub at {standin.endpoint} (no such repository (HTTP 404)). Check network "
        "access to the hub (HF_ENDPOINT), or get the SQuAD dev set elsewhere (the official "
        "dev-v2.0.json, or that parquet file) and give it as the check set (--check-set FILE)."
    ], done.stderr
    assert "Traceback" not in done.stderr


def test_cli_against_a_hung_hub_fails_within_a_bound(tmp_path: Path) -> None:
    with HubStandin(hang=True) as hung:
        done, elapsed = cli("squad", hung.endpoint, tmp_path, timeout=2 * HUNG_BOUND)
        assert hung.held == 1  # one request, not retried: the hub accepted and said nothing
    assert done.returncode == 1
    assert elapsed < HUNG_BOUND, elapsed
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(
        f"error: cannot download SQuAD 1.1 dev (rajpurkar/squad, {V1.filename}) from the Hugging "
        f"Face hub at {hung.endpoint} (no answer in 10 s). "
    )
    assert errors[0].endswith("(--check-set FILE).")
    assert "Traceback" not in done.stderr
