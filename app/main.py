"""The Lambda entry module: ``handler`` is what the images' ``CMD`` names.

Importing it is the Lambda init phase: settings are read, every enabled model is loaded and the
request path is warmed up, once per process (never in a lifespan hook: Mangum would run it on
every invocation). Composition only; the parts are :func:`app.web.create_app` and
:func:`app.lambda_handler.create_handler`.
"""

from __future__ import annotations

import time

_init_started = time.perf_counter()

from app.config import get_settings  # noqa: E402  (the timer above measures these imports)
from app.lambda_handler import create_handler  # noqa: E402
from app.logging import logger  # noqa: E402
from app.services import Services  # noqa: E402
from app.web import create_app, error_response  # noqa: E402

settings = get_settings()
services = Services.load(settings)
app = create_app(settings, services)
handler, warm_up_seconds = create_handler(app, services)

logger.info(
    "init_complete",
    extra={
        "services": list(settings.services),
        "init_seconds": round(time.perf_counter() - _init_started, 4),
        "phases": services.load_seconds,
        "request_path_warmup_seconds": round(warm_up_seconds, 4),
        "unavailable": services.errors,
    },
)

__all__ = ["app", "create_app", "error_response", "handler", "services", "settings"]
