"""What one bench run measures, as typed records, and their JSON form.

The JSON form is ``report.json`` (:class:`BenchResults`), a worker's spec (``--spec``) and what
the worker hands back to ``bench.run`` (its ``--out`` file). A record's JSON keys are its field
names, in field order; the few with another shape (:class:`Skipped`, :class:`ImageSizes`,
:class:`CostRow`) override ``to_json``. ``Record.from_json`` takes scalar fields as they are: a
record with nested records, tuples or paths parses those in its own ``from_json``
(``cls._from(data, field=parsed, ...)``). Standard library only, so a worker in any venv runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePath
from typing import Any, Self, TypedDict, TypeVar

JsonObject = dict[str, Any]
T = TypeVar("T")


def to_json(value: object) -> Any:
    """The JSON form of a record, a mapping or sequence of them, a path or a scalar."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    return value


def _each(parse: Callable[[Any], T], data: Mapping[str, Any]) -> dict[str, T]:
    return {key: parse(item) for key, item in data.items()}


@dataclass(frozen=True)
class Record:
    """Base of every record: JSON keys are the field names, in field order."""

    def to_json(self) -> JsonObject:
        return {f.name: to_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The record of a JSON object whose values are all scalars (other keys are ignored)."""
        return cls._from(data)

    @classmethod
    def _from(cls, data: JsonObject, **parsed: Any) -> Self:
        """The record with the ``parsed`` fields, and every other field as ``data`` has it (a
        missing key leaves the field's default)."""
        scalars = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        return cls(**{**scalars, **parsed})


@dataclass(frozen=True)
class Failed(Record):
    """A measurement that did not complete, and why (the last line of its error)."""

    error: str


@dataclass(frozen=True)
class Skipped(Record):
    """A section this run did not measure, and why (no Docker engine, --skip-containers...)."""

    reason: str

    def to_json(self) -> JsonObject:
        return {"skipped": self.reason}

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls(str(data["skipped"]))


def failed_or(parse: Callable[[JsonObject], T], data: JsonObject) -> T | Failed:
    """``data`` as :class:`Failed` when it holds an error, else parsed by ``parse``."""
    return Failed.from_json(data) if "error" in data else parse(data)


def skipped_or(parse: Callable[[JsonObject], T], data: JsonObject) -> T | Skipped:
    """``data`` as :class:`Skipped` when it says so, else parsed by ``parse``."""
    return Skipped.from_json(data) if "skipped" in data else parse(data)


# --- the run's setting ------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan(Record):
    """How much to measure: bucket lengths, context sizes and repetitions per section."""

    buckets: tuple[int, ...]
    forward_reps: int
    sizes: tuple[tuple[int, int], ...]  # (context words, requests)
    cold_reps: int
    ner_reps: int
    container_reps: int
    load: Mapping[str, int]  # requests per function
    designs: DesignsPlan | None = None  # None in a report.json from before the designs section
    # The QA engines run in this many rounds, each engine once per round in a rotating order, and
    # their samples are pooled: one engine after the other, a noisy minute fell on one engine
    # only (fp32 forward 1.17x and 1.41x ORT within one hour).
    qa_rounds: int = 1

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        designs = data.get("designs")
        return cls._from(
            data,
            buckets=tuple(data["buckets"]),
            sizes=_sizes(data["sizes"]),
            designs=None if designs is None else DesignsPlan.from_json(designs),
        )


@dataclass(frozen=True)
class DesignsPlan(Record):
    """How much the Design 1 vs Design 2 section measures (bench.designs)."""

    hop_rounds: Mapping[str, int]  # per service: rounds, each path once per round
    load: Mapping[str, int]  # per service: requests per design under the concurrent clients
    load_blocks: int  # each design's load in this many blocks, alternating A B B A ...
    cold_reps: int  # cold starts per image and design


def _sizes(data: list[list[int]]) -> tuple[tuple[int, int], ...]:
    return tuple((words, reps) for words, reps in data)


@dataclass(frozen=True)
class Machine(Record):
    """What the numbers were measured on."""

    cpu: str
    cores: int | None
    isa: tuple[str, ...]
    python: str
    kernel: str
    load_avg_start: tuple[float, ...]
    versions: Mapping[str, str | None]
    load_avg_end: tuple[float, ...] | None = None  # set when the run ends
    # CPU steal over the whole run: the share of the time the vCPUs ran or wanted to that the
    # hypervisor gave to other guests (bench.machine); None when not read (old reports, or a
    # kernel without steal).
    steal: float | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        end = data.get("load_avg_end")
        return cls._from(
            data,
            isa=tuple(data["isa"]),
            load_avg_start=tuple(data["load_avg_start"]),
            load_avg_end=None if end is None else tuple(end),
        )


@dataclass(frozen=True)
class ModelPaths(Record):
    """The benchmark's model (bench.checkpoint): what each engine loads."""

    hf: Path  # transformers checkpoint and fast tokenizer
    qa: Path  # the project's converted model dir (with int8/)
    onnx: Path  # torch.onnx export of hf

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls(Path(data["hf"]), Path(data["qa"]), Path(data["onnx"]))


# --- what a worker process is asked to measure (bench.worker --spec) ---------------------------


@dataclass(frozen=True)
class QaSpec(Record):
    """One QA engine: forward per bucket length, end to end per context size."""

    engine: str
    paths: ModelPaths
    buckets: tuple[int, ...]
    forward_reps: int
    sizes: tuple[tuple[int, int], ...]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            paths=ModelPaths.from_json(data["paths"]),
            buckets=tuple(data["buckets"]),
            sizes=_sizes(data["sizes"]),
        )


@dataclass(frozen=True)
class ColdSpec(Record):
    """One fresh process to its first answer."""

    engine: str  # project-ner, project-qa or hf
    paths: ModelPaths

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, paths=ModelPaths.from_json(data["paths"]))


@dataclass(frozen=True)
class NerSpec(Record):
    """The NER section (bench.ner)."""

    reps: int
    batch_texts: int
    model: str
    rounds: int = 5


# --- latency summaries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Latency(Record):
    """p50/p90/mean/min of a series of calls, in ms, and the sample count."""

    p50_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    n: int


@dataclass(frozen=True)
class AnswerLatency(Latency):
    """End-to-end QA latency, and how many answers held the expected text (random weights: few)."""

    answer_found: int

    @classmethod
    def of(cls, latency: Latency, answer_found: int) -> AnswerLatency:
        return cls(*_latency_values(latency), answer_found)


@dataclass(frozen=True)
class Throughput(Latency):
    """Latency of a batch, and the words per second at its p50."""

    words_per_s: float

    @classmethod
    def of(cls, latency: Latency, words: int) -> Throughput:
        return cls(*_latency_values(latency), words / (latency.p50_ms / 1000.0))


def _latency_values(latency: Latency) -> tuple[float, float, float, float, int]:
    return latency.p50_ms, latency.p90_ms, latency.mean_ms, latency.min_ms, latency.n


# --- QA engines and cold starts (worker results) ----------------------------------------------


@dataclass(frozen=True)
class QaRun(Record):
    """One QA engine in its own process (bench.worker qa)."""

    load_s: float
    forward: Mapping[str, Latency]  # per bucket length (tokens)
    e2e: Mapping[str, AnswerLatency]  # per context size (words)
    spawned: float  # time.time() before the parent spawned the process
    # The calls behind forward and e2e, in seconds: "forward/<tokens>", "e2e/<words>".
    samples: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    # CPU steal while the process ran, one value per round (None: not readable).
    steal: tuple[float | None, ...] = ()

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            forward=_each(Latency.from_json, data["forward"]),
            e2e=_each(AnswerLatency.from_json, data["e2e"]),
            samples={k: tuple(v) for k, v in data.get("samples", {}).items()},
            steal=tuple(data.get("steal", ())),
        )


@dataclass(frozen=True)
class ColdRun(Record):
    """One fresh process to its first answer (bench.worker cold); times are time.time()."""

    spawned: float  # before the parent spawned the process
    loaded: float  # model(s) loaded (for the project: app.main imported)
    answered: float
    answer: str
    phases: Mapping[str, float] | None  # the init breakdown the function logs (project only)
    # QA: the first request at each bucket after init over the median of the next ones.
    first_ratios: Mapping[str, float] | None = None


@dataclass(frozen=True)
class ColdStart(Record):
    """A process cold start over its runs: median and min to the first answer, the median run's
    load time and init phases."""

    runs: int
    errors: tuple[str, ...]
    median_s: float | None
    min_s: float | None
    loaded_s: float | None
    phases: Mapping[str, float] | None
    first_ratios: Mapping[str, float] | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, errors=tuple(data["errors"]))


# --- NER --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NerRound(Record):
    """One round of interleaved single-text requests: p50s and the handler's overhead."""

    bare_ner_only_ms: float
    handler_ms: float
    overhead: float
    cpu_bare_ner_only_ms: float
    cpu_handler_ms: float
    cpu_overhead: float
    steal: float | None = None  # CPU steal during the round (bench.machine)


@dataclass(frozen=True)
class NerOverhead(Record):
    """The handler's overhead over bare ner-only spaCy, over the rounds (wall and CPU time)."""

    rounds: int
    reps_per_round: int
    median: float
    min: float
    max: float
    median_ms: float
    cpu_median: float
    cpu_min: float
    cpu_max: float
    per_round: tuple[NerRound, ...]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, per_round=tuple(NerRound.from_json(r) for r in data["per_round"]))


@dataclass(frozen=True)
class NerRun(Record):
    """The NER section (bench.worker ner)."""

    text_words: int
    batch_texts: int
    import_spacy_s: float
    load_s: Mapping[str, float]  # full, ner_only
    components: Mapping[str, tuple[str, ...]]  # full, ner_only
    single: Mapping[str, Latency]  # one text per path (bare_full, ..., handler)
    overhead: NerOverhead | None  # None in a report.json from before the rounds
    batch: Mapping[str, Throughput]  # one batch per path
    spawned: float

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        overhead = data.get("overhead")
        return cls._from(
            data,
            components=_each(tuple, data["components"]),
            single=_each(Latency.from_json, data["single"]),
            overhead=None if overhead is None else NerOverhead.from_json(overhead),
            batch=_each(Throughput.from_json, data["batch"]),
        )


# --- container images -------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSize(Record):
    tag: str
    bytes: int | None  # None: not built


@dataclass(frozen=True)
class FunctionImageSize(ImageSize):
    added_bytes: int | None  # on top of the base image


@dataclass(frozen=True)
class ImageSizes(Record):
    """JSON: ``{"base": ..., "<function>": ..., ...}``."""

    base: ImageSize
    functions: Mapping[str, FunctionImageSize]

    def to_json(self) -> JsonObject:
        return {"base": self.base.to_json(), **to_json(self.functions)}

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        functions = {k: v for k, v in data.items() if k != "base"}
        return cls(ImageSize.from_json(data["base"]), _each(FunctionImageSize.from_json, functions))


@dataclass(frozen=True)
class ContainerRun(Record):
    """``docker run`` to the first answer through the RIE."""

    seconds: float
    status: int | None
    cpus: str
    memory_mb: int
    body: str


@dataclass(frozen=True)
class ImageColdStart(Record):
    runs: tuple[ContainerRun | Failed, ...]
    median_s: float | None  # over the runs answered 200
    memory_mb: int

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        runs = tuple(failed_or(ContainerRun.from_json, run) for run in data["runs"])
        return cls._from(data, runs=runs)


@dataclass(frozen=True)
class Containers(Record):
    sizes: ImageSizes
    cold_start: Mapping[str, ImageColdStart | Skipped]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls(
            ImageSizes.from_json(data["sizes"]),
            _each(lambda start: skipped_or(ImageColdStart.from_json, start), data["cold_start"]),
        )


# --- load on the compose stack ----------------------------------------------------------------


@dataclass(frozen=True)
class LoadRun(Record):
    """Concurrent requests to one function, answers checked against sequential ones (bench.load)."""

    function: str
    requests: int
    distinct_inputs: int
    concurrency: int
    errors: int
    error_samples: tuple[str, ...]
    mismatches: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    rss_before_mb: float | None
    rss_after_mb: float | None
    rss_growth_mb: float | None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, error_samples=tuple(data["error_samples"]))


# --- Design 1 vs Design 2 (bench.designs) ------------------------------------------------------


@dataclass(frozen=True)
class HopAdded(Record):
    """What one path adds over the serving container's /invocations, in ms."""

    p50_ms: float  # p50(path) - p50(serve)
    p90_ms: float  # p90(path) - p90(serve)
    paired_median_ms: float  # median over the rounds of (path - serve) in the same round
    paired_p25_ms: float | None = None  # the spread of those differences
    paired_p75_ms: float | None = None


@dataclass(frozen=True)
class DesignHop(Record):
    """Sequential requests of one service through each path, interleaved round by round."""

    service: str
    input_words: int  # NER text or QA context
    distinct_inputs: int
    rounds: int
    warmup_rounds: int
    paths: Mapping[str, Latency]  # serve, design2, design1
    added: Mapping[str, HopAdded]  # design2, design1 (over serve)
    errors: int
    error_samples: tuple[str, ...]
    mismatches: int  # answers differing from the serving container's to the same input

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            paths=_each(Latency.from_json, data["paths"]),
            added=_each(HopAdded.from_json, data["added"]),
            error_samples=tuple(data["error_samples"]),
        )


@dataclass(frozen=True)
class ServeColdRun(Record):
    """``docker run IMAGE serve`` to each step of SageMaker's start-up contract, in seconds."""

    started_s: float  # docker run -> the container's State.StartedAt
    connect_s: float | None  # docker run -> TCP connect on 8080 accepted (None: not probed)
    connect_at_first_probe: bool  # the first probe after the start already connected
    ping_s: float  # docker run -> first GET /ping 200
    answer_s: float  # docker run -> first POST /invocations 200
    workers: int | None  # what the container said it started
    # The first /invocations after /ping 200 (503: a worker other than the one that answered
    # the ping was still loading; answer_s is then the first 200 after retries)
    first_status: int = 200


@dataclass(frozen=True)
class DesignColdStarts(Record):
    """Cold starts of both designs, run after run (each run: every image once, in turn)."""

    design2: Mapping[str, tuple[ContainerRun | Failed, ...]]  # per service, through the RIE
    design1: Mapping[str, tuple[ServeColdRun | Failed, ...]]  # per service, `serve`
    # the front under the RIE, endpoints already up, per memory size (MB)
    front: Mapping[str, tuple[ContainerRun | Failed, ...]]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        def runs(
            parse: Callable[[JsonObject], T], items: list[JsonObject]
        ) -> tuple[T | Failed, ...]:
            return tuple(failed_or(parse, item) for item in items)

        return cls(
            design2=_each(lambda items: runs(ContainerRun.from_json, items), data["design2"]),
            design1=_each(lambda items: runs(ServeColdRun.from_json, items), data["design1"]),
            front=_each(lambda items: runs(ContainerRun.from_json, items), data["front"]),
        )


@dataclass(frozen=True)
class Designs(Record):
    """Design 1 (serving container, SageMaker runtime stand-in, front function) against Design 2
    (the function under the RIE), same images, one run (bench.designs)."""

    images: Mapping[str, str]  # ner, qa, front, base (the stand-in's)
    memory_mb: int  # the model containers', both designs
    cpus: str
    front_memory_mb: int
    front_cpus: str
    serve_workers: Mapping[str, int | None]  # per service, as the serving container logged it
    concurrency: int
    hop: Mapping[str, DesignHop | Failed]  # per service
    load: Mapping[str, Mapping[str, LoadRun] | Failed]  # per service: design1, design2
    cold: DesignColdStarts | Failed
    load_avg: tuple[float, float]  # 1-minute load average at the section's start and end
    elapsed_s: float

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            hop=_each(lambda item: failed_or(DesignHop.from_json, item), data["hop"]),
            load=_each(
                lambda item: failed_or(lambda runs: _each(LoadRun.from_json, runs), item),
                data["load"],
            ),
            cold=failed_or(DesignColdStarts.from_json, data["cold"]),
            load_avg=(data["load_avg"][0], data["load_avg"][1]),
        )


# --- cost -------------------------------------------------------------------------------------


class LambdaPrices(TypedDict):
    gb_second: float
    per_million_requests: float
    mb_per_vcpu: int
    max_vcpus: int


class ProvisionedPrices(TypedDict):
    gb_second_provisioned: float
    gb_second_duration: float


class SnapStartPrices(TypedDict):
    cache_gb_second: float
    restore_per_gb: float


class SageMakerPrices(TypedDict):
    instance: str
    hourly: float


class FrontLambdaPrices(TypedDict):
    memory_mb: int
    overhead_ms: float


#: bench/prices.json, the keys the cost model reads (sources and notes ride along into the report).
Prices = TypedDict(
    "Prices",
    {
        "recorded": str,
        "lambda": LambdaPrices,
        "provisioned_concurrency": ProvisionedPrices,
        "snapstart": SnapStartPrices,
        "sagemaker_realtime": SageMakerPrices,
        "design1_front_lambda": FrontLambdaPrices,
    },
)


@dataclass(frozen=True)
class Design1Cost(Record):
    """Lambda in front of one always-on SageMaker real-time instance."""

    fixed_month: float
    variable_per_m: float
    capacity_month: float
    instance: str


@dataclass(frozen=True)
class LambdaModes(Record):
    """USD per million requests and fixed USD per month per cold-start mode, at one memory size."""

    duration_s: float
    on_demand_per_m: float
    snapstart_per_m: float
    snapstart_fixed_month: float
    provisioned_per_m: float
    provisioned_fixed_month: float
    provisioned_capacity_month: float  # requests one warm environment serves, one at a time


@dataclass(frozen=True)
class CostRow(Record):
    """One memory size; JSON has the modes' keys inline."""

    memory_mb: int
    vcpus: float
    modes: LambdaModes
    break_even_design1: float | None  # requests/month; None: never
    break_even_provisioned: float | None
    break_even_snapstart: float | None

    def to_json(self) -> JsonObject:
        data = super().to_json()
        return {
            "memory_mb": data.pop("memory_mb"),
            "vcpus": data.pop("vcpus"),
            **data.pop("modes"),
            **data,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, modes=LambdaModes.from_json(data))


@dataclass(frozen=True)
class CostTable(Record):
    workload: str
    warm_s_2_threads: float
    init_s: float
    cold_fraction: float
    restore_s_assumed: float
    design1: Design1Cost
    rows: tuple[CostRow, ...]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            design1=Design1Cost.from_json(data["design1"]),
            rows=tuple(CostRow.from_json(row) for row in data["rows"]),
        )


@dataclass(frozen=True)
class CostSection(Record):
    prices: Prices
    tables: Mapping[str, CostTable]  # per workload key (qa-150w-<engine>, ner-100w)

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, tables=_each(CostTable.from_json, data["tables"]))


# --- the checkpoint's tokenizer and INT8 fidelity ---------------------------------------------


@dataclass(frozen=True)
class TokenCount(Record):
    context_tokens: int
    tokens_per_word: float


@dataclass(frozen=True)
class TokenNote(Record):
    """Context tokens per context size with the checkpoint's tokenizer (bench.checkpoint)."""

    pieces: int  # SentencePiece pieces
    sizes: Mapping[str, TokenCount]  # per context size (words)

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        if "sizes" not in data:  # a report.json from before the piece count: 1000 pieces
            return cls(1000, _each(TokenCount.from_json, data))
        return cls(data["pieces"], _each(TokenCount.from_json, data["sizes"]))


@dataclass(frozen=True)
class LogitFidelity(Record):
    windows: int
    cosine: float
    max_abs_error: float
    max_abs_logit: float


@dataclass(frozen=True)
class Fidelity(Record):
    """INT8 vs fp32, as tools.quantize writes it to ``int8/fidelity.json``."""

    logits: Mapping[str, LogitFidelity]  # per window length
    answers_agree: int
    answers_total: int
    examples: tuple[Mapping[str, str], ...]  # {"fp32": ..., "int8": ...}

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            logits=_each(LogitFidelity.from_json, data["logits"]),
            examples=tuple(data["examples"]),
        )


# --- the whole run: report.json ---------------------------------------------------------------


@dataclass(frozen=True)
class GatedModel(Record):
    """The bench's gate-checked model (bench.checkpoint.prepare_gated) and the gate's verdict."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int
    trained_width: int  # the width it was trained at, before tools.widen
    train_minutes: float
    torch_heldout_em: float  # transformers on the held-out split, after training
    widen_logit_difference: float  # widened vs trained logits, largest absolute difference
    gate_passed: bool
    gate_reason: str
    recipe: str
    serving: str  # what QA_PRECISION=auto serves for it: int8 or fp32


@dataclass(frozen=True)
class DefaultPrecision(Record):
    """QA end to end at the default precision (auto) on a model whose answers the gate can judge,
    beside the transformers pipeline on the same checkpoint."""

    model: GatedModel
    qa: Mapping[str, QaRun | Failed]  # per engine
    tokens: TokenNote | None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        tokens = data.get("tokens")
        return cls._from(
            data,
            model=GatedModel.from_json(data["model"]),
            qa=_each(lambda run: failed_or(QaRun.from_json, run), data["qa"]),
            tokens=TokenNote.from_json(tokens) if tokens else None,
        )


@dataclass(frozen=True)
class BenchResults(Record):
    """Everything one ``make bench`` measured; report.json is its JSON form."""

    mode: str  # full, medium or quick
    plan: Plan
    machine: Machine
    threads: int
    qa: Mapping[str, QaRun | Failed]  # per engine
    cold: Mapping[str, ColdStart]  # per process kind
    ner: NerRun | Failed
    containers: Containers | Skipped
    load: Mapping[str, LoadRun] | Skipped | None  # None in a report.json from before the load
    cost: CostSection
    tokens_per_window_note: TokenNote | None
    fidelity: Fidelity | None
    elapsed_s: float
    # None in a report.json from before the section
    designs: Designs | Skipped | Failed | None = None
    default_precision: DefaultPrecision | Skipped | Failed | None = None
    # bench.contention's and bench.front_memory's sections as their own JSON (those modules
    # define and read their records; records.py does not import them). None: not in the run.
    contention: JsonObject | None = None
    front_memory: JsonObject | None = None
    # bench.families' section (per model family), raw JSON too. None: not in the run.
    families: JsonObject | None = None
    # bench.gemm_floor's section, raw JSON too. None: not in the run.
    gemm_floor: JsonObject | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        load, tokens, fidelity, designs, default = (
            data.get(k)
            for k in ("load", "tokens_per_window_note", "fidelity", "designs", "default_precision")
        )
        return cls._from(
            data,
            plan=Plan.from_json(data["plan"]),
            machine=Machine.from_json(data["machine"]),
            qa=_each(lambda run: failed_or(QaRun.from_json, run), data["qa"]),
            cold=_each(ColdStart.from_json, data["cold"]),
            ner=failed_or(NerRun.from_json, data["ner"]),
            containers=skipped_or(Containers.from_json, data["containers"]),
            load=skipped_or(lambda runs: _each(LoadRun.from_json, runs), load) if load else None,
            cost=CostSection.from_json(data["cost"]),
            tokens_per_window_note=TokenNote.from_json(tokens) if tokens else None,
            fidelity=Fidelity.from_json(fidelity) if fidelity else None,
            designs=_designs(designs),
            default_precision=None
            if default is None
            else skipped_or(lambda item: failed_or(DefaultPrecision.from_json, item), default),
        )


def _designs(data: JsonObject | None) -> Designs | Skipped | Failed | None:
    if data is None:
        return None
    return skipped_or(lambda item: failed_or(Designs.from_json, item), data)
