"""Loads the services a process serves, once, during the Lambda init phase.

A service whose model cannot be loaded does not crash the process into a restart loop without
explanation: the error is logged with what to do, ``/health`` reports it, and its routes answer
503 with the same message. Services that did load keep serving.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.config import Settings
from app.errors import ModelLoadError
from app.logging import logger

if TYPE_CHECKING:
    from app.ner.service import NerService
    from app.qa.service import QaService


@dataclass
class Services:
    """The loaded services of this process, plus what went wrong loading the others."""

    enabled: tuple[str, ...]
    ner: NerService | None = None
    qa: QaService | None = None
    errors: dict[str, str] = field(default_factory=dict)
    load_seconds: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def loaded(self) -> tuple[str, ...]:
        """The enabled services whose model is loaded and serving."""
        return tuple(
            name
            for name in self.enabled
            if (self.ner if name == "ner" else self.qa) is not None and name not in self.errors
        )

    @property
    def ready(self) -> bool:
        """Every enabled service is loaded (what SageMaker's /ping asks)."""
        return len(self.loaded) == len(self.enabled)

    @classmethod
    def load(cls, settings: Settings) -> Services:
        """Load every enabled service and log how long each phase took."""
        services = cls(enabled=settings.services)
        services.load_enabled(settings)
        return services

    def load_enabled(self, settings: Settings) -> None:
        """Load the enabled services into this instance (the serving mode loads in a thread
        while its server already answers /ping with 503)."""
        services = self
        for name in settings.services:
            started = time.perf_counter()
            try:
                if name == "ner":
                    from app.ner.service import NerService

                    services.ner = NerService.load(
                        settings.ner_model, batch_size=settings.ner_batch_size
                    )
                    services.load_seconds["ner"] = services.ner.load_seconds
                else:
                    from app.qa.service import QaService

                    services.qa = QaService.load(settings)
                    services.load_seconds["qa"] = dict(services.qa.load_seconds)
            except ModelLoadError as exc:
                services.errors[name] = str(exc)
                # The operator gets the cause in the log; clients get the message only.
                logger.error(
                    "model_load_failed",
                    extra={"service": name, "reason": str(exc)},
                    exc_info=exc,
                )
                continue
            logger.info(
                "model_loaded",
                extra={
                    "service": name,
                    "seconds": round(time.perf_counter() - started, 4),
                    "phases": services.load_seconds.get(name, {}),
                },
            )
