"""Extractive-QA encoders on Apache MXNet Gluon: the only module that imports mxnet.

One graph serves every family (:mod:`app.qa.families`), driven only by :class:`Architecture`:
word + token-type + position embeddings (positions from ``position_offset``), LayerNorm, a Dense
E -> H when ``embedding_projection`` (ALBERT's factorised embedding); then post-LN transformer
layers (fused self-attention, then gluonnlp's ``PositionwiseFFN``), one shared layer applied
``num_hidden_layers`` times when ``shared_layers`` (ALBERT) or that many layers of their own
(BERT, DistilBERT, RoBERTa); a Dense(2) head. gluonnlp 0.10 has no ALBERT, hence the assembly here.

The graph works in MXNet's (T, B, C) sequence-major layout because the MKL-DNN fused attention
ops ``interleaved_matmul_selfatt_qk`` / ``_valatt`` want it, with Q, K and V projected by one
Dense whose rows are interleaved per head: ``[q_h0, k_h0, v_h0, q_h1, ...]`` (each head_dim rows).

mxnet is imported lazily (:func:`_mx`) so importing this module is cheap and ``load`` can set
``OMP_NUM_THREADS`` before mxnet reads it at import.
"""

from __future__ import annotations

import ctypes
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import ModelLoadError, error_summary
from app.qa.int8 import load_int8, read_gate
from app.qa.modeldir import INT8_DIR, Architecture, QaConfig
from app.qa.runtime import configure_threads, load_kernels
from app.qa.runtime import gluonnlp as _nlp
from app.qa.runtime import mxnet as _mx

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Array = npt.NDArray[Any]
#: Signature of an INT8 runner: (input_ids, token_type_ids, attention_mask) -> (start, end).
Runner = Callable[[Array, Array, Array], tuple[FloatArray, FloatArray]]

# Additive attention mask for padded keys: exp(-1e4) underflows to exactly 0 in float32.
_MASK_VALUE = -10000.0


def _activation(kind: str) -> Any:
    """The checkpoint's ``hidden_act`` as the activation of gluonnlp's ``PositionwiseFFN``."""
    nlp = _nlp()
    if kind == "gelu_new":  # ALBERT's default: the tanh approximation
        return _tanh_gelu()
    if kind == "gelu":  # the exact erf form (MXNet's fused LeakyReLU gelu)
        return nlp.model.GELU()
    return "relu"


def _tanh_gelu() -> Any:
    """ALBERT's ``gelu_new``, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as one op.

    ``lnlp_gelu_tanh`` (:mod:`app.qa.kernels`) computes it in one pass. Without the library, the
    same formula runs as mxnet ops: ``x * x * x`` rather than ``x ** 3`` (the generic power op
    made the whole forward 10-15% slower) and oneDNN's ``Activation(tanh)`` rather than
    ``F.tanh`` (mshadow's scalar tanh took 27 ms on a (384, 3072) array, oneDNN 0.4 ms).
    """
    nlp = _nlp()
    fused = load_kernels()

    class TanhGelu(nlp.model.GELU):  # type: ignore[misc,name-defined]
        def hybrid_forward(self, F: Any, x: Any) -> Any:
            if fused:
                return F.lnlp_gelu_tanh(x)
            inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))
            return 0.5 * x * (1.0 + F.Activation(inner, act_type="tanh"))

    return TanhGelu(approximate=True)


def build_net(arch: Architecture) -> Any:
    """The fp32 QA HybridBlock for ``arch`` (parameters not initialised).

    Inputs: input_ids, token_type_ids (B, T) float32 and optionally attention_mask (B, T)
    float32 (1 = token, 0 = pad). Output: (2, B, T) float32, start then end logits.

    Gluon prefixes make the node names :mod:`tools.quantize` matches: ``qanet_embeddings_*``,
    ``qanet_layer_*`` (the shared layer, every application) or ``qanet_layer{i}_*`` (layer i of
    their own), ``qanet_qa_outputs_fwd``.
    """
    mx = _mx()
    nn = mx.gluon.nn
    Base: Any = mx.gluon.HybridBlock
    fused = load_kernels()

    class Embeddings(Base):  # type: ignore[misc]
        """Word + token type + position embedding, LayerNorm[, Dense E -> H]: (B, T) -> (T, B, H)."""

        def __init__(self) -> None:
            super().__init__(prefix="embeddings_")
            with self.name_scope():
                e = arch.embedding_size
                self.word_embed = nn.Embedding(arch.vocab_size, e, prefix="word_")
                self.position_embed = nn.Embedding(arch.max_position_embeddings, e, prefix="pos_")
                self.token_type_embed = nn.Embedding(arch.type_vocab_size, e, prefix="type_")
                self.layer_norm = nn.LayerNorm(epsilon=arch.layer_norm_eps, in_channels=e)
                if arch.embedding_projection:
                    self.proj = nn.Dense(
                        arch.hidden_size, flatten=False, in_units=e, prefix="proj_"
                    )

        def hybrid_forward(self, F: Any, input_ids: Any, token_type_ids: Any) -> Any:
            ids = F.transpose(input_ids)  # (T, B)
            # (T,) position ids; RoBERTa's count from its padding index + 1.
            offset = {"start": arch.position_offset} if arch.position_offset else {}
            positions = F.contrib.arange_like(ids, axis=0, **offset)
            x = self.word_embed(ids) + self.token_type_embed(F.transpose(token_type_ids))
            x = F.broadcast_add(x, F.expand_dims(self.position_embed(positions), axis=1))
            x = self.layer_norm(x)
            return self.proj(x) if arch.embedding_projection else x

    class Layer(Base):  # type: ignore[misc]
        """One post-LN transformer layer: (T, B, H) -> (T, B, H).

        Self-attention on the fused interleaved ops, then gluonnlp's ``PositionwiseFFN``
        (Dense -> activation -> Dense, residual, LayerNorm): the same block gluonnlp's
        ``BERTEncoderCell`` ends with, here with the checkpoint's activation and epsilon.
        """

        def __init__(self, prefix: str) -> None:
            super().__init__(prefix=prefix)
            h, i = arch.hidden_size, arch.intermediate_size
            with self.name_scope():
                self.qkv = nn.Dense(3 * h, flatten=False, in_units=h, prefix="qkv_")
                self.attn_out = nn.Dense(h, flatten=False, in_units=h, prefix="attn_out_")
                self.attn_norm = nn.LayerNorm(epsilon=arch.layer_norm_eps, in_channels=h)
                self.ffn = _nlp().model.PositionwiseFFN(
                    units=h,
                    hidden_size=i,
                    dropout=0.0,
                    use_residual=True,
                    activation=_activation(arch.hidden_act),
                    layer_norm_eps=arch.layer_norm_eps,
                    prefix="ffn_",
                )

        def hybrid_forward(self, F: Any, x: Any, mask: Any = None) -> Any:
            heads = arch.num_attention_heads
            qkv = self.qkv(x)  # (T, B, 3H) interleaved per head
            scores = F.contrib.interleaved_matmul_selfatt_qk(qkv, heads=heads)  # (B*heads, T, T)
            if mask is not None and fused:
                # The additive padding mask and the softmax in one pass (app/qa/kernels).
                probs = F.lnlp_masked_softmax(scores, mask)
            else:
                if mask is not None:
                    # (B*heads, T, T) -> (B, heads, T, T) + (B, 1, 1, T) -> back
                    scores = F.reshape(scores, shape=(-4, -1, heads, -2))
                    bias = F.expand_dims(F.expand_dims((1.0 - mask) * _MASK_VALUE, axis=1), axis=1)
                    scores = F.reshape(F.broadcast_add(scores, bias), shape=(-3, -2))
                probs = F.softmax(scores, axis=-1)
            context = F.contrib.interleaved_matmul_selfatt_valatt(qkv, probs, heads=heads)
            x = self.attn_norm(x + self.attn_out(context))
            return self.ffn(x)

    class QaNet(Base):  # type: ignore[misc]
        """Embeddings, ``num_hidden_layers`` layer applications, Dense(2).

        ``layer`` is the one shared layer (``shared_layers``), else ``layers[i]`` layer i.
        """

        def __init__(self) -> None:
            super().__init__(prefix="qanet_")
            with self.name_scope():
                self.embeddings = Embeddings()
                if arch.shared_layers:
                    self.layer = Layer("layer_")
                else:
                    self.layers = nn.HybridSequential(prefix="")
                    with self.layers.name_scope():
                        for index in range(arch.num_hidden_layers):
                            self.layers.add(Layer(f"layer{index}_"))
                self.qa_outputs = nn.Dense(
                    2, flatten=False, in_units=arch.hidden_size, prefix="qa_outputs_"
                )

        def stack(self) -> list[Any]:
            """The layer applied at each depth, in order."""
            if arch.shared_layers:
                return [self.layer] * arch.num_hidden_layers
            return [self.layers[index] for index in range(arch.num_hidden_layers)]

        def hybrid_forward(
            self, F: Any, input_ids: Any, token_type_ids: Any, attention_mask: Any = None
        ) -> Any:
            x = self.embeddings(input_ids, token_type_ids)
            for layer in self.stack():
                x = layer(x, attention_mask)
            return F.transpose(self.qa_outputs(x), axes=(2, 1, 0))  # (2, B, T)

    return QaNet()


def _masked_graph(body: Any) -> Any:
    """The hybridized graph every forward runs: (ids, types, mask) over ``body``'s parameters.

    One form only: requests pad every window to its bucket, so an unmasked graph would run only
    when a window filled its bucket exactly, and each form is a graph to warm per shape.
    """
    Base: Any = _mx().gluon.HybridBlock

    class Padded(Base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(prefix="")
            self.body = body

        def hybrid_forward(self, F: Any, input_ids: Any, token_type_ids: Any, mask: Any) -> Any:
            return self.body(input_ids, token_type_ids, mask)

    graph = Padded()
    graph.hybridize(static_alloc=True, static_shape=True)
    return graph


def write_params(arch: Architecture, arrays: Mapping[str, Array], path: Path) -> None:
    """Save ``arrays`` (structural names, see :func:`param_shapes`) as a Gluon params file.

    Raises ModelLoadError when a name is missing or unknown or a shape differs.
    """
    mx = _mx()
    net = build_net(arch)
    params = net._collect_params_with_prefix()
    missing = sorted(set(params) - set(arrays))
    extra = sorted(set(arrays) - set(params))
    if missing or extra:
        raise ModelLoadError(f"parameter names differ: missing {missing}, unexpected {extra}")
    for name, param in params.items():
        value = np.asarray(arrays[name], dtype=np.float32)
        # gluonnlp's Dense layers infer their input size (0 until the first call or load).
        if len(value.shape) != len(param.shape) or any(
            want not in (0, got) for want, got in zip(param.shape, value.shape, strict=True)
        ):
            raise ModelLoadError(f"{name} has shape {value.shape}, the graph wants {param.shape}")
        param._load_init(mx.nd.array(value, dtype="float32"), mx.cpu())
    net.save_parameters(str(path))


def param_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Structural parameter name -> shape, as stored in ``model.params``.

    Layer parameters are ``layer.*`` for the shared layer and ``layers.{i}.*`` otherwise; the
    ``embeddings.proj.*`` Dense exists only with ``embedding_projection``.
    """
    h, e, i = arch.hidden_size, arch.embedding_size, arch.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embed.weight": (arch.vocab_size, e),
        "embeddings.position_embed.weight": (arch.max_position_embeddings, e),
        "embeddings.token_type_embed.weight": (arch.type_vocab_size, e),
        "embeddings.layer_norm.gamma": (e,),
        "embeddings.layer_norm.beta": (e,),
    }
    if arch.embedding_projection:
        shapes["embeddings.proj.weight"] = (h, e)
        shapes["embeddings.proj.bias"] = (h,)
    layer = {
        "qkv.weight": (3 * h, h),
        "qkv.bias": (3 * h,),
        "attn_out.weight": (h, h),
        "attn_out.bias": (h,),
        "attn_norm.gamma": (h,),
        "attn_norm.beta": (h,),
        "ffn.ffn_1.weight": (i, h),
        "ffn.ffn_1.bias": (i,),
        "ffn.ffn_2.weight": (h, i),
        "ffn.ffn_2.bias": (h,),
        "ffn.layer_norm.gamma": (h,),
        "ffn.layer_norm.beta": (h,),
    }
    for prefix in layer_prefixes(arch):
        shapes.update({prefix + name: shape for name, shape in layer.items()})
    shapes["qa_outputs.weight"] = (2, h)
    shapes["qa_outputs.bias"] = (2,)
    return shapes


def layer_prefixes(arch: Architecture) -> list[str]:
    """The structural name prefix of each layer with parameters of its own: ``["layer."]``
    (shared) or ``["layers.0.", "layers.1.", ...]``."""
    if arch.shared_layers:
        return ["layer."]
    return [f"layers.{index}." for index in range(arch.num_hidden_layers)]


class QaModel:
    """A loaded QA model (any family): numpy in, numpy out.

    ``net`` is the fp32 HybridBlock holding the parameters (call it with ids, types[, mask]);
    ``graph_padded`` is its hybridized masked form, the one every forward runs and
    :mod:`tools.quantize` makes INT8 from. ``int8_runner`` replaces the fp32 forward when
    ``precision="int8"``: ``app.qa.int8.load_int8(int8_dir, net.collect_params())``, whose graph
    reads the same weights.
    """

    def __init__(
        self,
        config: QaConfig,
        net: Any,
        *,
        precision: str = "fp32",
        num_threads: int = 1,
        int8_runner: Runner | None = None,
    ) -> None:
        self.config = config
        self.net = net
        # Inference only: with no gradients wanted, the cached graphs need no backward pass
        # (the kernel op has none) and hold no gradient buffers.
        net.collect_params().setattr("grad_req", "null")
        self.graph_padded = _masked_graph(net)
        self.precision = precision
        self.num_threads = num_threads
        self.int8_runner = int8_runner
        self.load_seconds = 0.0
        #: Why this precision serves (the accuracy gate's verdict and figures), and a warning
        #: when INT8 was forced past a failed or missing gate; /health reports both.
        self.precision_reason = "QA_PRECISION=fp32" if precision == "fp32" else ""
        self.precision_warning: str | None = None
        self.gate_figures: dict[str, Any] = {}

    @classmethod
    def load(
        cls, model_dir: Path, *, precision: str = "fp32", num_threads: int | None = None
    ) -> QaModel:
        """Read ``model_dir`` and build the hybridized graph; ModelLoadError says how to fix.

        ``precision`` is fp32, int8, or auto: int8 when ``model_dir/int8`` exists, its accuracy
        gate (``int8/gate.json``, :mod:`tools.int8_gate`) passed and mxnet can run it (1.9), else
        fp32. ``model.precision`` is the one in force, ``model.precision_reason`` why; forcing
        int8 past a gate that did not pass sets ``model.precision_warning``.
        """
        started = time.perf_counter()
        config = QaConfig.load(Path(model_dir))
        if precision not in ("auto", "fp32", "int8"):
            raise ModelLoadError(f"QA precision {precision!r} is unknown; use auto, fp32 or int8")
        int8_dir = config.int8_dir
        if precision == "int8" and not int8_dir.is_dir():
            raise ModelLoadError(
                f"QA precision int8 needs the quantized artefact {int8_dir}; create it with "
                f"`make quantize MODEL_DIR={config.model_dir}` or set QA_PRECISION=fp32"
            )
        threads = configure_threads(num_threads)
        mx = _mx()
        asked = precision
        gate = read_gate(int8_dir)
        reason, warning = "QA_PRECISION=fp32", None
        if precision == "auto":
            # mxnet-mkl 1.6 cannot run the INT8 artefact (quantize_net_v2 graphs are 1.9's).
            from app.qa.kernels import mxnet_supports_kernels

            if not mxnet_supports_kernels(mx.__version__):
                precision, reason = "fp32", f"auto: mxnet {mx.__version__} cannot run INT8"
            elif gate.passed:
                precision, reason = "int8", f"auto: INT8 {gate.reason}"
            else:
                precision, reason = "fp32", f"auto: {gate.reason}"
        elif precision == "int8":
            reason = "QA_PRECISION=int8"
            if not gate.passed:
                warning = f"INT8 forced by QA_PRECISION=int8, but {gate.reason}"
        # Also caps mxnet's own OpenMP operators when mxnet was imported before this load.
        mx.base._LIB.MXSetNumOMPThreads(ctypes.c_int(num_threads or threads))
        net = build_net(config.architecture)
        try:
            net.load_parameters(
                str(config.params_path), ctx=mx.cpu(), allow_missing=False, ignore_extra=False
            )
        except (AssertionError, ValueError, RuntimeError, mx.base.MXNetError) as exc:
            raise ModelLoadError(
                f"{config.params_path} does not match config.json or is corrupt "
                f"({error_summary(exc)}). "
                "Rebuild the model dir with `make models` or "
                "`python -m tools.convert --from-hf SOURCE --out DIR`."
            ) from None
        model = cls(config, net, precision=precision, num_threads=threads)
        if precision == "int8":
            model.int8_runner = load_int8(Path(config._dir()) / INT8_DIR, net.collect_params())
        model.precision_reason, model.precision_warning = reason, warning
        model.gate_figures = dict(gate.figures) if asked != "fp32" else {}
        model.load_seconds = time.perf_counter() - started
        log.info(
            "QA model loaded in %.2fs (%s, %d threads): %s",
            model.load_seconds,
            precision,
            threads,
            reason,
        )
        if warning:
            log.warning("%s", warning)
        return model

    def _check(self, input_ids: Array, token_type_ids: Array, attention_mask: Array) -> None:
        shape = np.shape(input_ids)
        if (
            len(shape) != 2
            or np.shape(token_type_ids) != shape
            or np.shape(attention_mask) != shape
        ):
            raise ValueError(
                "input_ids, token_type_ids and attention_mask must all be (B, T); got "
                f"{np.shape(input_ids)}, {np.shape(token_type_ids)}, {np.shape(attention_mask)}"
            )
        arch = self.config.architecture
        if shape[1] > arch.max_tokens:
            offset = f" from position {arch.position_offset}" if arch.position_offset else ""
            raise ValueError(
                f"sequence length {shape[1]} exceeds max_position_embeddings "
                f"{arch.max_position_embeddings}{offset}: at most {arch.max_tokens} tokens"
            )

    def forward(
        self, input_ids: Array, token_type_ids: Array, attention_mask: Array
    ) -> tuple[FloatArray, FloatArray]:
        """Start and end logits, each (B, T) float32, for (B, T) integer inputs.

        fp32 runs every batch through the masked graph: the additive mask costs about 1.5% of a
        forward (1,085 vs 1,066 ms at 384 tokens here), while a second graph would double the
        shapes to warm up during init. INT8 does the same with its quantized masked graph.
        """
        self._check(input_ids, token_type_ids, attention_mask)
        if self.int8_runner is not None:
            return self.int8_runner(input_ids, token_type_ids, attention_mask)
        mx = _mx()
        ids = mx.nd.array(input_ids, dtype="float32")
        types = mx.nd.array(token_type_ids, dtype="float32")
        out = self.graph_padded(ids, types, mx.nd.array(attention_mask, dtype="float32"))
        logits = out.asnumpy().astype(np.float32, copy=False)
        return logits[0], logits[1]

    def hidden_states(
        self, input_ids: Array, token_type_ids: Array, attention_mask: Array
    ) -> list[FloatArray]:
        """Embedding output then each layer's output, each (B, T, H) (for parity debugging)."""
        self._check(input_ids, token_type_ids, attention_mask)
        mx = _mx()
        ids = mx.nd.array(input_ids, dtype="float32")
        types = mx.nd.array(token_type_ids, dtype="float32")
        mask = mx.nd.array(attention_mask, dtype="float32")
        x = self.net.embeddings(ids, types)
        states = [x]
        for layer in self.net.stack():
            x = layer(x, mask)
            states.append(x)
        return [s.asnumpy().transpose(1, 0, 2).astype(np.float32) for s in states]

    def warmup(self, seq_lengths: Sequence[int], batch_sizes: Sequence[int] = (1,)) -> None:
        """Run each (batch, length) shape once, so requests pay no first-call cost."""
        for length in seq_lengths:
            for batch in batch_sizes:
                ids = np.full((batch, length), self.config.tokenizer.unk_token_id, dtype=np.int32)
                self.forward(ids, np.zeros_like(ids), np.ones_like(ids))
