"""Wait until the front door's /health shows every function answering, then print the URLs.

Usage: python3 scripts/wait-for-stack.py http://127.0.0.1:8000 [timeout_seconds]
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request


def main() -> int:
    base = sys.argv[1].rstrip("/")
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 180.0
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=30) as response:
                report = json.load(response)
            break
        except urllib.error.HTTPError as exc:  # 503: a function has not answered (yet)
            last = exc.read().decode("utf-8", "replace")
            if '"function_error"' in last:  # it answered, by failing: waiting will not help
                print(f"error: a function fails to start: {last[:600]}", file=sys.stderr)
                print("See `docker compose logs` (or docker-compose logs).", file=sys.stderr)
                return 1
            last = last[:300]
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(1)
    else:
        print(f"error: the stack did not come up within {timeout:.0f}s ({last}).", file=sys.stderr)
        print("See `docker compose logs` (or docker-compose logs).", file=sys.stderr)
        return 1
    for name, function in report["functions"].items():
        body = function["body"]
        print(f"    {name:4} {body.get('status')}: {json.dumps(body.get('details'))[:200]}")
    print(f"==> up: {base}/ (page)  {base}/ner  {base}/qa  {base}/health  {base}/docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
