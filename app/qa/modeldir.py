"""The QA model directory: ``config.json`` + ``model.params`` + ``spiece.model`` (docs/qa-model.md).

Reading it needs no mxnet: the service reads the tokenizer settings and limits from here and
:mod:`app.qa.model` builds the graph from :class:`Architecture`.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from app.errors import ModelLoadError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
PARAMS_FILE = "model.params"
SPIECE_FILE = "spiece.model"
#: Directory inside the model dir where ``make quantize`` writes the INT8 artefact.
INT8_DIR = "int8"

SUPPORTED_ACTIVATIONS = ("gelu_new", "gelu", "relu")

_FIX = (
    "Rebuild it with `make models` (the default checkpoint) or "
    "`python -m tools.convert --from-hf SOURCE --out DIR`."
)


@dataclass(frozen=True)
class Architecture:
    """ALBERT hyper-parameters (the names transformers' ``AlbertConfig`` uses)."""

    vocab_size: int
    embedding_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    hidden_act: str
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    def validate(self) -> None:
        """Raise ModelLoadError if the graph in :mod:`app.qa.model` cannot represent this."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", "float") and (
                not isinstance(value, int | float) or isinstance(value, bool) or value <= 0
            ):
                raise ModelLoadError(
                    f"architecture.{f.name} must be a positive number, got {value!r}"
                )
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ModelLoadError(
                f"hidden_act {self.hidden_act!r} is not supported; use one of "
                f"{', '.join(SUPPORTED_ACTIVATIONS)}"
            )
        if self.hidden_size % self.num_attention_heads:
            raise ModelLoadError(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


@dataclass(frozen=True)
class TokenizerSettings:
    """How text becomes ids: ALBERT's SentencePiece options and the special token ids."""

    do_lower_case: bool = True
    remove_space: bool = True
    keep_accents: bool = False
    cls_token_id: int = 2
    sep_token_id: int = 3
    pad_token_id: int = 0
    unk_token_id: int = 1


@dataclass(frozen=True)
class AlbertQaConfig:
    """Everything in ``config.json``; ``model_dir`` is where it was read from."""

    architecture: Architecture
    tokenizer: TokenizerSettings = field(default_factory=TokenizerSettings)
    source: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    model_dir: Path | None = None

    @property
    def params_path(self) -> Path:
        return self._dir() / PARAMS_FILE

    @property
    def spiece_path(self) -> Path:
        return self._dir() / SPIECE_FILE

    @property
    def int8_dir(self) -> Path:
        return self._dir() / INT8_DIR

    def _dir(self) -> Path:
        if self.model_dir is None:
            raise ValueError("this config was not read from a model directory")
        return self.model_dir

    def to_json(self) -> dict[str, Any]:
        """The ``config.json`` document (without ``model_dir``)."""
        return {
            "format_version": self.format_version,
            "architecture": asdict(self.architecture),
            "tokenizer": asdict(self.tokenizer),
            "source": dict(self.source),
        }

    def save(self, model_dir: Path) -> Path:
        """Write ``config.json`` into ``model_dir``; return its path."""
        model_dir.mkdir(parents=True, exist_ok=True)
        path = model_dir / CONFIG_FILE
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, doc: Any, model_dir: Path | None = None) -> AlbertQaConfig:
        """Parse a ``config.json`` document; ModelLoadError says which key is wrong."""
        where = model_dir / CONFIG_FILE if model_dir else CONFIG_FILE
        if not isinstance(doc, dict):
            raise ModelLoadError(f"{where} must hold a JSON object. {_FIX}")
        version = doc.get("format_version")
        if version != FORMAT_VERSION:
            raise ModelLoadError(
                f"{where} has format_version {version!r}; this code reads version "
                f"{FORMAT_VERSION}. {_FIX}"
            )
        arch = _section(doc, "architecture", Architecture, where, required=True)
        tok = _section(doc, "tokenizer", TokenizerSettings, where, required=False)
        source = doc.get("source", {})
        config = cls(
            architecture=arch,
            tokenizer=tok,
            source=source if isinstance(source, dict) else {"description": str(source)},
            model_dir=model_dir,
        )
        arch.validate()
        return config

    @classmethod
    def load(cls, model_dir: Path) -> AlbertQaConfig:
        """Read and check ``model_dir``: config parses, params and spiece.model are present."""
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ModelLoadError(f"QA model directory {model_dir} does not exist. {_FIX}")
        missing = [
            name
            for name in (CONFIG_FILE, PARAMS_FILE, SPIECE_FILE)
            if not (model_dir / name).is_file()
        ]
        if missing:
            raise ModelLoadError(
                f"QA model directory {model_dir} is missing {', '.join(missing)}. {_FIX}"
            )
        try:
            doc = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(
                f"{model_dir / CONFIG_FILE} is not valid JSON ({exc}). {_FIX}"
            ) from None
        for name in (PARAMS_FILE, SPIECE_FILE):
            if (model_dir / name).stat().st_size == 0:
                raise ModelLoadError(f"{model_dir / name} is empty. {_FIX}")
        return cls.from_json(doc, model_dir)


def _section(doc: dict[str, Any], key: str, kind: type[Any], where: object, required: bool) -> Any:
    """Build dataclass ``kind`` from ``doc[key]``, checking names and value types."""
    raw = doc.get(key)
    if raw is None and not required:
        return kind()
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{where} needs an object {key!r}. {_FIX}")
    names = {f.name: f for f in fields(kind)}
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ModelLoadError(f"{where}: unknown key(s) {unknown} in {key!r}. {_FIX}")
    missing = sorted(n for n, f in names.items() if n not in raw and _required(f))
    if missing:
        raise ModelLoadError(f"{where}: {key!r} lacks {missing}. {_FIX}")
    for name, value in raw.items():
        expected = names[name].type
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
        }.get(str(expected), True)
        if not ok:
            raise ModelLoadError(f"{where}: {key}.{name} must be {expected}, got {value!r}. {_FIX}")
    return kind(**raw)


def _required(f: Any) -> bool:
    return bool(f.default is MISSING and f.default_factory is MISSING)
