"""The labelled check set of the INT8 accuracy gate: which questions fp32 and INT8 answer.

    python -m tools.check_set SPEC [--limit N] [--seed S] [--minimum M]

prints how many questions SPEC gives and their provenance (JSON). SPEC is one of:

- ``squad``: the SQuAD 1.1 dev questions, for a model fetched from the hub (no null answer);
- ``squad_v2``: the SQuAD 2.0 dev questions (a third of them unanswerable), for a model with a
  no-answer head;
- ``heldout``: the held-out split of the synthetic corpus (:mod:`tools.qa_corpus`), exactly the
  questions ``make accuracy`` evaluates the small trained model on (``tools.train_qa.corpus``);
- a file path (``./squad`` for a file named like a keyword): the official SQuAD JSON
  (``{"version", "data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
  "answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}``, v1.1 or v2.0), or JSON Lines
  (or a JSON list) or parquet with one question per row in the hub's flat columns (below; an
  optional ``is_impossible``, else no answers means unanswerable). The format is told by the
  content (parquet's magic bytes; one JSON document, else one per line), not the suffix.

**The hub.** ``squad`` and ``squad_v2`` are downloaded with ``huggingface_hub.hf_hub_download``
from ``HF_ENDPOINT`` with every request bounded (:func:`tools.convert.bound_hub_requests`), as
models are; a hub that cannot be reached fails in one message saying what to do (give the file
instead). The files, as the datasets' cards on the hub describe them (``configs`` /
``data_files`` ``plain_text/validation-*`` and ``squad_v2/validation-*``; 10,570 and 11,873
rows): ``rajpurkar/squad`` ``plain_text/validation-00000-of-00001.parquet`` and
``rajpurkar/squad_v2`` ``squad_v2/validation-00000-of-00001.parquet``, with the columns ``id``,
``title``, ``context``, ``question`` (strings) and ``answers`` (a struct of two lists, ``text``
and ``answer_start`` int32; both empty for an unanswerable question). The single-shard name
``-00000-of-00001`` is what ``datasets`` writes for a split this small; it was not seen listed
(the hub is unreachable from here), so if the hub renames it, the error says so and the fix is
:data:`HUB_SQUAD`.

**Validation.** Every question is checked: an answer must be an exact span of its context
(``context[start:start + len(text)] == text``), an answerable question needs an answer and an
unanswerable one none, ids are unique, question and context are not empty. A question that fails
any check is skipped whole and counted by reason (``provenance["skipped"]``); fewer usable
questions than the gate's minimum is an error.

**Selection.** :func:`resolve` keeps ``limit`` questions (600 by default): the ones whose
``sha256(f"{seed}:{id}")`` is smallest, in their order in the source. The choice of each question
depends only on its id and the seed, not on the file's order or on which other questions were
skipped, so the same source and seed give the same questions everywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple

from tools.qa_corpus import QaExample, generate
from tools.train_qa import HELDOUT_CONTEXTS, QUESTIONS_PER_CONTEXT, SEED

SquadVersion = Literal["1.1", "2.0"]
#: The gate's check needs at least this many questions.
MIN_QUESTIONS = 500
DEFAULT_LIMIT = 600
#: What ``make accuracy`` evaluates (tools.train_qa.corpus("heldout")).
HELDOUT_QUESTIONS = HELDOUT_CONTEXTS * QUESTIONS_PER_CONTEXT
KEYWORDS = ("squad", "squad_v2", "heldout")
#: The flat columns of a JSON Lines or parquet file (``title`` and ``is_impossible`` optional).
COLUMNS = ("id", "question", "context", "answers")


@dataclass(frozen=True)
class HubSquad:
    """Where a SQuAD dev set is on the hub."""

    version: SquadVersion
    repo_id: str
    filename: str


HUB_SQUAD: dict[str, HubSquad] = {
    "1.1": HubSquad("1.1", "rajpurkar/squad", "plain_text/validation-00000-of-00001.parquet"),
    "2.0": HubSquad("2.0", "rajpurkar/squad_v2", "squad_v2/validation-00000-of-00001.parquet"),
}

# Why a question was skipped (the keys of ``provenance["skipped"]``).
MISSING_FIELD = "missing or mistyped field"
EMPTY_TEXT = "empty id, question or context"
NOT_A_SPAN = "answer is not a span of the context"
NO_ANSWER = "answerable question without an answer"
ANSWERED_IMPOSSIBLE = "unanswerable question with an answer"
UNEXPECTED_IMPOSSIBLE = "unanswerable question in a set without them"
DUPLICATE_ID = "duplicate id"
BAD_PARAGRAPH = "malformed article or paragraph"
BAD_LINE = "unreadable JSON line"


class CheckSetError(Exception):
    """The check set cannot be had; the message says why and what to do."""


@dataclass(frozen=True)
class CheckQuestion:
    """One labelled question: every answer is a (text, start) span of the context, none when the
    question is unanswerable (SQuAD 2.0)."""

    id: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]
    is_impossible: bool = False

    @property
    def answer_texts(self) -> tuple[str, ...]:
        """The gold answers' texts (scores take the best over them, as SQuAD's do)."""
        return tuple(text for text, _ in self.answers)

    @property
    def answer_text(self) -> str:
        """The first gold answer ("" when unanswerable), as :class:`QaExample` has it."""
        return self.answers[0][0] if self.answers else ""

    @property
    def answer_start(self) -> int:
        """The first gold answer's start (-1 when unanswerable)."""
        return self.answers[0][1] if self.answers else -1

    def problem(self) -> str | None:
        """Why the question cannot be used (one of the skip reasons), or None."""
        if not self.id or not self.question.strip() or not self.context.strip():
            return EMPTY_TEXT
        if self.is_impossible and self.answers:
            return ANSWERED_IMPOSSIBLE
        if not self.is_impossible and not self.answers:
            return NO_ANSWER
        for text, start in self.answers:
            if not text or start < 0 or self.context[start : start + len(text)] != text:
                return NOT_A_SPAN
        return None

    @classmethod
    def from_qa_example(cls, example: QaExample) -> CheckQuestion:
        return cls(
            id=example.id,
            question=example.question,
            context=example.context,
            answers=((example.answer_text, example.answer_start),),
        )


@dataclass(frozen=True)
class Loaded:
    """The usable questions of a source, in its order, what was skipped, and where it came from."""

    questions: tuple[CheckQuestion, ...]
    skipped: dict[str, int]
    provenance: dict[str, Any]


class CheckSet(NamedTuple):
    """The questions the gate evaluates and the provenance it records
    (``questions, provenance = resolve(...)``)."""

    questions: tuple[CheckQuestion, ...]
    provenance: dict[str, Any]


# --- parsing -----------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _answers(value: Any) -> tuple[tuple[str, int], ...] | None:
    """(text, start) pairs from the hub's ``{"text": [...], "answer_start": [...]}`` or the
    official ``[{"text", "answer_start"}]``; None when neither shape."""
    if isinstance(value, Mapping):
        texts, starts = value.get("text"), value.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list):
            return None
        if len(texts) != len(starts):
            return None
        pairs = list(zip(texts, starts, strict=True))
    elif isinstance(value, list):
        if not all(isinstance(a, Mapping) for a in value):
            return None
        pairs = [(a.get("text"), a.get("answer_start")) for a in value]
    else:
        return None
    out: list[tuple[str, int]] = []
    for text, start in pairs:
        begin = _int(start)
        if not isinstance(text, str) or begin is None:
            return None
        out.append((text, begin))
    return tuple(out)


def question_of(record: Mapping[str, Any], *, unanswerable: bool = True) -> CheckQuestion | str:
    """A record with the flat columns as a question, or the reason it cannot be one.

    Without ``is_impossible`` a question with no answers is unanswerable when the set may have
    such questions (``unanswerable``, as in SQuAD 2.0), else it lacks an answer.
    """
    qid, question, context = record.get("id"), record.get("question"), record.get("context")
    if _int(qid) is not None:
        qid = str(qid)
    if not (isinstance(qid, str) and isinstance(question, str) and isinstance(context, str)):
        return MISSING_FIELD
    answers = _answers(record.get("answers"))
    if answers is None:
        return MISSING_FIELD
    flag = record.get("is_impossible")
    if flag is None:
        impossible = unanswerable and not answers
    elif isinstance(flag, bool):
        impossible = flag
    else:
        return MISSING_FIELD
    if impossible and not unanswerable:
        return UNEXPECTED_IMPOSSIBLE
    candidate = CheckQuestion(qid, question, context, answers, impossible)
    return candidate.problem() or candidate


def _squad_json_records(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any] | str]:
    """The official nested layout as flat records (a reason for a paragraph that has none)."""
    articles = document.get("data")
    if not isinstance(articles, list):
        raise CheckSetError('not SQuAD JSON: no "data" list')
    for article in articles:
        paragraphs = article.get("paragraphs") if isinstance(article, Mapping) else None
        if not isinstance(paragraphs, list):
            yield BAD_PARAGRAPH
            continue
        for paragraph in paragraphs:
            context = paragraph.get("context") if isinstance(paragraph, Mapping) else None
            qas = paragraph.get("qas") if isinstance(paragraph, Mapping) else None
            if not isinstance(context, str) or not isinstance(qas, list):
                yield BAD_PARAGRAPH
                continue
            for qa in qas:
                if not isinstance(qa, Mapping):
                    yield MISSING_FIELD
                    continue
                yield {
                    "id": qa.get("id"),
                    "question": qa.get("question"),
                    "context": context,
                    "answers": qa.get("answers"),
                    "is_impossible": qa.get("is_impossible", False),
                }


def _json_lines(text: str) -> Iterator[Mapping[str, Any] | str]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            yield BAD_LINE
            continue
        yield record if isinstance(record, Mapping) else BAD_LINE


def _parquet_records(data: bytes) -> Iterator[Mapping[str, Any]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise CheckSetError(
            "reading parquet needs pyarrow (in requirements/dev.txt: `make venv`)"
        ) from None
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        names = set(parquet.schema_arrow.names)
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise CheckSetError(
                f"parquet without the column(s) {', '.join(missing)}: a check set has the columns "
                f"{', '.join(COLUMNS)} (answers: {{text: list, answer_start: list}})"
            )
        wanted = [c for c in (*COLUMNS, "is_impossible") if c in names]
        for batch in parquet.iter_batches(columns=wanted):
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise CheckSetError(f"unreadable parquet: {exc}") from None


def _records(data: bytes) -> tuple[str, Iterator[Mapping[str, Any] | str]]:
    """The file's format and its records: parquet, SQuAD JSON, or JSON Lines."""
    if data[:4] == b"PAR1":
        return "parquet", _parquet_records(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CheckSetError("neither parquet nor UTF-8 text (JSON / JSON Lines)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None  # not one JSON document: JSON Lines, or nothing usable
    if isinstance(document, Mapping) and "data" in document:
        return "squad-json", _squad_json_records(document)
    if isinstance(document, list):
        return "json-records", iter(
            r if isinstance(r, Mapping) else MISSING_FIELD for r in document
        )
    if document is None:
        lines = list(_json_lines(text))
        if lines and any(not isinstance(r, str) for r in lines):
            return "jsonl", iter(lines)
        raise CheckSetError("neither SQuAD JSON, JSON Lines nor parquet")
    if isinstance(document, Mapping) and "question" in document:
        return "jsonl", iter([document])  # JSON Lines with one line
    raise CheckSetError('not SQuAD JSON (no "data" list) nor one question per line')


def _validated(
    records: Iterable[Mapping[str, Any] | CheckQuestion | str], *, unanswerable: bool
) -> tuple[tuple[CheckQuestion, ...], dict[str, int]]:
    """The usable questions, in order, and how many records were skipped for what reason (a
    ``str`` record is the reason a reader already skipped one)."""
    questions: list[CheckQuestion] = []
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    for record in records:
        got: CheckQuestion | str
        if isinstance(record, str):
            got = record
        elif isinstance(record, CheckQuestion):
            got = record.problem() or record
        else:
            got = question_of(record, unanswerable=unanswerable)
        if isinstance(got, CheckQuestion) and got.id in seen:
            got = DUPLICATE_ID
        if isinstance(got, str):
            skipped[got] += 1
            continue
        seen.add(got.id)
        questions.append(got)
    return tuple(questions), dict(sorted(skipped.items()))


def parse_squad_bytes(
    data: bytes, *, unanswerable: bool = True
) -> tuple[str, tuple[CheckQuestion, ...], dict[str, int]]:
    """The format, usable questions and skip counts of a file's bytes (see the module doc)."""
    fmt, records = _records(data)
    questions, skipped = _validated(records, unanswerable=unanswerable)
    return fmt, questions, skipped


def load_squad_file(path: str | Path, *, unanswerable: bool = True) -> Loaded:
    """The questions of a SQuAD JSON, JSON Lines or parquet file.

    ``unanswerable=False`` (a SQuAD 1.1 set) counts a question without answers as malformed.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CheckSetError(f"cannot read the check set {file}: {exc.strerror or exc}") from None
    try:
        fmt, questions, skipped = parse_squad_bytes(data, unanswerable=unanswerable)
    except CheckSetError as exc:
        raise CheckSetError(f"{file}: {exc}") from None
    return Loaded(
        questions,
        skipped,
        {
            "source": "file",
            "file": str(file.resolve()),
            "format": fmt,
            "sha256": hashlib.sha256(data).hexdigest(),
            "revision": None,
        },
    )


# --- sources -----------------------------------------------------------------------------------


_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _snapshot_revision(path: Path, filename: str) -> str | None:
    """The commit of a file in huggingface_hub's cache (``.../snapshots/<sha>/<filename>``)."""
    depth = len(PurePosixPath(filename).parts)
    snapshot = path.parents[depth - 1] if len(path.parents) >= depth else None
    if snapshot is None or snapshot.parent.name != "snapshots" or not _COMMIT.match(snapshot.name):
        return None
    return snapshot.name


def fetch_squad(
    version: SquadVersion,
    *,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
    revision: str | None = None,
) -> Loaded:
    """The SQuAD ``version`` dev questions from the hub (``endpoint``, by default
    ``HF_ENDPOINT``), through huggingface_hub's cache, with every request bounded.

    The dataset's listing comes first (one request, never retried: a hung hub costs one timeout,
    an unknown dataset one answer), then the file. A hub that cannot be
    reached or has no such dataset falls back to a copy of the file already in the cache, and
    fails with a message saying what to do when there is none. (``hf_hub_download`` alone would
    retry its first request five times with back-off: more than 80 s on a hung hub.) The
    provenance names the commit the file came from.
    """
    if version not in HUB_SQUAD:
        raise ValueError(f"SQuAD version {version!r}: one of {', '.join(HUB_SQUAD)}")
    hub = HUB_SQUAD[version]
    from huggingface_hub import HfApi, constants, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    from tools.convert import bound_hub_requests, hub_failure

    where = (endpoint or constants.ENDPOINT).rstrip("/")
    timeout = bound_hub_requests()
    what = f"SQuAD {version} dev ({hub.repo_id}, {hub.filename})"
    print(f"fetching {what} from the Hugging Face hub at {where} ...", file=sys.stderr, flush=True)

    def download(at: str | None, *, cached_only: bool) -> Path:
        return Path(
            hf_hub_download(
                hub.repo_id,
                hub.filename,
                repo_type="dataset",
                revision=at,
                endpoint=where,
                cache_dir=cache_dir,
                etag_timeout=timeout,
                local_files_only=cached_only,
            )
        )

    failure: str | None = None
    try:
        HfApi(endpoint=where).dataset_info(hub.repo_id, revision=revision)
        path = download(revision, cached_only=False)  # by name, so the cache knows it offline
    except (HfHubHTTPError, OSError, ValueError) as exc:
        failure = hub_failure(exc)
        try:
            path = download(revision, cached_only=True)
        except (HfHubHTTPError, OSError, ValueError):
            raise CheckSetError(
                f"cannot download {what} from the Hugging Face hub at {where} ({failure}). "
                "Check network access to the hub (HF_ENDPOINT), or get the SQuAD dev set "
                f"elsewhere (the official dev-v{version}.json, or that parquet file) and give it "
                "as the check set (--check-set FILE)."
            ) from None
        print(f"the hub failed ({failure}); using the cached copy {path}", file=sys.stderr)
    loaded = load_squad_file(path, unanswerable=version == "2.0")
    provenance = {
        **loaded.provenance,
        "source": "huggingface_hub",
        "endpoint": where,
        "repo_id": hub.repo_id,
        "repo_type": "dataset",
        "file": hub.filename,
        "revision": _snapshot_revision(path, hub.filename),
        "squad_version": version,
    }
    if failure is not None:
        provenance["cached_because"] = failure
    return Loaded(loaded.questions, loaded.skipped, provenance)


def heldout_examples(count: int = HELDOUT_QUESTIONS) -> list[CheckQuestion]:
    """The first ``count`` held-out questions of the synthetic corpus: with the default, exactly
    the ones ``make accuracy`` evaluates (more are drawn from the same split by the same
    generator)."""
    if count < 0:
        raise ValueError(f"count {count} < 0")
    contexts = -(-count // QUESTIONS_PER_CONTEXT)
    examples = generate("heldout", contexts, questions_per_context=QUESTIONS_PER_CONTEXT, seed=SEED)
    return [CheckQuestion.from_qa_example(e) for e in examples][:count]


def _load_heldout(limit: int) -> Loaded:
    count = max(limit, HELDOUT_QUESTIONS)
    questions, skipped = _validated(heldout_examples(count), unanswerable=False)
    return Loaded(
        questions,
        skipped,
        {
            "source": "tools.qa_corpus",
            "split": "heldout",
            "file": None,
            "revision": None,
            "generator": {
                "contexts": -(-count // QUESTIONS_PER_CONTEXT),
                "questions_per_context": QUESTIONS_PER_CONTEXT,
                "seed": SEED,
            },
        },
    )


def select(questions: Iterable[CheckQuestion], limit: int, seed: int = 0) -> list[CheckQuestion]:
    """``limit`` of the questions, chosen by ``sha256(f"{seed}:{id}")`` (smallest first), in
    their given order: each question's choice depends only on its id and the seed."""
    pool = list(questions)
    if limit >= len(pool):
        return pool

    def rank(q: CheckQuestion) -> bytes:
        return hashlib.sha256(f"{seed}:{q.id}".encode()).digest()

    chosen = {q.id for q in sorted(pool, key=rank)[:limit]}
    return [q for q in pool if q.id in chosen]


def _load(spec: str | Path, *, limit: int, **hub: Any) -> Loaded:
    name = str(spec)
    if name == "squad":
        return fetch_squad("1.1", **hub)
    if name == "squad_v2":
        return fetch_squad("2.0", **hub)
    if name == "heldout":
        return _load_heldout(limit)
    if not Path(spec).is_file():
        raise CheckSetError(
            f"check set {name!r} is neither one of {', '.join(KEYWORDS)} nor a file (SQuAD JSON, "
            "JSON Lines or parquet)"
        )
    return load_squad_file(spec)


def resolve(
    spec: str | Path,
    *,
    limit: int = DEFAULT_LIMIT,
    seed: int = 0,
    minimum: int = MIN_QUESTIONS,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
) -> CheckSet:
    """The check set SPEC names (``squad``, ``squad_v2``, ``heldout`` or a file): ``limit``
    usable questions (all of them when fewer), chosen by :func:`select`; an error when fewer than
    ``minimum`` are usable. ``endpoint`` and ``cache_dir`` go to :func:`fetch_squad`."""
    if minimum < 1 or limit < minimum:
        raise ValueError(f"limit {limit} and minimum {minimum}: need 1 <= minimum <= limit")
    loaded = _load(spec, limit=limit, endpoint=endpoint, cache_dir=cache_dir)
    available = len(loaded.questions)
    skipped_total = sum(loaded.skipped.values())
    if available < minimum:
        reasons = ", ".join(f"{n} {why}" for why, n in loaded.skipped.items())
        raise CheckSetError(
            f"check set {str(spec)!r} has {available} usable questions, fewer than the "
            f"{minimum} the check needs"
            + (f" ({skipped_total} skipped: {reasons})" if skipped_total else "")
            + ". Give a larger set or fix its answer spans."
        )
    chosen = select(loaded.questions, limit, seed)
    provenance = {
        "spec": str(spec),
        **loaded.provenance,
        "available": available,
        "skipped": loaded.skipped,
        "skipped_total": skipped_total,
        "limit": limit,
        "seed": seed,
        "selection": (
            "all usable questions"
            if len(chosen) == available
            else f"the {limit} smallest sha256(f'{{seed}}:{{id}}')"
        ),
        "unanswerable": sum(q.is_impossible for q in chosen),
        "count": len(chosen),
    }
    return CheckSet(tuple(chosen), provenance)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.check_set",
        description="Resolve the INT8 gate's check set and print its size and provenance.",
    )
    parser.add_argument("spec", metavar="SPEC", help=f"{' | '.join(KEYWORDS)} | FILE")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--minimum", type=int, default=MIN_QUESTIONS, metavar="M", help="fewer usable is an error"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.minimum <= args.limit:
        parser.error(f"need 1 <= --minimum ({args.minimum}) <= --limit ({args.limit})")
    try:
        check_set = resolve(args.spec, limit=args.limit, seed=args.seed, minimum=args.minimum)
    except CheckSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    p = check_set.provenance
    print(
        f"{p['count']} questions ({p['unanswerable']} unanswerable) of {p['available']} usable; "
        f"{p['skipped_total']} skipped"
    )
    print(json.dumps(p, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
