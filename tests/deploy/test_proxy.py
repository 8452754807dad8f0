"""The signing proxy (tools.proxy) end to end, and the front door's opt-in AWS_IAM mode.

Real HTTP sockets all the way: the proxy on 127.0.0.1 signs with the caller's credentials (test
ones, from the environment) and forwards to front doors in AWS_IAM mode, which check each
signature as a function URL does, in front of the real NER and QA apps behind Lambda invoke
endpoints (the AWS boundary; tests/browser/driver.py). Only the account is faked: the test
credentials, and a CloudFormation endpoint for ``--stack``.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.browser import driver
from tests.containers.harness import HttpAnswer, http
from tests.deploy.cfn import ROOT
from tests.deploy.conftest import ACCESS_KEY, SECRET_KEY
from tools import client, frontdoor, proxy
from tools.frontdoor import FORBIDDEN_MESSAGE, IamAuth

REGION = "eu-west-1"
TEXT = "Ada Lovelace was born in London in 1815."
QA = {"question": "Where was Ada born?", "context": TEXT}
JSON = {"content-type": "application/json"}
PAGE_TITLE = b"<title>lambda-nlp</title>"


# ---------------------------------------------------------------- servers


@pytest.fixture
def test_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Only AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the front doors' test credentials) for
    botocore's chain: no profile, config, token or instance metadata. Returns the environment."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return dict(os.environ)


@contextmanager
def iam_front_door(functions: dict[str, str], default: str) -> Iterator[str]:
    """tools.frontdoor in AWS_IAM mode (the test credentials, REGION) on a free port."""
    with driver.front_door(functions, default, IamAuth(ACCESS_KEY, SECRET_KEY, REGION)) as url:
        yield url.rstrip("/")


@dataclass(frozen=True)
class Doors:
    both: str  # one IAM front door for both functions (one URL, as Design 1's front)
    ner: str  # one per function, as Design 2's two function URLs
    qa: str


@pytest.fixture(scope="module")
def doors(main_module: Any, qa_main: Any) -> Iterator[Doors]:
    """IAM front doors in front of the real NER-only and QA-only apps."""
    ner_app = main_module.create_app(main_module.settings, main_module.services)
    with (
        driver.invoke_endpoint(ner_app) as ner,
        driver.invoke_endpoint(qa_main.app) as qa,
        iam_front_door({"ner": ner, "qa": qa}, "ner") as both,
        iam_front_door({"ner": ner}, "ner") as ner_url,
        iam_front_door({"qa": qa}, "qa") as qa_url,
    ):
        yield Doors(both, ner_url, qa_url)


@contextmanager
def running(argv: list[str]) -> Iterator[str]:
    """tools.proxy built from ``argv``, serving in a thread; its base URL."""
    with driver.signing_proxy(argv) as url:
        yield url.rstrip("/")


def signed_http(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    credentials: Credentials | None = None,
    region: str = REGION,
) -> HttpAnswer:
    request = client.Request(method, url, dict(headers or {}), body)
    signed = client.sign(request, region, credentials or Credentials(ACCESS_KEY, SECRET_KEY))
    return http(method, url, body or None, signed.headers)


def printed_answer(capsys: pytest.CaptureFixture[str]) -> Any:
    """The JSON tools.client printed (indented, so from its lone ``{`` on): the in-process apps
    and front doors print their metric and log lines to the same stdout."""
    lines = capsys.readouterr().out.splitlines()
    start = len(lines) - 1 - lines[::-1].index("{")
    return json.loads("\n".join(lines[start:]))


def assert_forbidden(answer: HttpAnswer) -> None:
    """The 403 of a function URL with AuthType AWS_IAM, byte for byte."""
    assert answer.status == 403, answer.body[:300]
    assert answer.body == b'{"Message":"' + FORBIDDEN_MESSAGE.encode() + b'"}'
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"


# ---------------------------------------------------------------- the front door's AWS_IAM mode


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),
        ("GET", "/static/page.js", None),
        ("GET", "/health", None),
        ("POST", "/ner", json.dumps({"text": TEXT}).encode()),
        ("POST", "/qa", json.dumps(QA).encode()),
    ],
)
def test_iam_front_door_refuses_unsigned_requests(
    doors: Doors, method: str, path: str, body: bytes | None
) -> None:
    assert_forbidden(http(method, doors.both + path, body, JSON))


def test_iam_front_door_refuses_a_wrong_secret(doors: Doors) -> None:
    wrong = Credentials(ACCESS_KEY, SECRET_KEY[:-1] + "X")
    assert_forbidden(signed_http("GET", doors.both + "/", credentials=wrong))
    body = json.dumps({"text": TEXT}).encode()
    assert_forbidden(signed_http("POST", doors.both + "/ner", body, JSON, credentials=wrong))


@pytest.mark.parametrize(("minutes", "status"), [(-16, 403), (16, 403), (-14, 200), (14, 200)])
def test_iam_front_door_accepts_dates_within_15_minutes_only(
    doors: Doors, monkeypatch: pytest.MonkeyPatch, minutes: int, status: int
) -> None:
    signed_at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    signed_at += datetime.timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: signed_at)
    answer = signed_http("GET", doors.both + "/health")
    assert answer.status == status, answer.body[:300]
    if status == 403:
        assert_forbidden(answer)


def _sign_with_service(url: str, service: str) -> dict[str, str]:
    request = AWSRequest(method="GET", url=url, data=b"")
    botocore.auth.SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, REGION).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    "tamper", ["access-key", "region", "service", "body", "path", "host-unsigned", "no-date"]
)
def test_iam_front_door_refuses_other_signatures(doors: Doors, tamper: str) -> None:
    url = doors.both + "/ner"
    body = json.dumps({"text": TEXT}).encode()
    signed = client.sign(
        client.Request("POST", url, dict(JSON), body), REGION, Credentials(ACCESS_KEY, SECRET_KEY)
    )
    assert http("POST", url, body, signed.headers).status == 200  # untouched, it passes
    headers = dict(signed.headers)
    if tamper == "access-key":
        other = Credentials("AKIDOTHEREXAMPLE", SECRET_KEY)
        headers = client.sign(client.Request("POST", url, dict(JSON), body), REGION, other).headers
    elif tamper == "region":
        ours = Credentials(ACCESS_KEY, SECRET_KEY)
        headers = client.sign(replace(signed, headers=dict(JSON)), "us-west-2", ours).headers
    elif tamper == "service":
        answer = http("GET", doors.both + "/", None, _sign_with_service(doors.both + "/", "s3"))
        assert_forbidden(answer)
        return
    elif tamper == "body":
        body = body.replace(b"London", b"Paris")
    elif tamper == "path":
        url = doors.both + "/ner/batch"
    elif tamper == "host-unsigned":
        # A signature over fewer headers: host is required, whatever the signature says.
        headers["Authorization"] = headers["Authorization"].replace("host;", "")
    else:
        del headers["X-Amz-Date"]
    assert_forbidden(http("POST", url, body, headers))


@pytest.mark.usefixtures("test_credentials")
def test_iam_front_door_answers_requests_signed_by_tools_client(
    doors: Doors, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--url", doors.both, "--auth", "iam", "--region", REGION]
    assert client.main(["ner", TEXT, *argv]) == 0
    entities = printed_answer(capsys)["entities"]
    assert "London" in {e["text"] for e in entities}
    assert client.main(["qa", "--question", QA["question"], "--context", TEXT, *argv]) == 0
    assert printed_answer(capsys)["answers"]
    # The page and its script, signed with the same signer.
    page = signed_http("GET", doors.both + "/", credentials=client.load_credentials())
    assert page.status == 200 and PAGE_TITLE in page.body
    assert page.headers["content-type"].startswith("text/html")
    script = signed_http("GET", doors.both + "/static/page.js?v=1")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")


def test_frontdoor_auth_is_off_by_default_and_needs_its_credentials() -> None:
    assert frontdoor.auth_from_env({}) is None
    assert frontdoor.auth_from_env({"FRONTDOOR_AUTH": "NONE"}) is None
    env = {
        "FRONTDOOR_AUTH": "aws_iam",
        "FRONTDOOR_ACCESS_KEY_ID": ACCESS_KEY,
        "FRONTDOOR_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    assert frontdoor.auth_from_env(env) == IamAuth(ACCESS_KEY, SECRET_KEY, "us-east-1")
    assert frontdoor.auth_from_env({**env, "FRONTDOOR_REGION": REGION}) == IamAuth(
        ACCESS_KEY, SECRET_KEY, REGION
    )
    with pytest.raises(ValueError, match="FRONTDOOR_SECRET_ACCESS_KEY"):
        frontdoor.auth_from_env({"FRONTDOOR_AUTH": "AWS_IAM", "FRONTDOOR_ACCESS_KEY_ID": "x"})
    with pytest.raises(ValueError, match=r"NONE \(default\) or AWS_IAM"):
        frontdoor.auth_from_env({"FRONTDOOR_AUTH": "IAM"})


# ---------------------------------------------------------------- the proxy, end to end


@pytest.mark.usefixtures("test_credentials")
def test_proxy_serves_the_page_and_api_of_two_iam_function_urls(doors: Doors) -> None:
    with running(["--ner-url", doors.ner + "/", "--qa-url", doors.qa, "--region", REGION]) as url:
        page = http("GET", url + "/")
        assert page.status == 200 and PAGE_TITLE in page.body
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for name in ("page.js", "page.css"):
            assert http("GET", f"{url}/static/{name}").status == 200
        ner = http("POST", url + "/ner", json.dumps({"text": TEXT}).encode(), JSON)
        assert ner.status == 200, ner.body[:300]
        assert "London" in {e["text"] for e in ner.json()["entities"]}
        render = http("POST", url + "/ner/render", json.dumps({"text": TEXT}).encode(), JSON)
        assert render.status == 200 and "London" in render.json()["html"]
        qa = http("POST", url + "/qa", json.dumps(QA).encode(), JSON)
        assert qa.status == 200 and qa.json()["answers"], qa.body[:300]
        # /health asks both URLs and merges them, so the page shows both panels.
        health = http("GET", url + "/health")
        assert health.status == 200, health.body[:300]
        assert health.json()["services"] == ["ner", "qa"]
        assert set(health.json()["functions"]) == {"ner", "qa"}
        # HEAD: the function's status and headers, no body.
        head = http("HEAD", url + "/health")
        direct = signed_http("HEAD", doors.ner + "/health")
        assert head.status == direct.status and head.body == b""
        # The app's own errors come back as they are.
        bad = http("POST", url + "/qa", b'{"question": ', JSON)
        assert bad.status == 400 and bad.json()["error"]["code"] == "invalid_json"


@pytest.mark.usefixtures("test_credentials")
def test_proxy_serves_one_url_for_both_services(doors: Doors) -> None:
    with running(["--ner-url", doors.both, "--qa-url", doors.both, "--region", REGION]) as url:
        assert PAGE_TITLE in http("GET", url + "/").body
        assert http("POST", url + "/ner", json.dumps({"text": TEXT}).encode(), JSON).status == 200
        assert http("POST", url + "/qa", json.dumps(QA).encode(), JSON).status == 200
        health = http("GET", url + "/health").json()  # the URL's own, here the front door's
        assert health["services"] == ["ner", "qa"]


def test_proxy_command_line_signs_with_environment_credentials(
    doors: Doors, test_credentials: dict[str, str]
) -> None:
    """``python -m tools.proxy`` as a user starts it: the URL on its first line, then serving."""
    argv = ["--ner-url", doors.ner, "--qa-url", doors.qa, "--region", REGION, "--port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.proxy", *argv],
        cwd=ROOT,
        env=test_credentials,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Open http://127.0.0.1:"), first
        url = first.split()[1].rstrip("/")
        assert PAGE_TITLE in http("GET", url + "/").body
        assert http("POST", url + "/qa", json.dumps(QA).encode(), JSON).status == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.usefixtures("test_credentials")
def test_proxy_refuses_other_hosts_and_origins(doors: Doors) -> None:
    with running(["--ner-url", doors.ner, "--qa-url", doors.qa, "--region", REGION]) as url:
        port = url.rsplit(":", 1)[1]
        rebound = http("GET", url + "/", headers={"Host": f"attacker.example:{port}"})
        assert rebound.status == 403 and rebound.json()["error"]["code"] == "foreign_host"
        body = json.dumps({"text": TEXT}).encode()
        posted = http("POST", url + "/ner", body, {**JSON, "Origin": "https://attacker.example"})
        assert posted.status == 403 and posted.json()["error"]["code"] == "foreign_origin"
        # The page's own requests carry its origin, on either local name.
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            assert http("POST", url + "/ner", body, {**JSON, "Origin": origin}).status == 200


@pytest.mark.usefixtures("test_credentials")
def test_proxy_answers_502_when_a_function_url_does_not_answer(doors: Doors) -> None:
    # Port 9 (discard) on loopback: nothing listens.
    argv = ["--ner-url", "http://127.0.0.1:9", "--qa-url", doors.qa, "--region", REGION]
    with running(argv) as url:
        answer = http("POST", url + "/ner", json.dumps({"text": TEXT}).encode(), JSON)
        assert answer.status == 502 and answer.json()["error"]["code"] == "upstream_unreachable"
        assert http("POST", url + "/qa", json.dumps(QA).encode(), JSON).status == 200
        health = http("GET", url + "/health")
        assert health.status == 503 and health.json()["details"]["ner"]["status"] == "unavailable"


def test_proxy_without_credentials_says_how_to_configure_them(no_aws_env: dict[str, str]) -> None:
    urls = ["--ner-url", "http://127.0.0.1:9", "--qa-url", "http://127.0.0.1:9"]
    argv = [*urls, "--region", REGION, "--port", "0"]
    result = subprocess.run(
        [sys.executable, "-m", "tools.proxy", *argv],
        cwd=ROOT,
        env=no_aws_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: No AWS credentials found") and "aws configure" in line


def test_proxy_drops_hop_by_hop_and_private_request_headers() -> None:
    headers = [
        ("Host", "127.0.0.1:8080"),
        ("Connection", "keep-alive, X-Private"),
        ("X-Private", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Cookie", "session=secret"),
        ("Authorization", "Bearer local"),
        ("Origin", "http://127.0.0.1:8080"),
        ("Referer", "http://127.0.0.1:8080/"),
        ("X-Amz-Date", "20260101T000000Z"),
        ("X-Amzn-Trace-Id", "Root=1"),
        ("Content-Length", "2"),
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ]
    assert proxy.request_headers(headers) == [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ]
    response = [("Content-Length", "3"), ("Connection", "close"), ("Transfer-Encoding", "x")]
    assert proxy.without_hop_by_hop([*response, ("X-Amzn-RequestId", "r")]) == [
        ("Content-Length", "3"),
        ("X-Amzn-RequestId", "r"),
    ]


def test_proxy_signs_for_the_region_of_a_function_url_host() -> None:
    urls = {
        "ner": "https://abc123.lambda-url.eu-west-1.on.aws/",
        "qa": "https://def456.lambda-url.us-east-2.on.aws/",
    }
    upstreams = proxy.upstreams_of(urls, None)
    assert (upstreams["ner"].region, upstreams["qa"].region) == ("eu-west-1", "us-east-2")
    assert upstreams["ner"].url == "https://abc123.lambda-url.eu-west-1.on.aws"
    with pytest.raises(client.ClientError, match="pass --region"):
        proxy.upstreams_of({"ner": "http://127.0.0.1:8000"}, None)


# ---------------------------------------------------------------- --stack: CloudFormation outputs

CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def _describe_stacks(name: str, outputs: dict[str, str]) -> bytes:
    members = "".join(
        f"<member><OutputKey>{escape(k)}</OutputKey><OutputValue>{escape(v)}</OutputValue></member>"
        for k, v in outputs.items()
    )
    return (
        f'<DescribeStacksResponse xmlns="{CFN_NS}"><DescribeStacksResult><Stacks><member>'
        f"<StackName>{escape(name)}</StackName><StackId>arn:aws:cloudformation:{REGION}:"
        f"123456789012:stack/{escape(name)}/1</StackId>"
        "<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus>"
        f"<Outputs>{members}</Outputs></member></Stacks></DescribeStacksResult>"
        "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>"
    ).encode()


def _not_found(name: str) -> bytes:
    return (
        f'<ErrorResponse xmlns="{CFN_NS}"><Error><Type>Sender</Type><Code>ValidationError</Code>'
        f"<Message>Stack with id {escape(name)} does not exist</Message></Error>"
        "<RequestId>1</RequestId></ErrorResponse>"
    ).encode()


@contextmanager
def cloudformation(stacks: dict[str, dict[str, str]]) -> Iterator[str]:
    """A CloudFormation endpoint (query protocol) answering DescribeStacks for ``stacks``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["content-length"])).decode())
            assert form["Action"] == ["DescribeStacks"], form
            name = form["StackName"][0]
            found = name in stacks
            body = _describe_stacks(name, stacks[name]) if found else _not_found(name)
            self.send_response(200 if found else 400)
            self.send_header("content-type", "text/xml")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.usefixtures("test_credentials")
def test_proxy_reads_the_urls_from_the_stack_outputs(
    doors: Doors, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = {
        "lambda-nlp": {"NerFunctionUrl": doors.ner + "/", "QaFunctionUrl": doors.qa + "/"},
        "half-deployed": {"NerRepositoryUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/x"},
    }
    with cloudformation(stacks) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint)
        with running(["--stack", "lambda-nlp", "--region", REGION]) as url:
            assert PAGE_TITLE in http("GET", url + "/").body
            assert http("POST", url + "/qa", json.dumps(QA).encode(), JSON).status == 200
            assert http("GET", url + "/health").json()["services"] == ["ner", "qa"]
        capsys.readouterr()  # the proxy's request log
        assert proxy.main(["--stack", "gone", "--region", REGION, "--port", "0"]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line == (
            "error: Stack 'gone' not found in eu-west-1: deploy it with 'make deploy STACK=gone "
            "AWS_REGION=eu-west-1', or name the Region it is in (--region)."
        )
        assert proxy.main(["--stack", "half-deployed", "--region", REGION, "--port", "0"]) == 2
        assert "no NerFunctionUrl or QaFunctionUrl output yet" in capsys.readouterr().err
        # No Region anywhere (no flag, no AWS_REGION, no config file).
        assert proxy.main(["--stack", "lambda-nlp", "--port", "0"]) == 2
        assert "error: No AWS Region for the stack: pass --region" in capsys.readouterr().err


def test_proxy_stack_lookup_without_credentials_is_one_line(
    no_aws_env: dict[str, str],
) -> None:
    with cloudformation({}) as endpoint:
        result = subprocess.run(
            [sys.executable, "-m", "tools.proxy", "--stack", "lambda-nlp", "--region", REGION],
            cwd=ROOT,
            env={**no_aws_env, "AWS_ENDPOINT_URL_CLOUDFORMATION": endpoint},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: No AWS credentials found") and "aws configure" in line


def test_frontdoor_command_line_reads_the_aws_iam_mode_from_the_environment(
    no_aws_env: dict[str, str],
) -> None:
    env = {
        **no_aws_env,
        "FRONTDOOR_HOST": "127.0.0.1",
        "FRONTDOOR_PORT": "0",
        "FRONTDOOR_FUNCTIONS": "ner=http://127.0.0.1:9",
        "FRONTDOOR_AUTH": "AWS_IAM",
        "FRONTDOOR_ACCESS_KEY_ID": ACCESS_KEY,
        "FRONTDOOR_SECRET_ACCESS_KEY": SECRET_KEY,
        "FRONTDOOR_REGION": REGION,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.frontdoor"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "AWS_IAM, key AKIDEXAMPLE, eu-west-1" in first, first
        port = first.split("('127.0.0.1', ")[1].split(")")[0]
        url = f"http://127.0.0.1:{port}"
        assert_forbidden(http("GET", url + "/"))
        # Signed, it reaches the (absent) function: the front door's own 502.
        assert signed_http("GET", url + "/").status == 502
    finally:
        process.terminate()
        process.communicate(timeout=30)
    broken = subprocess.run(
        [sys.executable, "-m", "tools.frontdoor"],
        cwd=ROOT,
        env={**env, "FRONTDOOR_SECRET_ACCESS_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 1
    assert broken.stderr.strip() == (
        "frontdoor: error: FRONTDOOR_AUTH=AWS_IAM needs FRONTDOOR_ACCESS_KEY_ID and "
        "FRONTDOOR_SECRET_ACCESS_KEY: the test credentials callers sign with."
    )
