"""Convert a transformers extractive-QA checkpoint into the project's model directory.

    python -m tools.convert --from-hf SOURCE --out DIR

Families (:mod:`app.qa.families`): ALBERT, BERT (cased or uncased), DistilBERT and RoBERTa, each
``*ForQuestionAnswering``. Each is described once below (:data:`CONVERTERS`): how its
``config.json`` maps onto :class:`Architecture`, and where its checkpoint keeps each parameter of
the one graph :mod:`app.qa.model` builds (:class:`WeightTable`).

SOURCE is a local checkpoint directory (``model.safetensors`` read with ``safetensors.numpy``,
no torch; ``pytorch_model.bin`` only if torch is installed) or a hub repo id, downloaded from
``HF_ENDPOINT`` with every request bounded (:func:`bound_hub_requests`). The weight mapping is
numpy; :mod:`app.qa.model` writes the Gluon params file and loads it back as a check. ALBERT's
``spiece.model`` is copied; the other families' fast tokenizer is written as ``tokenizer.json``
through transformers (which converts a slow-only checkpoint's vocabulary too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import ModelLoadError, error_summary
from app.qa.families import FAMILIES, TOKENIZERS, Family, family_for_model_type
from app.qa.model import layer_prefixes, param_shapes
from app.qa.modeldir import (
    PARAMS_FILE,
    SPIECE_FILE,
    SUPPORTED_ACTIVATIONS,
    Architecture,
    QaConfig,
    TokenizerSettings,
)

Array = npt.NDArray[Any]
DEFAULT_CHECKPOINT = "twmkn9/albert-base-v2-squad2"


class ConversionError(Exception):
    """The source checkpoint cannot be converted; the message says why and what to do."""


@dataclass(frozen=True)
class WeightTable:
    """Where a family's checkpoint keeps each parameter of the graph (structural names of
    :func:`app.qa.model.param_shapes` -> transformers names).

    ``embeddings`` and ``in_layer`` map structural names to names under ``base`` and under
    ``layer`` (``{i}`` is the layer index; a shared layer has none); ``None`` is a parameter the
    family does not have, written as zeros (DistilBERT's one-row token-type table). ``qkv``
    names the separate query, key and value Dense layers inside a layer, interleaved into
    ``qkv.*`` (:func:`interleave_qkv`). ``qa_outputs.*`` is top-level in every family.
    """

    base: str
    embeddings: Mapping[str, str | None]
    layer: str
    in_layer: Mapping[str, str]
    qkv: tuple[str, str, str]
    #: Prefixes of full names present in some checkpoints and unused by extractive QA.
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class FamilyConverter:
    """One family as the converter knows it: its config mapping and its weight table."""

    family: Family
    qa_class: str
    architecture: Callable[[Mapping[str, Any]], dict[str, Any]]
    weights: WeightTable
    #: Appended to the error for weights the graph does not use.
    unknown_hint: str = ""
    #: The tokenizer files a checkpoint may have, any one set of them (``tokenizers`` families).
    tokenizer_files: tuple[tuple[str, ...], ...] = ()


def _albert_architecture(c: Mapping[str, Any]) -> dict[str, Any]:
    groups = c.get("num_hidden_groups", 1)
    inner = c.get("inner_group_num", 1)
    if groups != 1 or inner != 1:
        raise ConversionError(
            f"num_hidden_groups={groups}, inner_group_num={inner}: only 1 and 1 (every ALBERT "
            "release) are supported"
        )
    return {
        "vocab_size": c["vocab_size"],
        "embedding_size": c["embedding_size"],
        "hidden_size": c["hidden_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"],
        "intermediate_size": c["intermediate_size"],
        "hidden_act": c.get("hidden_act", "gelu_new"),
        "max_position_embeddings": c["max_position_embeddings"],
        "type_vocab_size": c.get("type_vocab_size", 2),
        "layer_norm_eps": c.get("layer_norm_eps", 1e-12),
        "embedding_projection": True,
        "shared_layers": True,
        "position_offset": 0,
    }


def _bert_architecture(c: Mapping[str, Any]) -> dict[str, Any]:
    """BertConfig's names and defaults (RoBERTa's config is a BertConfig too)."""
    kind = c.get("position_embedding_type", "absolute")
    if kind != "absolute":
        raise ConversionError(
            f"position_embedding_type {kind!r}: only absolute position embeddings are supported"
        )
    return {
        "vocab_size": c["vocab_size"],
        "embedding_size": c["hidden_size"],
        "hidden_size": c["hidden_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"],
        "intermediate_size": c["intermediate_size"],
        "hidden_act": c.get("hidden_act", "gelu"),
        "max_position_embeddings": c["max_position_embeddings"],
        "type_vocab_size": c.get("type_vocab_size", 2),
        "layer_norm_eps": c.get("layer_norm_eps", 1e-12),
        "embedding_projection": False,
        "shared_layers": False,
        "position_offset": 0,
    }


def _roberta_architecture(c: Mapping[str, Any]) -> dict[str, Any]:
    """BERT's, with positions counted from the padding index + 1 (fairseq's convention)."""
    return {**_bert_architecture(c), "position_offset": int(c.get("pad_token_id", 1)) + 1}


def _distilbert_architecture(c: Mapping[str, Any]) -> dict[str, Any]:
    """DistilBertConfig's own names; no token types (a one-row zero table) and LayerNorm
    epsilon 1e-12, fixed in transformers' code rather than in the config."""
    return {
        "vocab_size": c["vocab_size"],
        "embedding_size": c["dim"],
        "hidden_size": c["dim"],
        "num_hidden_layers": c["n_layers"],
        "num_attention_heads": c["n_heads"],
        "intermediate_size": c["hidden_dim"],
        "hidden_act": c.get("activation", "gelu"),
        "max_position_embeddings": c["max_position_embeddings"],
        "type_vocab_size": 1,
        "layer_norm_eps": 1e-12,
        "embedding_projection": False,
        "shared_layers": False,
        "position_offset": 0,
    }


def _bert_like_embeddings() -> dict[str, str | None]:
    return {
        "embeddings.word_embed.weight": "embeddings.word_embeddings.weight",
        "embeddings.position_embed.weight": "embeddings.position_embeddings.weight",
        "embeddings.token_type_embed.weight": "embeddings.token_type_embeddings.weight",
        "embeddings.layer_norm.gamma": "embeddings.LayerNorm.weight",
        "embeddings.layer_norm.beta": "embeddings.LayerNorm.bias",
    }


def _bert_like(base: str, ignored: tuple[str, ...]) -> WeightTable:
    """BERT's layout, which RoBERTa keeps under its own prefix."""
    return WeightTable(
        base=base,
        embeddings=_bert_like_embeddings(),
        layer="encoder.layer.{i}.",
        in_layer={
            "attn_out.weight": "attention.output.dense.weight",
            "attn_out.bias": "attention.output.dense.bias",
            "attn_norm.gamma": "attention.output.LayerNorm.weight",
            "attn_norm.beta": "attention.output.LayerNorm.bias",
            "ffn.ffn_1.weight": "intermediate.dense.weight",
            "ffn.ffn_1.bias": "intermediate.dense.bias",
            "ffn.ffn_2.weight": "output.dense.weight",
            "ffn.ffn_2.bias": "output.dense.bias",
            "ffn.layer_norm.gamma": "output.LayerNorm.weight",
            "ffn.layer_norm.beta": "output.LayerNorm.bias",
        },
        qkv=("attention.self.query", "attention.self.key", "attention.self.value"),
        ignored=(
            f"{base}pooler.",
            f"{base}embeddings.position_ids",
            f"{base}embeddings.token_type_ids",
            *ignored,
        ),
    )


_ALBERT_WEIGHTS = WeightTable(
    base="albert.",
    embeddings={
        **_bert_like_embeddings(),
        "embeddings.proj.weight": "encoder.embedding_hidden_mapping_in.weight",
        "embeddings.proj.bias": "encoder.embedding_hidden_mapping_in.bias",
    },
    layer="encoder.albert_layer_groups.0.albert_layers.0.",
    in_layer={
        "attn_out.weight": "attention.dense.weight",
        "attn_out.bias": "attention.dense.bias",
        "attn_norm.gamma": "attention.LayerNorm.weight",
        "attn_norm.beta": "attention.LayerNorm.bias",
        "ffn.ffn_1.weight": "ffn.weight",
        "ffn.ffn_1.bias": "ffn.bias",
        "ffn.ffn_2.weight": "ffn_output.weight",
        "ffn.ffn_2.bias": "ffn_output.bias",
        "ffn.layer_norm.gamma": "full_layer_layer_norm.weight",
        "ffn.layer_norm.beta": "full_layer_layer_norm.bias",
    },
    qkv=("attention.query", "attention.key", "attention.value"),
    ignored=("albert.pooler.", "albert.embeddings.position_ids", "predictions."),
)

_DISTILBERT_WEIGHTS = WeightTable(
    base="distilbert.",
    embeddings={
        "embeddings.word_embed.weight": "embeddings.word_embeddings.weight",
        "embeddings.position_embed.weight": "embeddings.position_embeddings.weight",
        "embeddings.token_type_embed.weight": None,
        "embeddings.layer_norm.gamma": "embeddings.LayerNorm.weight",
        "embeddings.layer_norm.beta": "embeddings.LayerNorm.bias",
    },
    layer="transformer.layer.{i}.",
    in_layer={
        "attn_out.weight": "attention.out_lin.weight",
        "attn_out.bias": "attention.out_lin.bias",
        "attn_norm.gamma": "sa_layer_norm.weight",
        "attn_norm.beta": "sa_layer_norm.bias",
        "ffn.ffn_1.weight": "ffn.lin1.weight",
        "ffn.ffn_1.bias": "ffn.lin1.bias",
        "ffn.ffn_2.weight": "ffn.lin2.weight",
        "ffn.ffn_2.bias": "ffn.lin2.bias",
        "ffn.layer_norm.gamma": "output_layer_norm.weight",
        "ffn.layer_norm.beta": "output_layer_norm.bias",
    },
    qkv=("attention.q_lin", "attention.k_lin", "attention.v_lin"),
    ignored=("distilbert.embeddings.position_ids", "vocab_"),
)

#: Every family the converter knows, by family name.
CONVERTERS: dict[str, FamilyConverter] = {
    "albert": FamilyConverter(
        FAMILIES["albert"],
        "AlbertForQuestionAnswering",
        _albert_architecture,
        _ALBERT_WEIGHTS,
        unknown_hint="; only num_hidden_groups=1, inner_group_num=1 ALBERT QA checkpoints are "
        "supported",
    ),
    "bert": FamilyConverter(
        FAMILIES["bert"],
        "BertForQuestionAnswering",
        _bert_architecture,
        _bert_like("bert.", ("cls.",)),
        tokenizer_files=(("tokenizer.json",), ("vocab.txt",)),
    ),
    "distilbert": FamilyConverter(
        FAMILIES["distilbert"],
        "DistilBertForQuestionAnswering",
        _distilbert_architecture,
        _DISTILBERT_WEIGHTS,
        tokenizer_files=(("tokenizer.json",), ("vocab.txt",)),
    ),
    "roberta": FamilyConverter(
        FAMILIES["roberta"],
        "RobertaForQuestionAnswering",
        _roberta_architecture,
        _bert_like("roberta.", ("lm_head.",)),
        tokenizer_files=(("tokenizer.json",), ("vocab.json", "merges.txt")),
    ),
}


def converter_for(hf_config: Mapping[str, Any]) -> FamilyConverter:
    """The family converter for transformers' ``config.json`` (by its ``model_type``; a config
    without one is ALBERT's, as before families existed)."""
    try:
        family = family_for_model_type(str(hf_config.get("model_type", "albert")))
    except ValueError as exc:
        raise ConversionError(str(exc)) from None
    return CONVERTERS[family.name]


def _same(value: Any) -> Any:
    return value


#: Casts of config values to the types of Architecture's fields (a config may hold 768.0).
_CASTS: dict[str, Callable[[Any], Any]] = {"int": int, "float": float}


def architecture_from_hf(hf_config: Mapping[str, Any]) -> Architecture:
    """Map transformers' ``config.json`` onto :class:`Architecture`, rejecting what we can't run."""
    converter = converter_for(hf_config)
    try:
        values = converter.architecture(hf_config)
    except KeyError as exc:
        raise ConversionError(f"config.json lacks {exc.args[0]!r}") from None
    act = values["hidden_act"]
    if act not in SUPPORTED_ACTIVATIONS:
        raise ConversionError(f"hidden_act {act!r} unsupported; use {SUPPORTED_ACTIVATIONS}")
    try:
        arch = Architecture(
            **{f.name: _CASTS.get(str(f.type), _same)(values[f.name]) for f in fields(Architecture)}
        )
        arch.validate()
    except (ModelLoadError, TypeError, ValueError) as exc:
        raise ConversionError(str(exc)) from None
    return arch


def interleave_qkv(q: Array, k: Array, v: Array, num_heads: int) -> Array:
    """Stack separate Q, K, V weights (H, C) or biases (H,) into the per-head interleaved
    layout of ``interleaved_matmul_selfatt_*``: rows [q_h0, k_h0, v_h0, q_h1, ...] -> (3H, C) / (3H,).
    """
    hidden = q.shape[0]
    head_dim = hidden // num_heads
    tail = q.shape[1:]
    parts = [a.reshape(num_heads, head_dim, *tail) for a in (q, k, v)]
    stacked: Array = np.stack(parts, axis=1).reshape(3 * hidden, *tail)
    return stacked


def hf_names(arch: Architecture, family: str = "albert") -> dict[str, str | None]:
    """Structural name -> the checkpoint's name for every parameter except ``qkv.*`` (None: the
    family has no such parameter; it is written as zeros)."""
    table = CONVERTERS[family].weights
    names: dict[str, str | None] = {
        dst: None if src is None else table.base + src for dst, src in table.embeddings.items()
    }
    for index, prefix in enumerate(layer_prefixes(arch)):
        layer = table.base + table.layer.format(i=index)
        names.update({prefix + dst: layer + src for dst, src in table.in_layer.items()})
    names.update({f"qa_outputs.{kind}": f"qa_outputs.{kind}" for kind in ("weight", "bias")})
    return names


def map_weights(
    tensors: Mapping[str, Array], arch: Architecture, family: str = "albert"
) -> dict[str, Array]:
    """transformers state dict (numpy) of ``family`` -> structural names of ``model.params``."""
    converter = CONVERTERS[family]
    table = converter.weights
    # Some exports keep only the bare model's names (no "bert." prefix) besides qa_outputs.
    if not any(n.startswith(table.base) for n in tensors):
        tensors = {
            (n if n.startswith("qa_outputs.") else table.base + n): t for n, t in tensors.items()
        }
    direct = hf_names(arch, family)
    qkv = {
        prefix: [table.base + table.layer.format(i=index) + part for part in table.qkv]
        for index, prefix in enumerate(layer_prefixes(arch))
    }
    needed = [src for src in direct.values() if src is not None] + [
        f"{base}.{kind}" for bases in qkv.values() for base in bases for kind in ("weight", "bias")
    ]
    missing = [n for n in needed if n not in tensors]
    if missing:
        raise ConversionError(
            f"checkpoint lacks {missing[:4]}{' ...' if len(missing) > 4 else ''}; is it "
            f"{'an' if converter.qa_class[0] in 'AEIOU' else 'a'} {converter.qa_class} checkpoint?"
        )
    wanted = set(needed)
    unknown = sorted(n for n in tensors if n not in wanted and not n.startswith(table.ignored))
    if unknown:
        raise ConversionError(
            f"checkpoint has weights this graph does not use: {unknown[:4]}"
            f"{' ...' if len(unknown) > 4 else ''}{converter.unknown_hint}"
        )
    shapes = param_shapes(arch)
    out = {
        dst: np.zeros(shapes[dst], np.float32)
        if src is None
        else np.asarray(tensors[src], dtype=np.float32)
        for dst, src in direct.items()
    }
    for prefix, bases in qkv.items():
        for kind in ("weight", "bias"):
            q, k, v = (np.asarray(tensors[f"{base}.{kind}"], np.float32) for base in bases)
            out[f"{prefix}qkv.{kind}"] = interleave_qkv(q, k, v, arch.num_attention_heads)
    return out


def read_tensors(src: Path) -> dict[str, Array]:
    """The checkpoint's tensors as numpy: safetensors without torch, else pytorch_model.bin."""
    st = src / "model.safetensors"
    if st.is_file():
        from safetensors.numpy import load_file

        return dict(load_file(str(st)))
    pt = src / "pytorch_model.bin"
    if pt.is_file():
        try:
            import torch
        except ImportError:
            raise ConversionError(
                f"{src} has only pytorch_model.bin and torch is not installed; "
                "`pip install torch` or give a checkpoint with model.safetensors"
            ) from None
        state = torch.load(str(pt), map_location="cpu", weights_only=True)
        return {k: v.float().numpy() for k, v in state.items()}
    raise ConversionError(f"{src} has neither model.safetensors nor pytorch_model.bin")


def tokenizer_settings(src: Path, hf_config: Mapping[str, Any]) -> TokenizerSettings:
    """ALBERT's tokenizer options from tokenizer_config.json (ALBERT defaults when absent)."""
    tc: dict[str, Any] = {}
    path = src / "tokenizer_config.json"
    if path.is_file():
        tc = json.loads(path.read_text(encoding="utf-8"))
    defaults = TokenizerSettings()
    return TokenizerSettings(
        do_lower_case=bool(tc.get("do_lower_case", defaults.do_lower_case)),
        remove_space=bool(tc.get("remove_space", defaults.remove_space)),
        keep_accents=bool(tc.get("keep_accents", defaults.keep_accents)),
        cls_token_id=int(hf_config.get("bos_token_id", defaults.cls_token_id)),
        sep_token_id=int(hf_config.get("eos_token_id", defaults.sep_token_id)),
        pad_token_id=int(hf_config.get("pad_token_id", defaults.pad_token_id)),
        unk_token_id=defaults.unk_token_id,
    )


def fast_tokenizer(src: Path, converter: FamilyConverter) -> tuple[str, TokenizerSettings]:
    """The checkpoint's fast tokenizer as ``tokenizer.json`` text, and its special ids.

    transformers builds it from whatever the checkpoint has (``tokenizer.json``, or a slow
    tokenizer's ``vocab.txt`` / ``vocab.json`` + ``merges.txt``, converted), with the options
    of ``tokenizer_config.json`` applied (lower case, prefix space, ...). The file carries its
    own normaliser, so of the SentencePiece options only ``do_lower_case`` is recorded, as a fact.
    """
    family = converter.family
    choices = converter.tokenizer_files
    if choices and not any(all((src / name).is_file() for name in files) for files in choices):
        needed = " or ".join(" and ".join(files) for files in choices)
        raise ConversionError(f"{src} has no {family.name} tokenizer: it needs {needed}")
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ConversionError(
            f"converting a {family.name} checkpoint's tokenizer needs transformers; "
            "`pip install transformers` (the dev environment has it)"
        ) from None
    try:
        tok: Any = AutoTokenizer.from_pretrained(  # type: ignore[no-untyped-call]
            str(src), use_fast=True, local_files_only=True
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConversionError(
            f"transformers cannot load the tokenizer of {src} "
            f"({error_summary(exc).split('. ')[0][:200]})"
        ) from None
    if not getattr(tok, "is_fast", False):
        raise ConversionError(f"transformers has no fast tokenizer for {src}")
    found: dict[str, Any] = {
        name: getattr(tok, f"{name}_token_id", None) for name in ("cls", "sep", "pad", "unk")
    }
    absent = [name for name, value in found.items() if value is None]
    if absent:
        raise ConversionError(
            f"the tokenizer of {src} has no {', '.join(absent)} token; a QA window needs them"
        )
    ids = {name: int(value) for name, value in found.items()}
    settings = TokenizerSettings(
        do_lower_case=bool(getattr(tok, "do_lower_case", False)),
        cls_token_id=ids["cls"],
        sep_token_id=ids["sep"],
        pad_token_id=ids["pad"],
        unk_token_id=ids["unk"],
    )
    return str(tok.backend_tokenizer.to_str()), settings


def file_sha256(path: Path) -> str:
    """The sha256 of ``path`` in hex, read in 1 MiB chunks (a BERT-large params file is 1.3 GB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def bound_hub_requests() -> float:
    """Give every request huggingface_hub sends a timeout; return it, in seconds.

    huggingface_hub 0.36 bounds its HEADs (``etag_timeout``, ``HF_HUB_ETAG_TIMEOUT``) and its
    downloads (``HF_HUB_DOWNLOAD_TIMEOUT``), both 10 s by default, but sends its other requests
    with none: ``snapshot_download`` starts with the repo's file list (``repo_info``), which waits
    forever on a hub that accepts the connection and never answers. Its hook for the HTTP session,
    ``configure_http_backend``, is used here to make its own sessions (offline mode and request
    ids included) with ``HF_HUB_ETAG_TIMEOUT`` as the (connect, read) timeout of any request that
    sets none.
    """
    from huggingface_hub import configure_http_backend, constants
    from huggingface_hub.utils._http import _default_backend_factory

    timeout = float(constants.HF_HUB_ETAG_TIMEOUT)

    def bounded_session() -> Any:
        session = _default_backend_factory()
        send = session.send

        def send_bounded(request: Any, **kwargs: Any) -> Any:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return send(request, **kwargs)

        session.send = send_bounded  # type: ignore[method-assign]
        return session

    configure_http_backend(backend_factory=bounded_session)
    return timeout


def hub_failure(exc: BaseException) -> str:
    """Why a download from the hub failed, in a few words (the cause, not the library's wrapping)."""
    import requests
    from huggingface_hub.errors import (
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__

    def first(kind: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
        return next((e for e in chain if isinstance(e, kind)), None)

    if first(OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set"
    if timed_out := first(requests.exceptions.Timeout):
        seconds = re.search(r"timeout=([\d.]+)", str(timed_out))
        within = f" in {float(seconds[1]):g} s" if seconds else ""
        if isinstance(timed_out, requests.exceptions.ConnectTimeout):
            return f"no connection{within}"
        return f"no answer{within}"
    if refused := first(requests.exceptions.ConnectionError):
        errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(refused))
        return f"cannot connect: {errno[1].strip()}" if errno else "cannot connect"
    for kind, what in (
        (RepositoryNotFoundError, "no such repository"),
        (RevisionNotFoundError, "no such revision"),
    ):
        if found := first(kind):
            response = getattr(found, "response", None)
            return f"{what} (HTTP {response.status_code})" if response is not None else what
    for answered in chain:
        if isinstance(answered, HfHubHTTPError) and answered.response is not None:
            return f"it answered HTTP {answered.response.status_code}"
    return f"{type(exc).__name__}: {error_summary(exc).split('. ')[0][:160]}"


def resolve_source(source: str) -> tuple[Path, dict[str, Any]]:
    """A local checkpoint dir, or a hub repo id downloaded with huggingface_hub."""
    local = Path(source)
    if local.is_dir():
        return local, {"kind": "local", "path": str(local.resolve())}
    if local.exists() or source.startswith((".", "/")) or source.count("/") != 1:
        raise ConversionError(f"{source} is neither a checkpoint directory nor a hub repo id")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    timeout = bound_hub_requests()
    print(f"downloading {source} from the Hugging Face hub at {constants.ENDPOINT} ...", flush=True)
    try:
        path = snapshot_download(
            repo_id=source,
            # The tokenizer: spiece.model (ALBERT), tokenizer.json, or a slow tokenizer's
            # vocab.txt / vocab.json + merges.txt for transformers to convert.
            allow_patterns=[
                "*.json",
                "*.safetensors",
                "pytorch_model.bin",
                "spiece.model",
                "vocab.txt",
                "merges.txt",
            ],
            etag_timeout=timeout,
        )
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ConversionError(
            f"cannot download {source} from the Hugging Face hub at {constants.ENDPOINT} "
            f"({hub_failure(exc)}). Check the repo id and network access to the hub (HF_ENDPOINT), "
            "or download the checkpoint elsewhere and pass its directory to --from-hf "
            "(make models QA_CHECKPOINT=DIR)."
        ) from None
    return Path(path), {"kind": "huggingface_hub", "repo_id": source}


def convert(source: str, out: Path) -> QaConfig:
    """Convert ``source`` into the model directory ``out``; return the written config."""
    started = time.perf_counter()
    src, provenance = resolve_source(source)
    cfg_path = src / "config.json"
    if not cfg_path.is_file():
        raise ConversionError(f"{src} has no config.json")
    hf_config = json.loads(cfg_path.read_text(encoding="utf-8"))
    converter = converter_for(hf_config)
    family = converter.family
    arch = architecture_from_hf(hf_config)
    tokenizer_json: str | None = None
    if family.tokenizer_kind == TOKENIZERS:
        print(f"reading the {family.name} tokenizer from {src}", flush=True)
        tokenizer_json, tokenizer = fast_tokenizer(src, converter)
    else:
        spiece = src / SPIECE_FILE
        if not spiece.is_file():
            raise ConversionError(f"{src} has no {SPIECE_FILE} (the SentencePiece model)")
        tokenizer = tokenizer_settings(src, hf_config)
    print(f"reading {family.name} weights from {src}", flush=True)
    arrays = map_weights(read_tensors(src), arch, family.name)

    from app.qa import model as qa_model  # mxnet only from here on
    from app.qa.runtime import configure_threads

    configure_threads(None)

    out.mkdir(parents=True, exist_ok=True)
    print(f"writing {out / PARAMS_FILE}", flush=True)
    try:
        qa_model.write_params(arch, arrays, out / PARAMS_FILE)
    except ModelLoadError as exc:
        raise ConversionError(str(exc)) from None
    if tokenizer_json is None:
        shutil.copyfile(src / SPIECE_FILE, out / family.tokenizer_file)
    else:
        (out / family.tokenizer_file).write_text(tokenizer_json, encoding="utf-8")
    config = QaConfig(
        architecture=arch,
        tokenizer=tokenizer,
        source={**provenance, "converted_by": "tools.convert"},
        family_name=family.name,
        params_sha256=file_sha256(out / PARAMS_FILE),
    )
    config.save(out)
    print("checking that the converted model loads and runs", flush=True)
    loaded = qa_model.QaModel.load(out)
    ids = np.array([[config.tokenizer.cls_token_id, config.tokenizer.sep_token_id]])
    start, _ = loaded.forward(ids, np.zeros_like(ids), np.ones_like(ids))
    if not np.all(np.isfinite(start)):
        raise ConversionError("the converted model produces non-finite logits")
    print(f"done in {time.perf_counter() - started:.1f}s: {out}", flush=True)
    return loaded.config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.convert",
        description="Convert an HF ALBERT, BERT, DistilBERT or RoBERTa QA checkpoint.",
    )
    parser.add_argument(
        "--from-hf",
        required=True,
        metavar="SOURCE",
        help=f"checkpoint directory or hub repo id (e.g. {DEFAULT_CHECKPOINT})",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="model directory")
    args = parser.parse_args(argv)
    try:
        convert(args.from_hf, args.out)
    except (ConversionError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
