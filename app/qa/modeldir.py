"""The QA model directory: ``config.json`` + ``model.params`` + the tokenizer file (docs/qa-model.md).

Format 2 records the model family (:mod:`app.qa.families`: ALBERT, BERT, DistilBERT, RoBERTa) and
its tokenizer file (``spiece.model`` or ``tokenizer.json``); format 1 directories (ALBERT only,
written before families existed) still load, as ALBERT. Reading a directory needs no mxnet: the
service reads the tokenizer settings and limits from here and :mod:`app.qa.model` builds the graph
from :class:`Architecture`.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from app.errors import ModelLoadError
from app.qa.families import FAMILIES, Family

FORMAT_VERSION = 2
#: Formats this code reads: 1 is ALBERT-only (no ``family`` key), read as family ``albert``.
READABLE_VERSIONS = (1, 2)
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
    """Encoder hyper-parameters (the names transformers' ``AlbertConfig``/``BertConfig`` use).

    The last three say how a family's encoder differs from BERT's, with ALBERT's values as the
    defaults (format 1 directories lack them):

    - ``embedding_projection``: the embedding has ``embedding_size`` columns and a Dense
      E -> H follows its LayerNorm (ALBERT). Without it ``embedding_size == hidden_size``.
    - ``shared_layers``: one layer's parameters applied ``num_hidden_layers`` times (ALBERT),
      rather than ``num_hidden_layers`` layers of their own.
    - ``position_offset``: the position id of the first token (RoBERTa counts from its padding
      index + 1 = 2; the others from 0).
    """

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
    embedding_projection: bool = True
    shared_layers: bool = True
    position_offset: int = 0

    def validate(self) -> None:
        """Raise ModelLoadError if the graph in :mod:`app.qa.model` cannot represent this."""
        for f in fields(self):
            value = getattr(self, f.name)
            # position_offset may be 0; every other number must be positive.
            zero_ok = f.name == "position_offset"
            if f.type in ("int", "float") and (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or value < 0
                or (value == 0 and not zero_ok)
            ):
                least = "a number >= 0" if zero_ok else "a positive number"
                raise ModelLoadError(f"architecture.{f.name} must be {least}, got {value!r}")
        if not self.embedding_projection and self.embedding_size != self.hidden_size:
            raise ModelLoadError(
                f"embedding_size {self.embedding_size} differs from hidden_size "
                f"{self.hidden_size} but embedding_projection is false"
            )
        if self.position_offset >= self.max_position_embeddings:
            raise ModelLoadError(
                f"position_offset {self.position_offset} leaves no room in "
                f"max_position_embeddings {self.max_position_embeddings}"
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

    @property
    def max_tokens(self) -> int:
        """The longest window the position table holds."""
        return self.max_position_embeddings - self.position_offset


@dataclass(frozen=True)
class TokenizerSettings:
    """How text becomes ids: the special token ids, and SentencePiece's options (ALBERT; a
    ``tokenizer.json`` carries its own normaliser, so the three options are unused there)."""

    do_lower_case: bool = True
    remove_space: bool = True
    keep_accents: bool = False
    cls_token_id: int = 2
    sep_token_id: int = 3
    pad_token_id: int = 0
    unk_token_id: int = 1


@dataclass(frozen=True)
class QaConfig:
    """Everything in ``config.json``; ``model_dir`` is where it was read from.

    ``params_sha256`` is the hash of ``model.params`` the converter wrote, so that the service's
    version needs no read of the weights at init (a BERT-large file is 1.3 GB); empty in
    directories written before it existed.
    """

    architecture: Architecture
    tokenizer: TokenizerSettings = field(default_factory=TokenizerSettings)
    source: dict[str, Any] = field(default_factory=dict)
    family_name: str = "albert"
    params_sha256: str = ""
    format_version: int = FORMAT_VERSION
    model_dir: Path | None = None

    @property
    def family(self) -> Family:
        return FAMILIES[self.family_name]

    @property
    def params_path(self) -> Path:
        return self._dir() / PARAMS_FILE

    @property
    def tokenizer_path(self) -> Path:
        """``spiece.model`` or ``tokenizer.json``, as the family says."""
        return self._dir() / self.family.tokenizer_file

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
        doc: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "family": self.family_name,
            "architecture": asdict(self.architecture),
            "tokenizer": asdict(self.tokenizer),
            "source": dict(self.source),
        }
        if self.params_sha256:
            doc["params_sha256"] = self.params_sha256
        return doc

    def save(self, model_dir: Path) -> Path:
        """Write ``config.json`` into ``model_dir``; return its path."""
        model_dir.mkdir(parents=True, exist_ok=True)
        path = model_dir / CONFIG_FILE
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, doc: Any, model_dir: Path | None = None) -> QaConfig:
        """Parse a ``config.json`` document; ModelLoadError says which key is wrong."""
        where = model_dir / CONFIG_FILE if model_dir else CONFIG_FILE
        if not isinstance(doc, dict):
            raise ModelLoadError(f"{where} must hold a JSON object. {_FIX}")
        version = doc.get("format_version")
        if version not in READABLE_VERSIONS:
            raise ModelLoadError(
                f"{where} has format_version {version!r}; this code reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}. {_FIX}"
            )
        family = doc.get("family", "albert") if version >= 2 else "albert"
        if family not in FAMILIES:
            raise ModelLoadError(
                f"{where}: family {family!r} is unknown; this code runs "
                f"{', '.join(FAMILIES)}. {_FIX}"
            )
        unknown = sorted(set(doc) - _TOP_KEYS[version])
        if unknown:
            raise ModelLoadError(f"{where}: unknown key(s) {unknown}. {_FIX}")
        arch = _section(doc, "architecture", Architecture, where, required=True)
        tok = _section(doc, "tokenizer", TokenizerSettings, where, required=False)
        source = doc.get("source", {})
        digest = doc.get("params_sha256", "")
        if not isinstance(digest, str):
            raise ModelLoadError(f"{where}: params_sha256 must be a string. {_FIX}")
        config = cls(
            architecture=arch,
            tokenizer=tok,
            source=source if isinstance(source, dict) else {"description": str(source)},
            family_name=family,
            params_sha256=digest,
            format_version=version,
            model_dir=model_dir,
        )
        arch.validate()
        return config

    @classmethod
    def load(cls, model_dir: Path) -> QaConfig:
        """Read and check ``model_dir``: config parses, params and the tokenizer file are present."""
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ModelLoadError(f"QA model directory {model_dir} does not exist. {_FIX}")
        if not (model_dir / CONFIG_FILE).is_file():
            raise ModelLoadError(f"QA model directory {model_dir} is missing {CONFIG_FILE}. {_FIX}")
        try:
            doc = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(
                f"{model_dir / CONFIG_FILE} is not valid JSON ({exc}). {_FIX}"
            ) from None
        config = cls.from_json(doc, model_dir)
        needed = (PARAMS_FILE, config.family.tokenizer_file)
        missing = [name for name in needed if not (model_dir / name).is_file()]
        if missing:
            raise ModelLoadError(
                f"QA model directory {model_dir} is missing {', '.join(missing)}. {_FIX}"
            )
        for name in needed:
            if (model_dir / name).stat().st_size == 0:
                raise ModelLoadError(f"{model_dir / name} is empty. {_FIX}")
        return config


#: Top-level keys of ``config.json`` per format version.
_TOP_KEYS = {
    1: {"format_version", "architecture", "tokenizer", "source"},
    2: {"format_version", "family", "architecture", "tokenizer", "source", "params_sha256"},
}


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
        ok = {  # dataclass field types are strings here (from __future__ import annotations)
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
