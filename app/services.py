"""The registry of services (NER, QA) and the services a process loaded from it.

Each service is one :class:`ServiceSpec`: how to load its model, the routes it answers, the
field that marks a batch body, and the requests that warm its path during init. Loading, health,
the warm-up, the SageMaker ``/invocations`` dispatch and the 404 messages iterate the registry;
nothing else branches on a service's name.

A service whose model cannot be loaded does not crash the process into a restart loop without
explanation: the error is logged with what to do, ``/health`` reports it, and its routes answer
503 with the same message. Services that did load keep serving.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from app.config import Settings
from app.errors import ModelLoadError
from app.logging import logger

if TYPE_CHECKING:
    from app.ner.service import NerService
    from app.qa.service import QaService


class Model(Protocol):
    """What every loaded service tells /health."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def load_seconds(self) -> Mapping[str, float]:
        """Seconds per init phase (import, load, warmup)."""
        ...

    @property
    def serving(self) -> Mapping[str, Any]:
        """How the model serves, for /health (QA: the precision in force and why; or empty)."""
        ...


Request = tuple[str, dict[str, Any] | None]
"""A warm-up request: path, and the JSON body (None for GET)."""


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the registry."""

    key: str
    load: Callable[[Settings], Model]
    route: str
    batch_route: str
    batch_field: str
    warm_up: tuple[Request, ...]

    @property
    def routes(self) -> tuple[str, str]:
        return (self.route, self.batch_route)


def _load_ner(settings: Settings) -> Model:
    # Deferred: each image carries only its own service's code and dependencies.
    from app.ner.service import NerService

    return NerService.load(settings.ner_model, batch_size=settings.ner_batch_size)


def _load_qa(settings: Settings) -> Model:
    from app.qa.service import QaService

    return QaService.load(settings)


_WARM_TEXT = {"text": "Warm-up: Ada Lovelace met Charles Babbage in London."}

REGISTRY: dict[str, ServiceSpec] = {
    "ner": ServiceSpec(
        key="ner",
        load=_load_ner,
        route="/ner",
        batch_route="/ner/batch",
        batch_field="texts",
        warm_up=(("/ner", _WARM_TEXT), ("/ner/render", _WARM_TEXT)),
    ),
    "qa": ServiceSpec(
        key="qa",
        load=_load_qa,
        route="/qa",
        batch_route="/qa/batch",
        batch_field="items",
        warm_up=(
            (
                "/qa",
                {"question": "Who met Babbage?", "context": "Ada Lovelace met Charles Babbage."},
            ),
        ),
    ),
}


@dataclass
class Services:
    """The loaded services of this process, plus what went wrong loading the others."""

    enabled: tuple[str, ...]
    models: dict[str, Model] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def specs(self) -> list[ServiceSpec]:
        return [REGISTRY[name] for name in self.enabled]

    @property
    def load_seconds(self) -> dict[str, dict[str, float]]:
        return {name: dict(model.load_seconds) for name, model in self.models.items()}

    @property
    def loaded(self) -> tuple[str, ...]:
        """The enabled services whose model is loaded and serving."""
        return tuple(name for name in self.enabled if name in self.models)

    @property
    def ready(self) -> bool:
        """Every enabled service is loaded (what SageMaker's /ping asks)."""
        return len(self.loaded) == len(self.enabled)

    @property
    def ner(self) -> NerService | None:
        return cast("NerService | None", self.models.get("ner"))

    @property
    def qa(self) -> QaService | None:
        return cast("QaService | None", self.models.get("qa"))

    @classmethod
    def load(cls, settings: Settings) -> Services:
        """Load every enabled service and log how long each phase took."""
        services = cls(enabled=settings.services)
        services.load_enabled(settings)
        return services

    def load_enabled(self, settings: Settings) -> None:
        """Load the enabled services into this instance (the serving mode loads in a thread
        while its server already answers /ping with 503)."""
        for spec in self.specs:
            started = time.perf_counter()
            try:
                model = spec.load(settings)
            except ModelLoadError as exc:
                self.errors[spec.key] = str(exc)
                # The operator gets the cause in the log; clients get the message only.
                logger.error(
                    "model_load_failed",
                    extra={"service": spec.key, "reason": str(exc)},
                    exc_info=exc,
                )
                continue
            self.models[spec.key] = model
            logger.info(
                "model_loaded",
                extra={
                    "service": spec.key,
                    "seconds": round(time.perf_counter() - started, 4),
                    "phases": dict(model.load_seconds),
                    "serving": dict(model.serving),
                },
            )
