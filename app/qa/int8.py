"""The INT8 forward: quantized graphs made by :mod:`tools.quantize`, loaded and run.

``QaModel.load(precision="int8")`` calls :func:`load_int8`: the graph is imported once, and every
new (batch, length) shape gets its own static-shape SymbolBlock over the *same* parameters,
because a static-shape graph re-initialises on a new shape (slow) and the buckets are few and
warmed up at init. Making the artefact (calibration, fidelity) is the offline tool's job.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import ModelLoadError, error_summary
from app.qa.runtime import mxnet as _mx

FloatArray = npt.NDArray[np.float32]
Array = npt.NDArray[Any]
#: The graph forms quantized: the masked graph (ids, types, mask) only. Nearly every window is
#: padded to its bucket, so the unmasked form ran only when a window filled its bucket exactly,
#: and it doubled the shapes init must warm (docs/performance.md).
FORMS = ("padded",)
#: Windows per INT8 batch beyond one: 2 or 3 windows run as 4 (one warmed shape per bucket).
BATCH_STEP = 4


class Int8Runner:
    """(ids, types, mask) (B, T) -> start, end logits (B, T) through the INT8 graphs."""

    def __init__(self, graphs: dict[str, Any]) -> None:
        self._graphs = graphs  # form -> the imported SymbolBlock (parameter owner)
        self._blocks: dict[tuple[str, int, int], Any] = {}

    def _block(self, form: str, shape: tuple[int, int]) -> Any:
        key = (form, *shape)
        block = self._blocks.get(key)
        if block is None:
            mx = _mx()
            owner = self._graphs[form]
            names = ["data0", "data1"] + (["data2"] if form == "padded" else [])
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Cannot decide type", UserWarning)
                block = mx.gluon.SymbolBlock(
                    owner._cached_graph[1], [mx.sym.var(n) for n in names], params=owner.params
                )
            block.hybridize(static_alloc=True, static_shape=True)
            self._blocks[key] = block
        return block

    def __call__(
        self, input_ids: Array, token_type_ids: Array, attention_mask: Array
    ) -> tuple[FloatArray, FloatArray]:
        mx = _mx()
        rows = int(input_ids.shape[0])
        padded_rows = _batch_bucket(rows)
        if padded_rows != rows:
            # Repeat the last window so the batch has a warmed-up shape; its logits are dropped.
            fill = np.arange(padded_rows).clip(max=rows - 1)
            input_ids, token_type_ids, attention_mask = (
                a[fill] for a in (input_ids, token_type_ids, attention_mask)
            )
        shape = (padded_rows, int(input_ids.shape[1]))
        out = self._block("padded", shape)(
            mx.nd.array(input_ids, dtype="float32"),
            mx.nd.array(token_type_ids, dtype="float32"),
            mx.nd.array(attention_mask, dtype="float32"),
        )
        logits = out.asnumpy().astype(np.float32, copy=False)[:, :rows]
        return logits[0], logits[1]


def _batch_bucket(rows: int) -> int:
    """Batch sizes the INT8 graphs run at: 1, then multiples of BATCH_STEP.

    Every new (batch, length) shape builds and initialises a graph (hundreds of ms); the service
    sends chunks of up to 4 windows and warms batches 1 and 4, so 2 or 3 windows run as 4.
    """
    return rows if rows <= 1 else -(-rows // BATCH_STEP) * BATCH_STEP


def load_int8(int8_dir: Path, fp32_params: Any = None) -> Int8Runner:
    """Import the quantized graphs from ``int8_dir`` (the seam ``QaModel.load`` calls).

    The quantized graph's weights are the fp32 model's own, unchanged (its ops quantize them at
    their first call), so :mod:`tools.quantize` stores none: the graph reads ``fp32_params``, the
    loaded fp32 net's ``collect_params()``, and INT8 costs no second copy on disk or in memory.
    An artefact that holds its own ``{form}-0000.params`` (made before, or by a recipe that
    changed weights) loads those instead.
    """
    mx = _mx()
    graphs: dict[str, Any] = {}
    for form in FORMS:
        symbol, params = int8_dir / f"{form}-symbol.json", int8_dir / f"{form}-0000.params"
        own = params.is_file()
        if not symbol.is_file() or not (own or fp32_params is not None):
            raise ModelLoadError(
                f"The INT8 artefact {int8_dir} lacks {symbol.name} or {params.name}; rebuild it "
                f"with `make quantize MODEL_DIR={int8_dir.parent}` or set QA_PRECISION=fp32."
            )
        names = ["data0", "data1"] + (["data2"] if form == "padded" else [])
        try:
            sym = mx.sym.load(str(symbol))
            if not own:
                weights = set(sym.list_arguments() + sym.list_auxiliary_states()) - set(names)
                missing = sorted(weights - set(fp32_params.keys()))
                if missing:
                    raise ValueError(
                        f"its graph reads {len(missing)} weights the model lacks, e.g. {missing[0]}"
                    )
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Cannot decide type", UserWarning)
                block = mx.gluon.SymbolBlock(
                    sym, [mx.sym.var(n) for n in names], params=None if own else fp32_params
                )
            if own:
                block.collect_params().load(
                    str(params),
                    ctx=mx.cpu(),
                    cast_dtype=True,
                    dtype_source="saved",
                    ignore_extra=True,
                )
        except (mx.base.MXNetError, AssertionError, ValueError) as exc:
            raise ModelLoadError(
                f"The INT8 artefact {int8_dir} is corrupt or was made by another version "
                f"({error_summary(exc)}). Rebuild it with `make quantize MODEL_DIR={int8_dir.parent}`."
            ) from None
        block._cached_graph = ([mx.sym.var(n) for n in names], sym)
        graphs[form] = block
    return Int8Runner(graphs)


#: The accuracy gate's verdict in the artefact, written by ``tools.int8_gate``.
GATE_FILE = "gate.json"


@dataclass(frozen=True)
class Gate:
    """What the INT8 artefact's accuracy gate decided: ``passed`` is None when no gate ran."""

    passed: bool | None
    reason: str
    figures: dict[str, Any]


def read_gate(int8_dir: Path) -> Gate:
    """The verdict in ``int8_dir/gate.json``; an artefact without one has not earned INT8."""
    path = int8_dir / GATE_FILE
    if not int8_dir.is_dir():
        return Gate(None, f"no INT8 artefact ({int8_dir})", {})
    if not path.is_file():
        return Gate(
            None,
            f"the INT8 artefact has no accuracy gate ({path} is missing; "
            f"`make quantize MODEL_DIR={int8_dir.parent} CHECK_SET=squad` runs it)",
            {},
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        passed, reason = data["passed"], str(data["reason"])
        if not isinstance(passed, bool):
            raise TypeError("passed is not a boolean")
    except (ValueError, KeyError, TypeError) as exc:
        return Gate(None, f"the INT8 accuracy gate {path} is unreadable ({error_summary(exc)})", {})
    figures = data.get("figures") if isinstance(data.get("figures"), dict) else {}
    return Gate(passed, f"accuracy gate {reason}", figures)
