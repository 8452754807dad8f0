"""Wait until the local stack answers, then print the URLs.

Design 2 (default): the front door's /health shows every function answering.
Design 1: the front function answers /health (it calls no endpoint), then each route reaches its
model container through the SageMaker runtime stand-in: a small request to /ner and /qa answers
anything but the errors of an endpoint that cannot take requests yet (``model_not_ready`` while
a container starts, or ``model_unavailable`` "still loading" while its model loads). A container's
own error counts as up: QA without a model answers 503 ``model_unavailable`` naming
`make models`, as Design 2 does.

Usage: python3 scripts/wait-for-stack.py http://127.0.0.1:8000 [timeout_seconds] [design: 1|2]
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

#: Design 1 answers that mean "not up yet" (the front, the stand-in or a container starting).
NOT_READY = {
    "loading",
    "model_not_ready",
    "endpoint_unavailable",
    "sagemaker_unreachable",
    "sagemaker_error",
    "function_unreachable",
}
PROBES = {
    "ner": {"text": "Ada Lovelace was born in London."},
    "qa": {"question": "Where was Ada born?", "context": "Ada Lovelace was born in London."},
}


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    print("See `docker compose logs` (or docker-compose logs).", file=sys.stderr)
    return 1


def get_health(base: str, deadline: float, timeout: float) -> tuple[dict[str, Any] | None, str]:
    """The front door's /health once it answers 200, or (None, why) at the deadline."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=30) as response:
                report: dict[str, Any] = json.load(response)
            return report, ""
        except urllib.error.HTTPError as exc:  # 503: a function has not answered (yet)
            last = exc.read().decode("utf-8", "replace")
            if '"function_error"' in last:  # it answered, by failing: waiting will not help
                return None, f"a function fails to start: {last[:600]}"
            last = last[:300]
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(1)
    return None, f"the stack did not come up within {timeout:.0f}s ({last})."


def probe(base: str, service: str) -> tuple[int, str]:
    """POST a small request to /<service>: (status, error code or ""; ``loading`` while the
    container's model loads)."""
    data = json.dumps(PROBES[service]).encode()
    request = urllib.request.Request(
        f"{base}/{service}", data=data, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read())["error"]
            code = str(error["code"])
            if code == "model_unavailable" and "still loading" in str(error["message"]):
                code = "loading"
        except (ValueError, KeyError, TypeError):
            code = "unknown"
        return exc.code, code


def wait_design1(base: str, deadline: float, timeout: float) -> int:
    report, why = get_health(base, deadline, timeout)
    if report is None:
        return fail(why)
    front = report.get("functions", {}).get("front", {}).get("body", {})
    print(f"    front {front.get('status')}: {json.dumps(front.get('details'))[:200]}")
    for service in PROBES:
        status, code = 0, "no answer"
        while time.monotonic() < deadline:
            status, code = probe(base, service)
            if code not in NOT_READY:
                break
            time.sleep(1)
        else:
            return fail(f"/{service} did not reach its endpoint in time ({status} {code}).")
        print(f"    {service:4} endpoint answers: {status} {code}".rstrip())
    print(
        f"==> up (Design 1): {base}/ner  {base}/ner/batch  {base}/qa  {base}/qa/batch  {base}/health"
    )
    return 0


def main() -> int:
    base = sys.argv[1].rstrip("/")
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 180.0
    design = sys.argv[3] if len(sys.argv) > 3 else "2"
    deadline = time.monotonic() + timeout
    if design == "1":
        return wait_design1(base, deadline, timeout)
    report, why = get_health(base, deadline, timeout)
    if report is None:
        return fail(why)
    for name, function in report["functions"].items():
        body = function["body"]
        print(f"    {name:4} {body.get('status')}: {json.dumps(body.get('details'))[:200]}")
    print(f"==> up: {base}/ (page)  {base}/ner  {base}/qa  {base}/health  {base}/docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
