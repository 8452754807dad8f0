"""A local stand-in for Lambda function URLs in front of Runtime Interface Emulators.

SAM cannot emulate function URLs, and the RIE speaks only the invoke API. This server turns
plain HTTP into function URL events (payload format 2.0), posts them to the RIE of the function
the path belongs to (``/ner*`` -> ner, ``/qa*`` -> qa, anything else -> the default function),
and turns the result back into HTTP. Each RIE handles one invocation at a time, so requests queue
on one lock per function. ``/health`` reports every function. Standard library only, so it runs
with the base image's python: ``python3 -m tools.frontdoor``.

Environment: FRONTDOOR_FUNCTIONS (``ner=http://ner:8080,qa=http://qa:8080``),
FRONTDOOR_DEFAULT (``ner``), FRONTDOOR_HOST (``0.0.0.0``), FRONTDOOR_PORT (``8000``),
FRONTDOOR_TIMEOUT (seconds per invocation, ``120``).

Opt-in AuthType AWS_IAM, as a deployed function URL: FRONTDOOR_AUTH=AWS_IAM (default ``NONE``)
with test credentials FRONTDOOR_ACCESS_KEY_ID and FRONTDOOR_SECRET_ACCESS_KEY, and
FRONTDOOR_REGION (``us-east-1``). Every request must then carry a SigV4 Authorization header
for service ``lambda`` made with those credentials; anything else gets the 403 a function URL
answers. The check recomputes the signature with botocore, so this mode needs the project venv
(``.venv/bin/python -m tools.frontdoor``), not the base image's python.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# Function URLs reject request and response payloads above 6 MB (buffered mode).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
TEXT_SUFFIXES = ("+json", "+xml")
# What a function URL with AuthType AWS_IAM answers a request that is unsigned or not signed by
# an allowed principal: 403, x-amzn-ErrorType AccessDeniedException and this body (AWS's wording
# in reports from 2025-2026; earlier reports show {"Message":"Forbidden"}, without the link).
FORBIDDEN_MESSAGE = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)
# SigV4: a signed request is valid for 15 minutes either side of the server's clock.
MAX_CLOCK_SKEW_SECONDS = 15 * 60
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
T = TypeVar("T")


def drain(stream: io.BufferedIOBase, length: int) -> None:
    """Read and drop up to ``length`` bytes of a refused request's body (at most
    DRAIN_LIMIT_BYTES), so the client sees the answer instead of a reset connection."""
    remaining = min(length, DRAIN_LIMIT_BYTES)
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        remaining -= len(chunk)


@dataclass
class Function:
    """One upstream RIE; ``lock`` serialises invocations because the RIE handles one at a time."""

    name: str
    url: str
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class HttpReply:
    """What goes back to the HTTP client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_functions(spec: str) -> dict[str, Function]:
    """Parse ``name=url,name=url`` into functions keyed by name."""
    functions: dict[str, Function] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, url = part.partition("=")
        if not sep or not name or not url:
            raise ValueError(f"FRONTDOOR_FUNCTIONS entry {part!r} is not name=url")
        functions[name.strip()] = Function(name.strip(), url.strip().rstrip("/"))
    return functions


def route(path: str, functions: Mapping[str, T], default: str) -> T:
    """Pick the function for a path: ``/<name>`` or ``/<name>/...``, else the default.
    ``tools.proxy`` routes to function URLs with the same rule."""
    first = path.lstrip("/").split("/", 1)[0]
    return functions.get(first) or functions[default]


def is_text(content_type: str) -> bool:
    """Whether a function URL would pass a body of this type as text rather than base64."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(TEXT_TYPES) or media.endswith(TEXT_SUFFIXES)


def build_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """Build a function URL event (payload format 2.0) from a plain HTTP request."""
    parsed = urllib.parse.urlsplit(target)
    path = parsed.path or "/"
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        # Repeated headers are joined with commas, as function URLs do.
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    content_type = merged.get("content-type", "")
    encoded = bool(body) and not is_text(content_type)
    if not encoded:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            encoded = True
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parsed.query,
        "headers": merged,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": merged.get("host", "localhost").split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": formatdate(now, usegmt=True),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if parsed.query:
        query: dict[str, str] = {}
        for key, value in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    if body:
        event["body"] = base64.b64encode(body).decode("ascii") if encoded else text
    return event


def error_reply(status: int, code: str, message: str) -> HttpReply:
    """The project's one error shape, for failures of the front door itself."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return HttpReply(status, [("content-type", "application/json")], body)


def too_large(length: int) -> HttpReply:
    """The 413 a function URL gives a body over its payload limit, in the project's error shape."""
    return error_reply(
        413,
        "payload_too_large",
        f"The request body has {length} bytes; function URLs accept at most "
        f"{MAX_PAYLOAD_BYTES}. Send less text per request.",
    )


def forbidden_reply() -> HttpReply:
    """The 403 of a function URL with AuthType AWS_IAM."""
    body = json.dumps({"Message": FORBIDDEN_MESSAGE}, separators=(",", ":")).encode()
    return HttpReply(
        403,
        [("content-type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")],
        body,
    )


@dataclass(frozen=True)
class IamAuth:
    """AuthType AWS_IAM for one set of test credentials: a request passes when it carries a SigV4
    Authorization header (service ``lambda``, this Region) made with them, as a function URL
    checks a caller's. Other principals, policies and session tokens are not modelled."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"

    def refusal(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        now: float | None = None,
    ) -> str | None:
        """Why the request is refused (for the log), or None when it is correctly signed.

        The signature is recomputed with botocore's SigV4Auth over the received method, path and
        query, signed headers and body, and compared in constant time.
        """
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        received: dict[str, list[str]] = {}
        for name, value in headers:
            received.setdefault(name.lower(), []).append(value)
        authorization = received.get("authorization", [])
        if not authorization:
            return "no Authorization header"
        match = AUTHORIZATION.match(authorization[0].strip())
        if len(authorization) > 1 or match is None:
            return "malformed Authorization header"
        if not hmac.compare_digest(match["key"].encode(), self.access_key_id.encode()):
            return f"unknown access key id {match['key']}"
        if match["service"] != "lambda" or match["region"] != self.region:
            return (
                f"signed for {match['service']} in {match['region']}, not lambda in {self.region}"
            )
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "host and x-amz-date must be signed headers"
        missing = [name for name in signed if name not in received]
        if missing:
            return f"signed headers missing from the request: {', '.join(missing)}"
        stamp = received["x-amz-date"][0].strip()
        try:
            signed_at = datetime.strptime(stamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            return f"X-Amz-Date {stamp!r} is not YYYYMMDDTHHMMSSZ"
        skew = abs((time.time() if now is None else now) - signed_at.timestamp())
        if skew > MAX_CLOCK_SKEW_SECONDS:
            return f"X-Amz-Date {stamp} is {skew / 60:.0f} minutes off (at most 15)"
        if match["date"] != stamp[:8]:
            return "the credential scope's date is not X-Amz-Date's"
        content_sha256 = received.get("x-amz-content-sha256")
        if content_sha256 and content_sha256[0] != hashlib.sha256(body).hexdigest():
            return "X-Amz-Content-SHA256 is not the body's hash"
        request = AWSRequest(method=method, url=f"http://{received['host'][0]}{target}", data=body)
        for name in signed:
            for value in received[name]:
                request.headers[name] = value  # repeated headers stay repeated, as signed
        request.context["timestamp"] = stamp
        signer = SigV4Auth(
            Credentials(self.access_key_id, self.secret_access_key), "lambda", self.region
        )
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
            return "signature mismatch"
        return None


def auth_from_env(environ: Mapping[str, str]) -> IamAuth | None:
    """FRONTDOOR_AUTH=AWS_IAM: the IamAuth its variables describe; NONE (default): None."""
    mode = environ.get("FRONTDOOR_AUTH", "NONE").strip().upper() or "NONE"
    if mode == "NONE":
        return None
    if mode != "AWS_IAM":
        raise ValueError(f"FRONTDOOR_AUTH must be NONE (default) or AWS_IAM, not {mode!r}.")
    key = environ.get("FRONTDOOR_ACCESS_KEY_ID", "")
    secret = environ.get("FRONTDOOR_SECRET_ACCESS_KEY", "")
    if not key or not secret:
        raise ValueError(
            "FRONTDOOR_AUTH=AWS_IAM needs FRONTDOOR_ACCESS_KEY_ID and "
            "FRONTDOOR_SECRET_ACCESS_KEY: the test credentials callers sign with."
        )
    try:
        import botocore.auth  # noqa: F401
    except ImportError:
        raise ValueError(
            "FRONTDOOR_AUTH=AWS_IAM checks signatures with botocore, which this python lacks: "
            "run it from the project venv (.venv/bin/python -m tools.frontdoor)."
        ) from None
    return IamAuth(key, secret, environ.get("FRONTDOOR_REGION") or "us-east-1")


def to_http(result: Any) -> HttpReply:
    """Turn a function result into HTTP, following function URL response rules.

    A result without ``statusCode`` is sent as a 200 JSON body, as function URLs do.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        body = json.dumps(result).encode()
        return HttpReply(200, [("content-type", "application/json")], body)
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("set-cookie", str(c)) for c in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return HttpReply(int(result["statusCode"]), headers, body)


def invoke(function: Function, event: dict[str, Any], timeout: float) -> HttpReply:
    """Post one event to the function's RIE (queued on its lock) and convert the answer."""
    data = json.dumps(event).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        # Lambda caps the invocation payload, envelope included, at 6 MB as well: a body just
        # under the limit can still be too large once wrapped in the event (more so in base64).
        return error_reply(
            413,
            "payload_too_large",
            f"The request becomes a {len(data)}-byte event; Lambda accepts at most "
            f"{MAX_PAYLOAD_BYTES} bytes per invocation. Send less text per request.",
        )
    request = urllib.request.Request(
        function.url + INVOKE_PATH,
        data=data,
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with function.lock, urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
            function_error = response.headers.get("x-amz-function-error")
    except urllib.error.HTTPError as exc:
        # The RIE answers 502 when the runtime exits (e.g. the handler module failed to import).
        return error_reply(
            502,
            "function_error",
            f"The {function.name} function failed ({exc.code} from its RIE); see its container "
            f"log (docker compose logs {function.name}).",
        )
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return error_reply(
            502,
            "function_unreachable",
            f"The {function.name} function at {function.url} did not answer ({reason}). "
            "Check that its container is running (docker compose ps) and retry.",
        )
    try:
        result = json.loads(payload) if payload else None
    except json.JSONDecodeError:
        return error_reply(
            502, "bad_function_response", f"The {function.name} function returned non-JSON."
        )
    if function_error or (isinstance(result, dict) and "errorType" in result):
        # The handler raised or the runtime failed: Lambda answers 502, details stay in the log.
        return error_reply(
            502,
            "function_error",
            f"The {function.name} function failed; see its container log "
            f"(docker compose logs {function.name}).",
        )
    return to_http(result)


class FrontDoor(ThreadingHTTPServer):
    """The HTTP server; it holds the functions and the routing default."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        functions: dict[str, Function],
        default: str,
        timeout: float,
        auth: IamAuth | None = None,
    ) -> None:
        if default not in functions:
            raise ValueError(f"FRONTDOOR_DEFAULT {default!r} is not one of {sorted(functions)}")
        super().__init__(address, Handler)
        self.functions = functions
        self.default = default
        self.invoke_timeout = timeout
        self.auth = auth

    def health(self) -> HttpReply:
        """Ask every function for /health and merge the answers (``merged_health``)."""
        replies: dict[str, HttpReply] = {}
        for name, function in self.functions.items():
            event = build_event("GET", "/health", [("host", "localhost")], b"", "127.0.0.1")
            replies[name] = invoke(function, event, self.invoke_timeout)
        return merged_health(replies, "see docker compose logs {name}")


def merged_health(replies: Mapping[str, HttpReply], hint: str) -> HttpReply:
    """One /health over several functions: 200 when all answered, "ok" when all are ok.

    The answer has the functions' own /health shape (status, version, services, details),
    merged, so clients of one function read the stack the same way; ``functions`` adds
    each function's raw reply. ``hint`` (with ``{name}``) says where to look when a function
    did not answer.
    """
    report: dict[str, Any] = {}
    for name, reply in replies.items():
        try:
            body: Any = json.loads(reply.body)
        except json.JSONDecodeError:
            body = reply.body.decode("utf-8", "replace")
        report[name] = {"status_code": reply.status, "body": body}
    answered = all(r["status_code"] == 200 for r in report.values())
    healthy = answered and all(
        isinstance(r["body"], dict) and r["body"].get("status") == "ok" for r in report.values()
    )
    services: list[str] = []
    details: dict[str, Any] = {}
    versions: set[str] = set()
    for name, r in report.items():
        body = r["body"]
        if r["status_code"] == 200 and isinstance(body, dict):
            services += [s for s in body.get("services", []) if s not in services]
            details.update(body.get("details", {}))
            versions.add(str(body.get("version")))
        else:
            details[name] = {
                "status": "unavailable",
                "model": None,
                "load_seconds": {},
                "error": f"The {name} function did not answer /health (HTTP "
                f"{r['status_code']}); {hint.format(name=name)}.",
            }
    content = {
        "status": "ok" if healthy else "degraded",
        "version": ",".join(sorted(versions)) or "unknown",
        "services": services,
        "details": details,
        "functions": report,
    }
    return HttpReply(
        200 if answered else 503,
        [("content-type", "application/json")],
        json.dumps(content).encode(),
    )


class Handler(BaseHTTPRequestHandler):
    """Turns each HTTP request into one function invocation."""

    server: FrontDoor
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            # Drain what the client is sending (within reason) so it reads the answer instead of
            # failing on a broken pipe; then close the connection.
            drain(self.rfile, length)
            self.close_connection = True
            self._send(too_large(length))
            return
        body = self.rfile.read(length) if length else b""
        if self.server.auth is not None:
            reason = self.server.auth.refusal(
                self.command, self.path, list(self.headers.items()), body
            )
            if reason is not None:
                self.log_message('refused "%s %s": %s', self.command, self.path, reason)
                self._send(forbidden_reply())
                return
        path = urllib.parse.urlsplit(self.path).path
        if path == "/health" and self.command == "GET":
            self._send(self.server.health())
            return
        function = route(path, self.server.functions, self.server.default)
        event = build_event(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        self._send(invoke(function, event, self.server.invoke_timeout))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def _send(self, reply: HttpReply) -> None:
        self.send_response(reply.status)
        skip = {"content-length", "connection", "transfer-encoding"}
        for name, value in reply.headers:
            if name.lower() not in skip:
                self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        print(f"frontdoor {self.address_string()} {format % args}", flush=True)


def main() -> None:
    """Serve until interrupted, configured from the environment."""
    try:
        functions = parse_functions(
            os.environ.get("FRONTDOOR_FUNCTIONS", "ner=http://ner:8080,qa=http://qa:8080")
        )
        auth = auth_from_env(os.environ)
        server = FrontDoor(
            (
                os.environ.get("FRONTDOOR_HOST", "0.0.0.0"),
                int(os.environ.get("FRONTDOOR_PORT", "8000")),
            ),
            functions,
            os.environ.get("FRONTDOOR_DEFAULT", "ner"),
            float(os.environ.get("FRONTDOOR_TIMEOUT", "120")),
            auth,
        )
    except ValueError as exc:
        sys.exit(f"frontdoor: error: {exc}")
    names = ", ".join(f"{f.name} -> {f.url}" for f in functions.values())
    mode = f"AWS_IAM, key {auth.access_key_id}, {auth.region}" if auth else "auth NONE"
    print(f"frontdoor listening on {server.server_address} ({names}; {mode})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
