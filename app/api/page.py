"""The demo page: ``GET /``, its static files, and ``POST /ner/render`` (entities as displaCy HTML).

The page is one HTML file, one stylesheet and one script under ``app/static``, read into memory at
import (the Lambda root filesystem is read-only, and every response is text so Mangum never needs
base64). It is served under a strict Content-Security-Policy: no inline script, no inline
``<style>``; the only inline styles allowed are the ``style`` attributes displaCy writes, each
pinned by its SHA-256 hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import Field

from app import limits
from app.api.deps import NerServiceDep, ServicesDep, run_model, settings_of
from app.api.ner import EntityOut, NerRequest
from app.api.schemas import ERROR_RESPONSES, ModelInfo, StrictModel
from app.ner.service import Entity

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# name -> media type of every file the page may load; nothing else under /static is served.
STATIC_FILES: dict[str, str] = {
    "page.css": "text/css; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
}

# Headers of every page response: the browser must not sniff types, frame the page or leak URLs.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

router = APIRouter(tags=["page"])


def _read_static() -> dict[str, str]:
    return {name: (STATIC_DIR / name).read_text(encoding="utf-8") for name in STATIC_FILES}


_STATIC = _read_static()
_INDEX = (STATIC_DIR / "index.html").read_text(encoding="utf-8")


class NerRenderRequest(NerRequest):
    """The body of POST /ner, rendered as displaCy markup (same limit: NER_MAX_TEXT_CHARS)."""


class NerRenderResponse(StrictModel):
    html: str = Field(description="displaCy 'ent' markup; every piece of the text is escaped.")
    entities: list[EntityOut] = Field(description="The entities the markup shows, in order.")
    model: ModelInfo


def render_entities(text: str, entities: list[Entity]) -> str:
    """displaCy ``ent`` markup of ``text`` with ``entities`` (character offsets, in order).

    displaCy escapes the text fragments but not the labels; labels come from the model, and are
    escaped here too so the markup is safe whatever pipeline NER_MODEL names.
    """
    from spacy import displacy  # deferred: the QA image has no spaCy

    ents = [{"start": e.start, "end": e.end, "label": html.escape(e.label)} for e in entities]
    markup: str = displacy.render(
        {"text": text, "ents": ents, "title": None}, style="ent", manual=True, jupyter=False
    )
    return markup.strip()


def _style_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@lru_cache(maxsize=4)
def displacy_style_hashes(labels: tuple[str, ...]) -> tuple[str, ...]:
    """CSP hash sources for every ``style`` attribute displaCy writes for these labels.

    The attribute values depend only on the label (its colour), never on the text, so rendering
    one entity of each label (plus one unknown label, which gets the default colour) finds them all.
    """
    sample_labels = [*labels, "UNKNOWN_LABEL"]
    text = " ".join("x" for _ in sample_labels)
    entities = [
        Entity(text="x", label=label, start=2 * i, end=2 * i + 1)
        for i, label in enumerate(sample_labels)
    ]
    styles = set(re.findall(r'style="([^"]*)"', render_entities(text, entities)))
    return tuple(sorted(_style_hash(style) for style in styles))


def content_security_policy(style_hashes: tuple[str, ...]) -> str:
    """The page's policy: everything from this origin only, nothing inline but displaCy's styles."""
    style_attr = " ".join(("'unsafe-hashes'", *style_hashes)) if style_hashes else "'none'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"style-src-attr {style_attr}",
            "img-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@router.get("/", response_class=HTMLResponse, summary="The demo page (NER and QA)")
async def page(services: ServicesDep) -> HTMLResponse:
    hashes = displacy_style_hashes(services.ner.labels) if services.ner is not None else ()
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(hashes)}
    return HTMLResponse(_INDEX, headers=headers)


@router.get("/static/{name}", summary="The page's stylesheet and script", include_in_schema=False)
async def static_file(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        message = (
            f"There is no static file {name!r}; the page uses "
            + " and ".join(f"/static/{known}" for known in STATIC_FILES)
            + ". Open / to load the page."
        )
        return JSONResponse(
            status_code=404, content={"error": {"code": "not_found", "message": message}}
        )
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"}
    return Response(_STATIC[name], media_type=media_type, headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    # Browsers ask for it unprompted; an empty answer keeps their consoles free of 404s.
    return Response(status_code=204)


@router.post(
    "/ner/render",
    tags=["ner"],
    responses=ERROR_RESPONSES,
    summary="Named entities of one text, rendered as displaCy HTML",
)
async def ner_render(
    body: NerRenderRequest, request: Request, service: NerServiceDep
) -> NerRenderResponse:
    settings = settings_of(request)
    limits.check_ner_text(
        body.text, settings, advice="Render a shorter text, for example one paragraph at a time."
    )
    entities = await run_model(request, service.extract, body.text, body.labels)
    return NerRenderResponse(
        html=render_entities(body.text, entities),
        entities=[
            EntityOut(text=e.text, label=e.label, start=e.start, end=e.end) for e in entities
        ],
        model=ModelInfo(name=service.name, version=service.version),
    )
