"""Convert a transformers ALBERT QA checkpoint into the project's model directory.

    python -m tools.convert --from-hf SOURCE --out DIR

SOURCE is a local checkpoint directory (``model.safetensors`` read with ``safetensors.numpy``,
no torch; ``pytorch_model.bin`` only if torch is installed) or a hub repo id, downloaded from
``HF_ENDPOINT`` with every request bounded (:func:`bound_hub_requests`). The weight mapping is
numpy; :mod:`app.qa.model` writes the Gluon params file and loads it back as a check.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import ModelLoadError, error_summary
from app.qa.modeldir import (
    PARAMS_FILE,
    SPIECE_FILE,
    SUPPORTED_ACTIVATIONS,
    AlbertQaConfig,
    Architecture,
    TokenizerSettings,
)

Array = npt.NDArray[Any]
DEFAULT_CHECKPOINT = "twmkn9/albert-base-v2-squad2"


class ConversionError(Exception):
    """The source checkpoint cannot be converted; the message says why and what to do."""


_LAYER = "albert.encoder.albert_layer_groups.0.albert_layers.0."
# HF name -> structural name in model.params (q/k/v are handled by _interleave_qkv).
_DIRECT = {
    "albert.embeddings.word_embeddings.weight": "embeddings.word_embed.weight",
    "albert.embeddings.position_embeddings.weight": "embeddings.position_embed.weight",
    "albert.embeddings.token_type_embeddings.weight": "embeddings.token_type_embed.weight",
    "albert.embeddings.LayerNorm.weight": "embeddings.layer_norm.gamma",
    "albert.embeddings.LayerNorm.bias": "embeddings.layer_norm.beta",
    "albert.encoder.embedding_hidden_mapping_in.weight": "embeddings.proj.weight",
    "albert.encoder.embedding_hidden_mapping_in.bias": "embeddings.proj.bias",
    _LAYER + "attention.dense.weight": "layer.attn_out.weight",
    _LAYER + "attention.dense.bias": "layer.attn_out.bias",
    _LAYER + "attention.LayerNorm.weight": "layer.attn_norm.gamma",
    _LAYER + "attention.LayerNorm.bias": "layer.attn_norm.beta",
    _LAYER + "ffn.weight": "layer.ffn.ffn_1.weight",
    _LAYER + "ffn.bias": "layer.ffn.ffn_1.bias",
    _LAYER + "ffn_output.weight": "layer.ffn.ffn_2.weight",
    _LAYER + "ffn_output.bias": "layer.ffn.ffn_2.bias",
    _LAYER + "full_layer_layer_norm.weight": "layer.ffn.layer_norm.gamma",
    _LAYER + "full_layer_layer_norm.bias": "layer.ffn.layer_norm.beta",
    "qa_outputs.weight": "qa_outputs.weight",
    "qa_outputs.bias": "qa_outputs.bias",
}
# Present in some checkpoints, unused by extractive QA.
_IGNORED_PREFIXES = ("albert.pooler.", "albert.embeddings.position_ids", "predictions.")


def architecture_from_hf(hf_config: Mapping[str, Any]) -> Architecture:
    """Map transformers' ``config.json`` onto :class:`Architecture`, rejecting what we can't run."""
    if hf_config.get("model_type", "albert") != "albert":
        raise ConversionError(f"model_type is {hf_config.get('model_type')!r}, not 'albert'")
    groups = hf_config.get("num_hidden_groups", 1)
    inner = hf_config.get("inner_group_num", 1)
    if groups != 1 or inner != 1:
        raise ConversionError(
            f"num_hidden_groups={groups}, inner_group_num={inner}: only 1 and 1 (every ALBERT "
            "release) are supported"
        )
    act = hf_config.get("hidden_act", "gelu_new")
    if act not in SUPPORTED_ACTIVATIONS:
        raise ConversionError(f"hidden_act {act!r} unsupported; use {SUPPORTED_ACTIVATIONS}")
    try:
        arch = Architecture(
            vocab_size=int(hf_config["vocab_size"]),
            embedding_size=int(hf_config["embedding_size"]),
            hidden_size=int(hf_config["hidden_size"]),
            num_hidden_layers=int(hf_config["num_hidden_layers"]),
            num_attention_heads=int(hf_config["num_attention_heads"]),
            intermediate_size=int(hf_config["intermediate_size"]),
            hidden_act=act,
            max_position_embeddings=int(hf_config["max_position_embeddings"]),
            type_vocab_size=int(hf_config.get("type_vocab_size", 2)),
            layer_norm_eps=float(hf_config.get("layer_norm_eps", 1e-12)),
        )
    except KeyError as exc:
        raise ConversionError(f"config.json lacks {exc.args[0]!r}") from None
    try:
        arch.validate()
    except ModelLoadError as exc:
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


def map_weights(tensors: Mapping[str, Array], arch: Architecture) -> dict[str, Array]:
    """transformers state dict (numpy) -> structural names of ``model.params``."""
    names = set(tensors)
    # Some exports keep only the bare model's names (no "albert." prefix) besides qa_outputs.
    if not any(n.startswith("albert.") for n in names):
        tensors = {
            ("albert." + n if not n.startswith("qa_outputs.") else n): t for n, t in tensors.items()
        }
    qkv = {p: f"{_LAYER}attention.{p}" for p in ("query", "key", "value")}
    needed = list(_DIRECT) + [
        f"{base}.{kind}" for base in qkv.values() for kind in ("weight", "bias")
    ]
    missing = [n for n in needed if n not in tensors]
    if missing:
        raise ConversionError(
            f"checkpoint lacks {missing[:4]}{' ...' if len(missing) > 4 else ''}; is it an "
            "AlbertForQuestionAnswering checkpoint?"
        )
    unknown = sorted(n for n in tensors if n not in needed and not n.startswith(_IGNORED_PREFIXES))
    if unknown:
        raise ConversionError(
            f"checkpoint has weights this graph does not use: {unknown[:4]}; only "
            "num_hidden_groups=1, inner_group_num=1 ALBERT QA checkpoints are supported"
        )
    out = {dst: np.asarray(tensors[src], dtype=np.float32) for src, dst in _DIRECT.items()}
    for kind in ("weight", "bias"):
        q, k, v = (np.asarray(tensors[f"{qkv[p]}.{kind}"], np.float32) for p in qkv)
        out[f"layer.qkv.{kind}"] = interleave_qkv(q, k, v, arch.num_attention_heads)
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
    """Tokenizer options from tokenizer_config.json (ALBERT defaults when absent)."""
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
            allow_patterns=["*.json", "*.safetensors", "pytorch_model.bin", "spiece.model"],
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


def convert(source: str, out: Path) -> AlbertQaConfig:
    """Convert ``source`` into the model directory ``out``; return the written config."""
    started = time.perf_counter()
    src, provenance = resolve_source(source)
    cfg_path = src / "config.json"
    if not cfg_path.is_file():
        raise ConversionError(f"{src} has no config.json")
    hf_config = json.loads(cfg_path.read_text(encoding="utf-8"))
    arch = architecture_from_hf(hf_config)
    spiece = src / SPIECE_FILE
    if not spiece.is_file():
        raise ConversionError(f"{src} has no {SPIECE_FILE} (the SentencePiece model)")
    print(f"reading weights from {src}", flush=True)
    arrays = map_weights(read_tensors(src), arch)

    from app.qa import model as qa_model  # mxnet only from here on
    from app.qa.runtime import configure_threads

    configure_threads(None)

    out.mkdir(parents=True, exist_ok=True)
    print(f"writing {out / PARAMS_FILE}", flush=True)
    try:
        qa_model.write_params(arch, arrays, out / PARAMS_FILE)
    except ModelLoadError as exc:
        raise ConversionError(str(exc)) from None
    shutil.copyfile(spiece, out / SPIECE_FILE)
    config = AlbertQaConfig(
        architecture=arch,
        tokenizer=tokenizer_settings(src, hf_config),
        source={**provenance, "converted_by": "tools.convert"},
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
        prog="python -m tools.convert", description="Convert an HF ALBERT QA checkpoint."
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
