"""Dependencies: the loaded services, checked for being enabled and available."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.errors import ModelUnavailableError, ServiceNotEnabledError
from app.services import Services

if TYPE_CHECKING:
    from app.ner.service import NerService
    from app.qa.service import QaService


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _require(services: Services, name: str) -> None:
    if name not in services.enabled:
        served = ", ".join(f"/{s}" for s in services.enabled) or "nothing"
        raise ServiceNotEnabledError(
            f"This function does not serve /{name}; it serves {served}. "
            f"Call the {name} function's URL instead (or set SERVICES to include {name} locally)."
        )
    if name in services.errors:
        raise ModelUnavailableError(services.errors[name])


def get_ner_service(services: Annotated[Services, Depends(get_services)]) -> NerService:
    _require(services, "ner")
    assert services.ner is not None  # _require guarantees it; narrows the type
    return services.ner


def get_qa_service(services: Annotated[Services, Depends(get_services)]) -> QaService:
    _require(services, "qa")
    assert services.qa is not None
    return services.qa


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
NerServiceDep = Annotated["NerService", Depends(get_ner_service)]
QaServiceDep = Annotated["QaService", Depends(get_qa_service)]
