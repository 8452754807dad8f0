"""Command-line client for the NER and QA endpoints, local or deployed.

    python -m tools.client ner "Ada Lovelace was born in London." [--url URL]
    python -m tools.client qa --question Q --context C [--url URL]

The URL defaults to LAMBDA_NLP_NER_URL / LAMBDA_NLP_QA_URL, else the local front door
http://127.0.0.1:8000. Function URLs with AuthType AWS_IAM need SigV4 (service ``lambda``):
``--auth auto`` (default) signs for ``*.on.aws`` hosts and not for others; the Region comes from
the host (``<id>.lambda-url.<region>.on.aws``) or ``--region``. Credentials come from botocore's
usual chain (environment, AWS_PROFILE, SSO, instance role). Prints the JSON answer; exit code 1
for an HTTP error (with the server's error message), 2 for a usage or credentials problem.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

LOCAL_URL = "http://127.0.0.1:8000"
URL_ENV = {"ner": "LAMBDA_NLP_NER_URL", "qa": "LAMBDA_NLP_QA_URL"}
FUNCTION_URL_HOST = re.compile(r"^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$")
Auth = Literal["auto", "iam", "none"]


class ClientError(Exception):
    """A problem the user fixes (URL, Region, credentials); printed without a traceback."""


@dataclass(frozen=True)
class Request:
    """One HTTP request, ready to send: headers include the signature when signed."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def endpoint(base_url: str, path: str) -> str:
    """``base_url`` (a function URL or the front door, with or without a trailing slash) + path."""
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ClientError(f"--url must be an http(s) URL such as {LOCAL_URL}, not {base_url!r}.")
    return f"{base_url.rstrip('/')}{path}"


def region_from_url(url: str) -> str | None:
    """The Region of a function URL host, e.g. ``eu-west-1``; None for other hosts."""
    host = urllib.parse.urlsplit(url).hostname or ""
    match = FUNCTION_URL_HOST.match(host)
    return match.group(1) if match else None


def wants_signing(auth: Auth, url: str) -> bool:
    """``auto`` signs for AWS hosts (``*.on.aws``) only; local front doors take plain requests."""
    if auth == "auto":
        host = urllib.parse.urlsplit(url).hostname or ""
        return host.endswith(".on.aws")
    return auth == "iam"


NO_CREDENTIALS = (
    "No AWS credentials found to sign requests for function URLs with AuthType AWS_IAM. "
    "Run 'aws configure' or 'aws sso login' and set AWS_PROFILE, or export "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
)


def load_credentials() -> Any:
    """The caller's credentials from botocore's default chain (environment, AWS_PROFILE, SSO,
    instance role): a refreshable ``botocore.credentials.Credentials``. ClientError if none."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        credentials = botocore.session.Session().get_credentials()
    except BotoCoreError as exc:
        raise ClientError(f"Could not load AWS credentials: {exc}") from exc
    if credentials is None:
        raise ClientError(NO_CREDENTIALS)
    frozen(credentials)  # expired SSO or role credentials fail here, before any request
    return credentials


def frozen(credentials: Any) -> Any:
    """The current key, secret and token of ``credentials``, refreshed first when they are due."""
    from botocore.exceptions import BotoCoreError

    try:
        return credentials.get_frozen_credentials()
    except BotoCoreError as exc:
        raise ClientError(
            f"Could not refresh AWS credentials: {exc}. Sign in again (e.g. 'aws sso login')."
        ) from exc


def sign(request: Request, region: str, credentials: Any = None) -> Request:
    """Add SigV4 headers (service ``lambda``) to ``request``: its method, URL, headers and body.

    ``credentials`` (from ``load_credentials``) are loaded from botocore's default chain when not
    given. The one signer of the project: ``tools.client`` and ``tools.proxy`` both use it.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    if credentials is None:
        credentials = load_credentials()
    aws_request = AWSRequest(
        method=request.method, url=request.url, data=request.body, headers=dict(request.headers)
    )
    SigV4Auth(frozen(credentials), "lambda", region).add_auth(aws_request)
    return Request(request.method, request.url, dict(aws_request.headers.items()), request.body)


def build_request(
    url: str, payload: dict[str, Any], auth: Auth = "auto", region: str | None = None
) -> Request:
    """A JSON POST to ``url``, signed when ``auth`` asks for it."""
    body = json.dumps(payload).encode()
    request = Request("POST", url, {"content-type": "application/json"}, body)
    if not wants_signing(auth, url):
        return request
    region = region or region_from_url(url)
    if region is None:
        raise ClientError(
            f"Cannot tell the AWS Region from {url!r}: pass --region (e.g. --region eu-west-1)."
        )
    return sign(request, region)


def send(request: Request, timeout: float = 120.0) -> Any:
    """Send the request; the decoded JSON answer. HTTP errors raise ``HttpError``."""
    http_request = urllib.request.Request(
        request.url, data=request.body, headers=request.headers, method=request.method
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise HttpError(exc.code, exc.read()) from exc
    except urllib.error.URLError as exc:
        raise ClientError(
            f"Cannot reach {request.url}: {exc.reason}. Is the URL right, and for the local "
            "stack, is it up ('make up')?"
        ) from exc


class HttpError(Exception):
    """The server answered with a 4xx/5xx; ``message`` is its ``{"error"}`` text when it has one."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.message = error_message(body)
        super().__init__(f"HTTP {status}: {self.message}")


def error_message(body: bytes) -> str:
    """``code: message`` from the app's error shape; Lambda's own ``{"Message"}``; else the text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:2000] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and "message" in error:
            return f"{error.get('code', 'error')}: {error['message']}"
        if (
            "Message" in data
        ):  # what the function URL itself says, e.g. Forbidden for a bad signature
            return str(data["Message"])
    return json.dumps(data)[:2000]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.client", description=__doc__.split("\n")[0]
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="Base URL (function URL or front door); default from env.")
    common.add_argument("--auth", choices=["auto", "iam", "none"], default="auto")
    common.add_argument("--region", help="AWS Region for signing (default: from the URL's host).")
    common.add_argument("--timeout", type=float, default=120.0, help="Seconds to wait (120).")
    commands = parser.add_subparsers(dest="command", required=True)
    ner = commands.add_parser("ner", parents=[common], help="Named entities of a text.")
    ner.add_argument("text")
    ner.add_argument("--labels", nargs="+", help="Keep only these entity labels.")
    qa = commands.add_parser("qa", parents=[common], help="Answer a question from a context.")
    qa.add_argument("--question", required=True)
    qa.add_argument("--context", required=True)
    qa.add_argument("--top-k", type=int, default=1)
    return parser.parse_args(argv)


def payload_of(args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "ner":
        payload: dict[str, Any] = {"text": args.text}
        if args.labels:
            payload["labels"] = args.labels
        return payload
    return {"question": args.question, "context": args.context, "top_k": args.top_k}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one request; print the JSON answer to stdout, problems to stderr. The exit code."""
    args = parse_args(argv)
    base = args.url or os.environ.get(URL_ENV[args.command]) or LOCAL_URL
    try:
        url = endpoint(base, f"/{args.command}")
        request = build_request(url, payload_of(args), args.auth, args.region)
        answer = send(request, args.timeout)
    except HttpError as exc:
        print(f"error: HTTP {exc.status} from {url}: {exc.message}", file=sys.stderr)
        return 1
    except ClientError as exc:
        hint = (
            " For a public URL (AuthType NONE) use --auth none."
            if str(exc) == NO_CREDENTIALS
            else ""
        )
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
