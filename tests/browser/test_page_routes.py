"""The page's routes in-process (no browser): headers, static files, Mangum, ``POST /ner/render``."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from app.api import page
from app.ner.service import Entity
from tests.conftest import LambdaContext, load_event

INJECTION = "<img src=x onerror=alert(1)></script><script>alert(2)</script> & \"quotes\" 'too'"


class _Elements(HTMLParser):
    """Collects tags, attributes and text of a piece of markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.styles: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name == "style" and value is not None:
                self.styles.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def client(ner_app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(ner_app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_page_index_has_strict_csp(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["style-src-attr"].startswith("'unsafe-hashes' 'sha256-")
    assert response.headers["x-content-type-options"] == "nosniff"
    # The page itself has nothing inline: no script bodies, no <style>, no style attributes.
    body = response.text
    assert re.search(r"<script(?![^>]*\bsrc=)", body) is None
    assert "<style" not in body and "style=" not in body
    assert re.search(r"\son[a-z]+=", body) is None
    assert 'src="static/page.js"' in body and 'href="static/page.css"' in body


@pytest.mark.parametrize(
    ("name", "media_type"), [("page.js", "text/javascript"), ("page.css", "text/css")]
)
def test_page_static_files_served_as_text(client: Any, name: str, media_type: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.text == (page.STATIC_DIR / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["/static/index.html", "/static/..%2Fapi%2Fpage.py", "/static/x"])
def test_page_static_unknown_file_is_404_json(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "page" in error["message"] or "route" in error["message"].lower()


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/", "text/html"), ("/static/page.js", "text/javascript"), ("/static/page.css", "text/css")],
)
def test_page_through_mangum_is_text_not_base64(
    ner_app: Any, lambda_context: LambdaContext, path: str, media_type: str
) -> None:
    from mangum import Mangum

    event = copy.deepcopy(load_event("health.json"))
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "GET"
    result = Mangum(ner_app, lifespan="off")(event, lambda_context)
    assert result["statusCode"] == 200
    assert result["isBase64Encoded"] is False
    assert result["headers"]["content-type"].startswith(media_type)
    assert len(result["body"]) > 100


def test_page_render_escapes_text_and_labels() -> None:
    text = f"Hello {INJECTION} world"
    start = text.index("<img")
    end = start + len(INJECTION)
    entities = [
        Entity(text=text[start:end], label="<b onmouseover=alert(3)>ORG", start=start, end=end)
    ]
    parsed = _parse(page.render_entities(text, entities))
    assert set(parsed.tags) <= {"div", "mark", "span", "br"}
    assert parsed.attributes <= {"class", "style"}
    rendered = "".join(parsed.text)
    assert INJECTION in rendered
    assert "<b onmouseover=alert(3)>ORG" in rendered


def test_page_render_matches_ner(client: Any) -> None:
    text = "Ada Lovelace met Charles Babbage in London in 1833.\nShe wrote about the Engine."
    rendered = client.post("/ner/render", json={"text": text})
    plain = client.post("/ner", json={"text": text})
    assert rendered.status_code == 200 and plain.status_code == 200
    body = rendered.json()
    assert body["entities"] == plain.json()["entities"]
    assert body["model"] == plain.json()["model"]
    parsed = _parse(body["html"])
    assert parsed.tags.count("mark") == len(body["entities"]) >= 3
    assert "br" in parsed.tags  # displaCy keeps the line break


def test_page_render_labels_filter(client: Any) -> None:
    text = "Ada Lovelace met Charles Babbage in London."
    body = client.post("/ner/render", json={"text": text, "labels": ["GPE"]}).json()
    assert [(e["text"], e["label"]) for e in body["entities"]] == [("London", "GPE")]
    assert _parse(body["html"]).tags.count("mark") == 1


def test_page_render_style_hashes_cover_every_style(client: Any) -> None:
    policy = client.get("/").headers["content-security-policy"]
    text = "Apple paid $3 billion to Ada Lovelace in London on Monday, 5% more than IBM in 1990."
    html = client.post("/ner/render", json={"text": text}).json()["html"]
    styles = _parse(html).styles
    assert len(set(styles)) >= 3
    for style in styles:
        assert page._style_hash(style) in policy


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": "x" * 100_001}, 413, "payload_too_large"),
        ({"text": "Ada", "labels": ["NOPE"]}, 422, "validation_error"),
        ({"txt": "Ada"}, 422, "validation_error"),
        ({"text": 5}, 422, "validation_error"),
    ],
)
def test_page_render_bad_input_is_4xx_json(
    client: Any, body: dict[str, Any], status: int, code: str
) -> None:
    response = client.post("/ner/render", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 20


def test_page_render_invalid_json_is_400(client: Any) -> None:
    response = client.post(
        "/ner/render", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_page_on_function_without_ner(main_module: Any) -> None:
    from fastapi.testclient import TestClient

    from app.services import Services
    from tests.browser.conftest import page_app

    services = Services(enabled=("qa",), errors={"qa": "QA_MODEL_DIR is missing; run make models."})
    app = page_app(main_module, main_module.settings, services)
    with TestClient(app, raise_server_exceptions=False) as qa_client:
        index = qa_client.get("/")
        assert index.status_code == 200
        assert "style-src-attr 'none'" in index.headers["content-security-policy"]
        render = qa_client.post("/ner/render", json={"text": "Ada"})
        assert render.status_code == 404
        assert render.json()["error"]["code"] == "service_not_enabled"


def test_page_module_does_not_import_spacy() -> None:
    # The QA image has no spaCy: importing the page routes must not need it.
    code = "import sys, app.api.page; assert 'spacy' not in sys.modules, 'spacy imported'"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
