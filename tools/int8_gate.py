"""The INT8 accuracy gate: does a model's INT8 artefact answer as well as its fp32 graph?

    python -m tools.int8_gate --model-dir DIR --check-set SPEC [--limit 600]

answers every question of a labelled check set through :class:`app.qa.service.QaService` twice,
fp32 and INT8 (the same windows, decode and service code; only the forward differs), and
writes the verdict with its figures to ``DIR/int8/gate.json``, which ``QA_PRECISION=auto``
reads at init (:func:`app.qa.int8.read_gate`): INT8 serves exactly when the gate passed.

INT8 passes when, on at least :data:`MIN_QUESTIONS` questions,

- it loses at most :data:`MAX_EM_LOSS` point of exact match and :data:`MAX_F1_LOSS` of F1
  against the gold answers (Intel Neural Compressor's default tolerance is 1% relative; GluonNLP
  0.10's INT8 BERT-base SQuAD loses 0.48 F1; Intel's bert-base-uncased-squad-int8-static 0.8), and
- it gives the same answer span on at least :data:`MIN_CONFIDENT_AGREEMENT` percent of the
  questions fp32 is confident about (fp32 score ``p_start * p_end`` >= :data:`CONFIDENT_SCORE`).

Why a confidence threshold, and why 0.1: answer identity over *all* questions measures coin
flips on a weak model. On the small model trained here, 475 of 600 fp32 answers score under 0.1,
and INT8's flips (7% of answers) all fall among them, while on the 125 above it INT8 agreed on
100% and lost no exact match (docs/int8-accuracy.md). A score of 0.1 means the best span holds at
least a tenth of the joint start x end probability mass: far from a near-tie, where an INT8
logit error of the size measured (median 0.44 per window) cannot reorder spans without a
real loss. Agreement there is what a user sees when the model is sure; EM and F1 say whether the
flips elsewhere cost anything.

The figures recorded: EM, F1 (fp32, INT8, loss), agreement overall and on confident answers,
and the largest logit error on context tokens (the tokens an answer can start or end on).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tools.qa_metrics import agreement, exact_match, f1_score, mean_percent

GATE_FILE = "gate.json"
MIN_QUESTIONS = 500
MAX_EM_LOSS = 1.0
MAX_F1_LOSS = 1.0
MIN_CONFIDENT_AGREEMENT = 99.0
CONFIDENT_SCORE = 0.1


@dataclass(frozen=True)
class GateQuestion:
    """A labelled question: gold answers are texts (SQuAD scores the best of them); an empty
    tuple means unanswerable (SQuAD 2.0), whose right answer is the empty string."""

    question: str
    context: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Thresholds:
    min_questions: int = MIN_QUESTIONS
    max_em_loss: float = MAX_EM_LOSS
    max_f1_loss: float = MAX_F1_LOSS
    min_confident_agreement: float = MIN_CONFIDENT_AGREEMENT
    confident_score: float = CONFIDENT_SCORE


@dataclass
class Figures:
    """What the gate measured on one check set."""

    questions: int
    fp32_exact_match: float
    int8_exact_match: float
    fp32_f1: float
    int8_f1: float
    agreement: float
    confident: int
    confident_agreement: float | None
    max_context_logit_error: float
    max_abs_logit: float
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def em_loss(self) -> float:
        return self.fp32_exact_match - self.int8_exact_match

    @property
    def f1_loss(self) -> float:
        return self.fp32_f1 - self.int8_f1

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "em_loss": self.em_loss, "f1_loss": self.f1_loss}


def verdict(figures: Figures, thresholds: Thresholds = Thresholds()) -> tuple[bool, str]:
    """(passed, why): the gate's rule applied to ``figures``, in one sentence."""
    t = thresholds
    failures = []
    if figures.questions < t.min_questions:
        failures.append(f"only {figures.questions} questions (the gate asks {t.min_questions})")
    if figures.em_loss > t.max_em_loss:
        failures.append(f"EM loss {figures.em_loss:.2f} > {t.max_em_loss:g}")
    if figures.f1_loss > t.max_f1_loss:
        failures.append(f"F1 loss {figures.f1_loss:.2f} > {t.max_f1_loss:g}")
    if figures.confident_agreement is None:
        failures.append(
            f"fp32 is confident (score >= {t.confident_score:g}) on no question, so agreement "
            "where it counts cannot be measured"
        )
    elif figures.confident_agreement < t.min_confident_agreement:
        failures.append(
            f"agreement {figures.confident_agreement:.1f}% < {t.min_confident_agreement:g}% on "
            f"the {figures.confident} confident answers"
        )
    summary = (
        f"EM {figures.int8_exact_match:.2f} vs {figures.fp32_exact_match:.2f} fp32 "
        f"(loss {figures.em_loss:+.2f}), F1 loss {figures.f1_loss:+.2f}, "
        + (
            f"agreement {figures.confident_agreement:.1f}% on {figures.confident} confident "
            f"answers ({figures.agreement:.1f}% overall)"
            if figures.confident_agreement is not None
            else f"agreement {figures.agreement:.1f}% overall"
        )
        + f", {figures.questions} questions"
    )
    if failures:
        return False, "failed: " + "; ".join(failures) + f" ({summary})"
    return True, f"passed: {summary}"


def _best(score: Callable[[str, str], float], prediction: str, answers: Sequence[str]) -> float:
    return max(score(prediction, gold) for gold in (answers or ("",)))


Answered = tuple[str, int, int, float]  # text, start, length, score


class GateRun:
    """One model and check set: fp32 is answered once (answers and context logits kept), then
    each INT8 artefact made for it is measured against that (:meth:`measure`)."""

    def __init__(
        self,
        model_dir: Path,
        questions: Sequence[GateQuestion],
        *,
        threads: int | None = None,
        progress: bool = True,
    ) -> None:
        from app.config import Settings
        from app.qa.service import QaService

        self.model_dir = model_dir
        self.questions = list(questions)
        self.progress = progress
        settings = Settings(
            services=("qa",), qa_model_dir=model_dir, qa_precision="fp32", num_threads=threads
        )
        self.service = QaService.load(settings)
        self.allow_no_answer = any(not q.answers for q in self.questions)
        self.windows = [
            self.service._windows(q.question, q.context, settings.qa_doc_stride)
            for q in self.questions
        ]
        began = time.perf_counter()
        self.fp32 = self._answer(None, "fp32")
        self.fp32_seconds = round(time.perf_counter() - began, 2)
        self.fp32_logits = [self._logits(None, w) for w in self.windows]

    def _answer(self, runner: Any, label: str) -> list[Answered]:
        self.service.model.int8_runner = runner
        out = []
        try:
            for i, q in enumerate(self.questions):
                a = self.service.answer(q.question, q.context, allow_no_answer=self.allow_no_answer)
                out.append((a[0].text, a[0].start, a[0].length, a[0].score))
                if self.progress and (i + 1) % 100 == 0:
                    print(f"    {label}: {i + 1}/{len(self.questions)} questions", flush=True)
        finally:
            self.service.model.int8_runner = None
        return out

    def _logits(self, runner: Any, windows: Any) -> list[tuple[Any, Any]]:
        """Start and end logits of each window on its context tokens (fp32, or ``runner``)."""
        ids, types, mask = windows.input_ids, windows.token_type_ids, windows.attention_mask
        out = []
        for row in range(ids.shape[0]):
            one = (ids[row : row + 1], types[row : row + 1], mask[row : row + 1])
            # The context's tokens by p_mask, not by token type: RoBERTa's context has type 0.
            context = ~windows.p_mask[row]
            logits = runner(*one) if runner is not None else self.service.model.forward(*one)
            out.append(tuple(np.asarray(logits[k][0], dtype=np.float64)[context] for k in (0, 1)))
        return out

    def forward_ms(self, runner: Any, length: int = 384, repeats: int = 5) -> float:
        """Median ms of one (1, length) forward: fp32 when ``runner`` is None."""
        ids = np.full((1, length), 5, dtype=np.int32)
        types = np.zeros_like(ids)
        types[:, length // 4 :] = self.service.layout.context_type_id
        mask = np.ones_like(ids)
        forward = runner if runner is not None else self.service.model.forward
        forward(ids, types, mask)
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            forward(ids, types, mask)
            times.append(1000 * (time.perf_counter() - began))
        return round(float(np.median(times)), 2)

    def measure(self, int8_dir: Path) -> Figures:
        """The gate's figures for the INT8 artefact in ``int8_dir``."""
        from app.qa.int8 import load_int8

        runner = load_int8(int8_dir, self.service.model.net.collect_params())
        began = time.perf_counter()
        int8 = self._answer(runner, "int8")
        seconds = {"fp32": self.fp32_seconds, "int8": round(time.perf_counter() - began, 2)}
        worst, largest = 0.0, 0.0
        for ref_windows, windows in zip(self.fp32_logits, self.windows, strict=True):
            for ref, got in zip(ref_windows, self._logits(runner, windows), strict=True):
                for a, b in zip(ref, got, strict=True):
                    if a.size:
                        worst = max(worst, float(np.abs(a - b).max()))
                        largest = max(largest, float(np.abs(a).max()))
        questions = self.questions

        def score(answers: list[Answered], metric: Callable[[str, str], float]) -> float:
            return mean_percent(
                [_best(metric, a[0], q.answers) for a, q in zip(answers, questions, strict=True)]
            )

        spans = {"fp32": [(a[1], a[2]) for a in self.fp32], "int8": [(a[1], a[2]) for a in int8]}
        sure = [i for i, a in enumerate(self.fp32) if a[3] >= CONFIDENT_SCORE]
        return Figures(
            questions=len(questions),
            fp32_exact_match=score(self.fp32, exact_match),
            int8_exact_match=score(int8, exact_match),
            fp32_f1=score(self.fp32, f1_score),
            int8_f1=score(int8, f1_score),
            agreement=agreement(spans["fp32"], spans["int8"]),
            confident=len(sure),
            confident_agreement=(
                agreement([spans["fp32"][i] for i in sure], [spans["int8"][i] for i in sure])
                if sure
                else None
            ),
            max_context_logit_error=worst,
            max_abs_logit=largest,
            seconds=seconds,
        )


def measure(
    model_dir: Path,
    questions: Sequence[GateQuestion],
    *,
    threads: int | None = None,
    progress: bool = True,
) -> Figures:
    """The gate's figures for ``model_dir/int8`` on ``questions`` (fp32 and INT8 answered)."""
    return GateRun(model_dir, questions, threads=threads, progress=progress).measure(
        model_dir / "int8"
    )


def write_gate(
    int8_dir: Path,
    figures: Figures,
    *,
    check_set: dict[str, Any],
    thresholds: Thresholds = Thresholds(),
    recipe: dict[str, Any] | None = None,
    search: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write ``int8_dir/gate.json`` (what :func:`app.qa.int8.read_gate` reads); return it."""
    passed, reason = verdict(figures, thresholds)
    gate = {
        "passed": passed,
        "reason": reason,
        "figures": figures.as_dict(),
        "thresholds": asdict(thresholds),
        "check_set": check_set,
        "recipe": recipe or {},
        "search": search or [],
        "date": time.strftime("%Y-%m-%d"),
    }
    text = json.dumps(gate, indent=2) + "\n"
    (int8_dir / GATE_FILE).write_text(text)
    written: dict[str, Any] = json.loads(text)  # as readers see it (tuples are lists)
    return written


@dataclass(frozen=True)
class Recipe:
    """One way to quantize: the calibration text and length, and the layer kinds kept fp32."""

    calibration: str = "prose-128"
    fp32_groups: tuple[str, ...] = ()

    def describe(self) -> str:
        kept = ", ".join(self.fp32_groups) or "nothing"
        return f"calibration {self.calibration}, fp32: {kept}"


#: Calibration choices tried in order before any layer goes back to fp32: the built-in prose at
#: 128 tokens (the default), the same at 384 (what long requests run), and windows of the check
#: set's own kind of text (its calibration share, never the questions the gate scores).
CALIBRATIONS = ("prose-128", "prose-384", "data-128")


def _score(figures: Figures) -> tuple[float, float, float, float]:
    """Higher is closer to passing: confident agreement, then EM and F1 loss, then agreement."""
    return (
        figures.confident_agreement if figures.confident_agreement is not None else -1.0,
        -figures.em_loss,
        -figures.f1_loss,
        figures.agreement,
    )


def search(
    run: GateRun,
    *,
    calibration_text: Sequence[tuple[str, str]] = (),
    thresholds: Thresholds = Thresholds(),
    check_set: dict[str, Any] | None = None,
    calibrations: Sequence[str] = CALIBRATIONS,
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy-aware quantization of ``run.model_dir``, Intel Neural Compressor's way: the
    whole graph with each calibration choice; if none passes the gate, each layer kind kept in
    fp32 alone with the best calibration, cheapest first (``tools.quantize.cheapest_first``: the
    first that passes costs the least speed), ranked by how far each gets; then the fewest top-ranked
    kinds in fp32 until the gate passes. The artefact left in ``int8/`` is the first recipe
    that passed, or, when none did, the closest one with a failed gate (``auto`` serves fp32).
    ``calibration_text`` is (question, context) pairs of the check set's kind held out from the
    gate's questions, for the ``data-128`` choice. ``calibrations`` and ``groups`` (default:
    every key of ``tools.quantize.FALLBACK_GROUPS``) narrow the search."""
    from tools.quantize import cheapest_first

    int8_dir = run.model_dir / "int8"
    fp32_ms = run.forward_ms(None)
    tried: list[dict[str, Any]] = []
    results: dict[Recipe, Figures] = {}

    def attempt(recipe: Recipe) -> bool:
        if recipe.calibration.startswith("data-") and not calibration_text:
            return False
        print(f"==> INT8 recipe {len(tried) + 1}: {recipe.describe()}", flush=True)
        began = time.perf_counter()
        try:
            _requantize(run, recipe, calibration_text)
        except ValueError as exc:  # e.g. no calibration window fills the length
            print(f"    skipped: {exc}", flush=True)
            return False
        figures = run.measure(int8_dir)
        passed, reason = verdict(figures, thresholds)
        results[recipe] = figures
        tried.append(
            {
                "recipe": asdict(recipe),
                "passed": passed,
                "reason": reason,
                "figures": figures.as_dict(),
                "int8_forward_ms_384": run.forward_ms(_runner(run, int8_dir)),
                "fp32_forward_ms_384": fp32_ms,
                "seconds": round(time.perf_counter() - began, 1),
            }
        )
        print(f"    {reason}", flush=True)
        return passed

    def finish(recipe: Recipe, passed: bool) -> dict[str, Any]:
        if tried[-1]["recipe"] != asdict(recipe):  # the artefact on disk is another recipe's
            _requantize(run, recipe, calibration_text)
        return write_gate(
            int8_dir,
            results[recipe],
            check_set=check_set or {},
            thresholds=thresholds,
            recipe={**asdict(recipe), "passed": passed},
            search=tried,
        )

    for calibration in calibrations:
        recipe = Recipe(calibration)
        if attempt(recipe):
            return finish(recipe, True)
        figures = results.get(recipe)
        if figures is not None and (
            figures.questions < thresholds.min_questions or figures.confident_agreement is None
        ):  # what no recipe can change: too few questions, or none that fp32 is sure of
            print("    no other recipe can change that: the search stops here", flush=True)
            return finish(recipe, False)
    if not results:
        raise ValueError(f"no calibration of {list(calibrations)} could be made")
    best = max(results, key=lambda r: _score(results[r]))
    ranked = []
    for group in groups if groups is not None else cheapest_first(run.model_dir):
        recipe = Recipe(best.calibration, (group,))
        if attempt(recipe):
            return finish(recipe, True)
        ranked.append(group)
    ranked.sort(
        key=lambda g: _score(results.get(Recipe(best.calibration, (g,)), results[best])),
        reverse=True,
    )
    for count in range(2, len(ranked) + 1):
        recipe = Recipe(best.calibration, tuple(ranked[:count]))
        if attempt(recipe):
            return finish(recipe, True)
    closest = max(results, key=lambda r: _score(results[r]))
    return finish(closest, False)


def rank(run: GateRun, calibration: str = "prose-128") -> list[dict[str, Any]]:
    """Every layer kind kept in fp32 alone (and none), measured: what each fallback recovers and
    costs. Leaves ``int8/`` holding the last recipe; callers re-make the one they chose."""
    from tools.quantize import groups_present

    arch = json.loads((run.model_dir / "config.json").read_text())["architecture"]
    rows = []
    for groups in [(), *((g,) for g in groups_present(arch))]:
        recipe = Recipe(calibration, groups)
        print(f"==> ranking: {recipe.describe()}", flush=True)
        _requantize(run, recipe, ())
        figures = run.measure(run.model_dir / "int8")
        rows.append(
            {
                "fp32_groups": list(groups),
                "figures": figures.as_dict(),
                "int8_forward_ms_384": run.forward_ms(_runner(run, run.model_dir / "int8")),
            }
        )
    return rows


def _runner(run: GateRun, int8_dir: Path) -> Any:
    from app.qa.int8 import load_int8

    return load_int8(int8_dir, run.service.model.net.collect_params())


def _requantize(run: GateRun, recipe: Recipe, calibration_text: Sequence[tuple[str, str]]) -> None:
    """Quantize ``run.model_dir`` with ``recipe``: ``data-N`` calibrates on ``calibration_text``,
    ``prose-N`` on the built-in prose (longer contexts at lengths above 128)."""
    from tools.quantize import Pair, calibration_pairs, quantize

    name, length = recipe.calibration.rsplit("-", 1)
    data = name == "data"
    quantize(
        run.model_dir,
        calib_length=int(length),
        pairs=[Pair(q, c) for q, c in calibration_text]
        if data
        else calibration_pairs(32, paragraphs_per_context=4 if int(length) <= 128 else 10),
        calib_source="check-set text" if data else "built-in prose",
        fp32_groups=recipe.fp32_groups,
    )


#: Check-set questions set aside as calibration text for the ``data-128`` choice (never scored).
CALIBRATION_QUESTIONS = 64


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.int8_gate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model-dir", required=True, type=Path, metavar="DIR")
    parser.add_argument(
        "--check-set",
        required=True,
        metavar="SPEC",
        help="squad, squad_v2 (SQuAD dev from the hub), heldout (the small model trained here) or "
        "a SQuAD-format file (JSON, JSON Lines or parquet)",
    )
    parser.add_argument("--limit", type=int, default=600, help="questions scored (default 600)")
    parser.add_argument(
        "--min-questions",
        type=int,
        default=MIN_QUESTIONS,
        help=f"fewer scored questions fail the gate (default {MIN_QUESTIONS})",
    )
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="judge the artefact already in DIR/int8 instead of searching for a recipe",
    )
    parser.add_argument(
        "--rank",
        action="store_true",
        help="also measure each layer kind kept in fp32 alone (recorded in gate.json as ranking)",
    )
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    if args.rank and args.measure_only:
        parser.error("--rank re-quantizes the model; it cannot go with --measure-only")
    from app.errors import ModelLoadError
    from tools.check_set import CheckSetError, resolve

    thresholds = Thresholds(min_questions=args.min_questions)
    try:
        examples, provenance = resolve(
            args.check_set,
            limit=args.limit + CALIBRATION_QUESTIONS,
            minimum=1,  # too few questions is the gate's verdict to give, not an error
        )
        scored = to_check_questions(examples[: args.limit])
        calibration = [(e.question, e.context) for e in examples[args.limit :]]
        print(
            f"==> INT8 gate: {len(scored)} questions from {provenance.get('source')} "
            f"(+{len(calibration)} set aside as calibration text); answering them at fp32",
            flush=True,
        )
        run = GateRun(args.model_dir, scored, threads=args.threads)
        provenance = {**provenance, "scored": len(scored), "calibration": len(calibration)}
        if args.measure_only:
            gate = write_gate(
                args.model_dir / "int8",
                run.measure(args.model_dir / "int8"),
                check_set=provenance,
                thresholds=thresholds,
            )
        else:
            gate = search(
                run, calibration_text=calibration, thresholds=thresholds, check_set=provenance
            )
        if args.rank:
            chosen = Recipe(
                gate["recipe"].get("calibration", "prose-128"),
                tuple(gate["recipe"].get("fp32_groups") or ()),
            )
            ranking = rank(
                run, chosen.calibration if chosen.calibration != "data-128" else "prose-128"
            )
            _requantize(run, chosen, calibration)
            gate["ranking"] = ranking
            path = args.model_dir / "int8" / GATE_FILE
            path.write_text(json.dumps(gate, indent=2) + "\n")
    except (CheckSetError, ModelLoadError, ValueError) as exc:
        print(f"error: INT8 gate: {exc}", file=sys.stderr)
        return 1
    print(f"==> INT8 gate {gate['reason']}")
    kept = gate["recipe"].get("fp32_groups") or []
    if gate["passed"] and kept:
        print(f"    (mixed precision: {', '.join(kept)} in fp32)")
    if not gate["passed"]:
        print("    QA_PRECISION=auto serves fp32 for this model; QA_PRECISION=int8 forces INT8.")
    return 0


def to_check_questions(examples: Sequence[Any]) -> list[GateQuestion]:
    """The gate's questions from check-set examples (``tools.check_set``)."""
    return [GateQuestion(e.question, e.context, tuple(e.answer_texts)) for e in examples]


if __name__ == "__main__":
    sys.exit(main())
