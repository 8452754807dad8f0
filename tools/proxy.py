"""A local signing proxy: the deployed stack's page and API on 127.0.0.1, with your credentials.

    python -m tools.proxy --stack NAME [--region R] [--port 8080]
    python -m tools.proxy --ner-url URL --qa-url URL [--region R] [--port 8080]

Function URLs with AuthType AWS_IAM (the template's default) answer a browser's unsigned
requests with 403 {"Message": "Forbidden..."}. This server listens on 127.0.0.1 only and forwards
each request to the function URL its path belongs to, signed with SigV4 (service ``lambda``) by
``tools.client.sign`` with the caller's credentials from botocore's default chain (environment,
AWS_PROFILE, SSO, instance role), as AWS's aws-sigv4-proxy does for other services. It routes as
the local front door does (``tools.frontdoor.route``): ``/ner*`` to the NER URL, ``/qa*`` to the
QA URL, anything else (the page ``/``, ``/static/*``, ``/openapi.json``) to the NER URL, and
``GET /health`` asks both and merges their answers, so the page drives both services.

``--stack`` reads the stack outputs NerFunctionUrl and QaFunctionUrl with CloudFormation's
DescribeStacks. The Region to sign for comes from each URL's host
(``<id>.lambda-url.<region>.on.aws``), else ``--region``, else the stack's Region.

Only ``content-type`` is signed, besides ``host`` and the ``x-amz-*`` headers SigV4 adds; the
other end-to-end request headers travel unsigned. Cookies, ``authorization``, ``origin``,
``referer`` and incoming ``x-amz-*`` headers are not forwarded, and the hop-by-hop headers are
dropped both ways. Status, headers and body come back as they are, the body streamed.

It refuses requests whose Host is not this server (DNS rebinding) and whose Origin is another
site's (a page elsewhere posting to it), so other web pages cannot use your credentials.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import ssl
import sys
import urllib.parse
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tools.client import NO_CREDENTIALS, ClientError, Request, load_credentials, region_from_url
from tools.client import sign as sign_request
from tools.frontdoor import (
    MAX_PAYLOAD_BYTES,
    HttpReply,
    drain,
    error_reply,
    merged_health,
    route,
    too_large,
)

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
OUTPUTS = {"ner": "NerFunctionUrl", "qa": "QaFunctionUrl"}
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Request headers that stay here: recomputed (host, content-length), the caller's own
# (authorization, cookie), or what would tell the function about this local page.
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "authorization", "cookie", "origin"}
NOT_FORWARDED |= {"referer", "expect"}
SIGNED = frozenset({"content-type"})
CHUNK = 1 << 16


@dataclass(frozen=True)
class Upstream:
    """One function URL: where a route goes, and the Region its signature is for."""

    name: str
    url: str  # without the trailing slash
    region: str


def without_hop_by_hop(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop the hop-by-hop headers, and those a Connection header names."""
    headers = list(headers)
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP | named]


def request_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The caller's headers that go on to the function URL (before signing)."""
    return [
        (name, value)
        for name, value in without_hop_by_hop(headers)
        if name.lower() not in NOT_FORWARDED and not name.lower().startswith(("x-amz-", "x-amzn-"))
    ]


def upstream_url(upstream: Upstream, target: str) -> str:
    """The function URL for a request target (path and query) received here."""
    return upstream.url + target


class SigningProxy(ThreadingHTTPServer):
    """The HTTP server: the function URLs, the caller's credentials, the upstream timeout."""

    daemon_threads = True

    def __init__(
        self,
        port: int,
        upstreams: dict[str, Upstream],
        credentials: Any,
        timeout: float = 120.0,
        default: str = "ner",
    ) -> None:
        super().__init__((HOST, port), ProxyHandler)
        self.upstreams = upstreams
        self.default = default
        self.credentials = credentials
        self.timeout = timeout
        self.tls = ssl.create_default_context()
        bound = self.server_address[1]
        names = (f"{HOST}:{bound}", f"localhost:{bound}")
        self.local_hosts = frozenset(names)
        self.local_origins = frozenset(f"http://{name}" for name in names)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def open(
        self,
        upstream: Upstream,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send one signed request to ``upstream``; the connection and its response (unread).

        Raises ClientError when it cannot be signed, OSError or HTTPException when the function
        URL does not answer.
        """
        url = upstream_url(upstream, target)
        parts = urllib.parse.urlsplit(url)
        forwarded = request_headers(headers)
        # Sign exactly the Host http.client would not be trusted to spell the same way.
        host = parts.netloc.rpartition("@")[2].lower()
        to_sign = {"host": host} | {n: v for n, v in forwarded if n.lower() in SIGNED}
        signed = sign_request(
            Request(method, url, to_sign, body), upstream.region, self.credentials
        )
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout, context=self.tls
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=self.timeout
            )
        try:
            path = parts.path or "/"
            connection.putrequest(
                method,
                f"{path}?{parts.query}" if parts.query else path,
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in signed.headers.items():
                connection.putheader(name, value)
            for name, value in forwarded:
                if name.lower() not in SIGNED:
                    connection.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise

    def fetch(self, upstream: Upstream, method: str, target: str) -> HttpReply:
        """One whole signed request (for /health); failures become the project's error shape."""
        try:
            connection, response = self.open(upstream, method, target, [], b"")
        except ClientError as exc:
            return error_reply(502, "signing_failed", str(exc))
        except (OSError, http.client.HTTPException) as exc:
            return unreachable(upstream, exc)
        try:
            return HttpReply(response.status, response.getheaders(), response.read())
        except (OSError, http.client.HTTPException) as exc:
            return unreachable(upstream, exc)
        finally:
            connection.close()

    def distinct(self) -> dict[str, Upstream]:
        """The upstreams by name, one per function URL (Design 1 has one URL for both)."""
        seen: dict[str, Upstream] = {}
        for name, upstream in self.upstreams.items():
            if upstream.url not in {u.url for u in seen.values()}:
                seen[name] = upstream
        return seen

    def health(self) -> HttpReply:
        """GET /health of every function URL, merged as the local front door merges its RIEs'."""
        upstreams = self.distinct()
        with ThreadPoolExecutor(max_workers=len(upstreams)) as pool:
            replies = dict(
                zip(
                    upstreams,
                    pool.map(lambda u: self.fetch(u, "GET", "/health"), upstreams.values()),
                    strict=True,
                )
            )
        return merged_health(replies, "see that function's CloudWatch logs")


def unreachable(upstream: Upstream, exc: BaseException) -> HttpReply:
    return error_reply(
        502,
        "upstream_unreachable",
        f"The {upstream.name} function URL {upstream.url}/ did not answer ({exc}). Check the URL "
        "and your network, and retry.",
    )


class ProxyHandler(BaseHTTPRequestHandler):
    """Forwards each request, signed, to its function URL and streams the answer back."""

    server: SigningProxy
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        refused = self._refusal()
        if refused is not None:
            self.close_connection = True
            self._send(refused)
            return
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            drain(self.rfile, length)
            self.close_connection = True
            self._send(too_large(length))
            return
        body = self.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(self.path).path
        if path == "/health" and self.command == "GET" and len(self.server.distinct()) > 1:
            self._send(self.server.health())
            return
        upstream = route(path, self.server.upstreams, self.server.default)
        self._relay(upstream, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def _refusal(self) -> HttpReply | None:
        """Why this request may not use the caller's credentials, as an answer; else None."""
        host = (self.headers.get("host") or "").strip().lower()
        if host not in self.server.local_hosts:
            return error_reply(
                403,
                "foreign_host",
                f"This signing proxy answers only requests for {self.server.url} (Host "
                f"{host or 'missing'!r}).",
            )
        origin = self.headers.get("origin")
        if origin is not None and origin.strip().lower() not in self.server.local_origins:
            return error_reply(
                403,
                "foreign_origin",
                f"This signing proxy does not sign requests made by pages of {origin!r}.",
            )
        if not self.path.startswith("/"):
            return error_reply(400, "bad_request", "Send requests to a path such as /ner.")
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            return error_reply(411, "length_required", "Send the body with a Content-Length.")
        return None

    def _relay(self, upstream: Upstream, body: bytes) -> None:
        try:
            connection, response = self.server.open(
                upstream, self.command, self.path, list(self.headers.items()), body
            )
        except ClientError as exc:
            self.log_message("cannot sign for %s: %s", upstream.name, exc)
            self._send(error_reply(502, "signing_failed", str(exc)))
            return
        except (OSError, http.client.HTTPException) as exc:
            self.log_message("%s function URL %s: %s", upstream.name, upstream.url, exc)
            self._send(unreachable(upstream, exc))
            return
        try:
            if response.status == 403:
                self.log_message(
                    "403 from the %s function URL: do these credentials allow "
                    "lambda:InvokeFunctionUrl on it, and is the Region right (%s)?",
                    upstream.name,
                    upstream.region,
                )
            self._stream(response)
        finally:
            connection.close()

    def _stream(self, response: http.client.HTTPResponse) -> None:
        """Status, end-to-end headers and the body as it arrives."""
        self.send_response_only(response.status, response.reason)
        headers = without_hop_by_hop(response.getheaders())
        for name, value in headers:
            self.send_header(name, value)
        has_body = self.command != "HEAD" and response.status not in (204, 304)
        if has_body and not any(n.lower() == "content-length" for n, _ in headers):
            # Unknown length: the end of the body is the end of the connection.
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.log_request(response.status)
        if not has_body:
            return
        try:
            while chunk := response.read1(CHUNK):
                self.wfile.write(chunk)
        except OSError:
            self.close_connection = True

    def _send(self, reply: HttpReply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in HOP_BY_HOP | {"content-length"}:
                self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        print(f"proxy {self.address_string()} {format % args}", file=sys.stderr, flush=True)


def stack_urls(stack: str, region: str | None) -> tuple[dict[str, str], str]:
    """The stack's NerFunctionUrl and QaFunctionUrl outputs (by service), and its Region."""
    import botocore.session
    from botocore.exceptions import BotoCoreError, NoCredentialsError
    from botocore.exceptions import ClientError as AwsError

    session = botocore.session.Session()
    region = region or session.get_config_variable("region")
    if not region:
        raise ClientError(
            "No AWS Region for the stack: pass --region (make proxy ... AWS_REGION=eu-west-1) "
            "or run 'aws configure set region eu-west-1'."
        )
    try:
        cloudformation = session.create_client("cloudformation", region_name=region)
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except NoCredentialsError as exc:
        raise ClientError(NO_CREDENTIALS) from exc
    except AwsError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise ClientError(
                f"Stack {stack!r} not found in {region}: deploy it with 'make deploy "
                f"STACK={stack} AWS_REGION={region}', or name the Region it is in (--region)."
            ) from exc
        raise ClientError(f"Cannot read stack {stack!r} in {region}: {exc}") from exc
    except BotoCoreError as exc:
        raise ClientError(f"Cannot read stack {stack!r} in {region}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    urls = {name: outputs.get(key, "") for name, key in OUTPUTS.items()}
    missing = [OUTPUTS[name] for name, url in urls.items() if not url]
    if missing:
        raise ClientError(
            f"Stack {stack!r} has no {' or '.join(missing)} output yet: its functions and URLs "
            f"come with the second pass of 'make deploy STACK={stack}'."
        )
    return urls, region


def upstreams_of(urls: dict[str, str], region: str | None) -> dict[str, Upstream]:
    """Upstreams for the URLs, each with the Region its host names, else ``region``."""
    upstreams: dict[str, Upstream] = {}
    for name, url in urls.items():
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"--{name}-url must be an http(s) URL, not {url!r}.")
        signing_region = region_from_url(url) or region
        if signing_region is None:
            raise ClientError(
                f"Cannot tell the AWS Region from {url!r}: pass --region (e.g. --region eu-west-1)."
            )
        upstreams[name] = Upstream(name, url.rstrip("/"), signing_region)
    return upstreams


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.proxy", description=(__doc__ or "").split("\n")[0]
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="Read the URLs from this stack's outputs.")
    target.add_argument("--ner-url", help="The NER function URL (with --qa-url).")
    parser.add_argument("--qa-url", help="The QA function URL (with --ner-url).")
    parser.add_argument("--region", help="AWS Region (default: the URLs' hosts, or your config).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Local port (8080).")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds per request (120).")
    args = parser.parse_args(argv)
    if args.stack and args.qa_url:
        parser.error("--qa-url goes with --ner-url, not --stack")
    if args.ner_url and not args.qa_url:
        parser.error("--ner-url needs --qa-url (Design 1: the same URL twice)")
    if args.qa_url and not args.ner_url:
        parser.error("--qa-url needs --ner-url, or use --stack")
    return args


def build(argv: Sequence[str] | None = None) -> SigningProxy:
    """The proxy the arguments describe, bound and ready to serve. ClientError: what to fix."""
    args = parse_args(argv)
    if args.stack:
        urls, region = stack_urls(args.stack, args.region)
    else:
        urls, region = {"ner": args.ner_url, "qa": args.qa_url}, args.region
    upstreams = upstreams_of(urls, region)
    credentials = load_credentials()
    try:
        return SigningProxy(args.port, upstreams, credentials, args.timeout)
    except OSError as exc:
        raise ClientError(
            f"Cannot listen on {HOST}:{args.port} ({exc.strerror}): pass another --port "
            "(make proxy PROXY_PORT=8081)."
        ) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; 2 with one line on stderr when it cannot start."""
    try:
        proxy = build(argv)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM stop it, even when started from a background job, whose shell set
    # SIGINT to be ignored and Python then installs no KeyboardInterrupt for it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"Open {proxy.url} (Ctrl-C stops the proxy)", flush=True)
    for upstream in proxy.upstreams.values():
        print(f"  /{upstream.name}* -> {upstream.url}/ (SigV4, {upstream.region})", flush=True)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        proxy.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
