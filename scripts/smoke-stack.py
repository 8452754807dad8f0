"""One request to each route of a running local stack, through its front door, as a user would.

    python3 scripts/smoke-stack.py http://127.0.0.1:8000      (or: make smoke)

- ``POST /ner``: 200 with the entities of a sentence whose people and places spaCy knows;
- ``POST /qa``: 200 with an answer that is a span of the context, or, when the image was built
  without a QA model, 503 ``model_unavailable`` whose message names `make models`;
- ``GET /``: the page (200, HTML).

Prints one line per route and exits 1 on the first answer that is none of these. Standard
library only, so it runs before any venv exists (.ci/run runs it right after `make run`).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

NER_TEXT = "Ada Lovelace was born in London in 1815."
QA = {"question": "Where was Ada Lovelace born?", "context": NER_TEXT}
TIMEOUT = 120.0


def call(base: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of one request; HTTP errors are answers too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, headers={"content-type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read()


def check_ner(base: str) -> str:
    status, _, raw = call(base, "/ner", {"text": NER_TEXT})
    if status != 200:
        raise AssertionError(f"POST /ner answered {status}: {raw[:300]!r}")
    entities = json.loads(raw)["entities"]
    found = {(e["text"], e["label"]) for e in entities}
    for span in entities:
        if NER_TEXT[span["start"] : span["end"]] != span["text"]:
            raise AssertionError(f"POST /ner: {span} is not a span of the text")
    if ("London", "GPE") not in found:
        raise AssertionError(f"POST /ner found {sorted(found)}, not London (GPE)")
    return f"200, {len(entities)} entities: " + ", ".join(f"{t} ({lab})" for t, lab in found)


def check_qa(base: str) -> str:
    status, _, raw = call(base, "/qa", QA)
    if status == 503:
        error = json.loads(raw).get("error", {})
        if error.get("code") == "model_unavailable" and "make models" in error.get("message", ""):
            return f"503 model_unavailable, naming `make models` (no QA model baked in): {error['message'][:120]}"
        raise AssertionError(f"POST /qa answered 503 without naming `make models`: {raw[:300]!r}")
    if status != 200:
        raise AssertionError(f"POST /qa answered {status}: {raw[:300]!r}")
    answer = json.loads(raw)["answers"][0]
    span = QA["context"][answer["start"] : answer["start"] + answer["length"]]
    if span != answer["text"]:
        raise AssertionError(f"POST /qa: {answer} is not a span of the context")
    return f"200, answer {answer['text']!r} (score {answer['score']:.3g})"


def check_page(base: str) -> str:
    status, content_type, raw = call(base, "/")
    if status != 200 or not content_type.startswith("text/html") or b"<form" not in raw:
        raise AssertionError(f"GET / answered {status} {content_type}: {raw[:200]!r}")
    return f"200, the page ({len(raw)} bytes of HTML)"


def main(argv: list[str]) -> int:
    base = (argv[1] if len(argv) > 1 else "http://127.0.0.1:8000").rstrip("/")
    for route, check in (("POST /ner", check_ner), ("POST /qa", check_qa), ("GET /", check_page)):
        try:
            print(f"    {route:9} {check(base)}", flush=True)
        except (AssertionError, OSError, ValueError, KeyError, IndexError) as exc:
            print(f"error: {route} at {base}: {exc}", file=sys.stderr)
            return 1
    print(f"==> smoke: every route answers through {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
