"""tools.client: SigV4 signing checked by a server that recomputes the signature, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.deploy.cfn import ROOT
from tests.deploy.conftest import SESSION_TOKEN, SigV4Server
from tools import client

TEXT = "Ada Lovelace was born in London in 1815."


@pytest.mark.usefixtures("fake_credentials")
def test_client_signed_request_accepted(
    sigv4_server: SigV4Server, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ner", TEXT, "--url", sigv4_server.url, "--auth", "iam", "--region", "eu-west-1"]
    assert client.main(argv) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["echo"] == {"text": TEXT}
    (seen,) = sigv4_server.received
    assert seen.verified, seen.reason
    assert seen.path == "/ner"
    assert seen.scope["region"] == "eu-west-1" and seen.scope["service"] == "lambda"
    assert "x-amz-security-token" in seen.scope["signed"].split(";")


@pytest.mark.usefixtures("fake_credentials")
@pytest.mark.parametrize("tamper", ["body", "path", "signed-header", "token"])
def test_client_tampered_request_rejected(sigv4_server: SigV4Server, tamper: str) -> None:
    signed = client.build_request(
        f"{sigv4_server.url}/qa", {"question": "Where?", "context": TEXT}, "iam", "eu-west-1"
    )
    client.send(signed)  # the untouched request passes
    headers = dict(signed.headers)
    if tamper == "body":
        changed = replace(signed, body=signed.body.replace(b"Where?", b"When?"))
    elif tamper == "path":
        changed = replace(signed, url=f"{sigv4_server.url}/ner")
    elif tamper == "signed-header":
        changed = replace(signed, headers={**headers, "content-type": "text/plain"})
    else:
        changed = replace(signed, headers={**headers, "X-Amz-Security-Token": SESSION_TOKEN + "x"})
    with pytest.raises(client.HttpError) as caught:
        client.send(changed)
    assert caught.value.status == 403
    assert caught.value.message == "Forbidden"
    assert [r.verified for r in sigv4_server.received] == [True, False]
    assert sigv4_server.received[1].reason == "signature mismatch"


def test_client_no_credentials_is_a_clear_error(
    sigv4_server: SigV4Server, no_aws_env: dict[str, str]
) -> None:
    cmd = [sys.executable, "-m", "tools.client", "ner", TEXT, "--url", sigv4_server.url]
    result = subprocess.run(
        [*cmd, "--auth", "iam", "--region", "eu-west-1"],
        env=no_aws_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "No AWS credentials found" in result.stderr
    assert "aws configure" in result.stderr
    assert "Traceback" not in result.stderr
    assert sigv4_server.received == []  # nothing unsigned was sent instead


def test_client_http_error_prints_server_message(
    sigv4_server: SigV4Server, capsys: pytest.CaptureFixture[str]
) -> None:
    assert client.main(["ner", TEXT, "--url", sigv4_server.url, "--auth", "none"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "HTTP 422" in captured.err
    assert "validation_error: text: Field required" in captured.err
    assert sigv4_server.received[0].reason == "unsigned"


def test_client_unreachable_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    assert (
        client.main(["qa", "--question", "Q?", "--context", TEXT, "--url", "http://127.0.0.1:9"])
        == 2
    )
    assert "Cannot reach http://127.0.0.1:9/qa" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://abcdefghij0123456789abcdefghij01.lambda-url.eu-west-1.on.aws/", "eu-west-1"),
        ("https://abc123.lambda-url.us-gov-west-1.on.aws", "us-gov-west-1"),
        ("http://127.0.0.1:8000", None),
        ("https://example.org/lambda-url.eu-west-1.on.aws", None),
    ],
)
def test_client_region_from_url(url: str, region: str | None) -> None:
    assert client.region_from_url(url) == region


@pytest.mark.parametrize(
    ("auth", "url", "signs"),
    [
        ("auto", "https://abc.lambda-url.eu-west-1.on.aws/", True),
        ("auto", "http://127.0.0.1:8000", False),
        ("auto", "http://localhost:8000", False),
        ("iam", "http://127.0.0.1:8000", True),
        ("none", "https://abc.lambda-url.eu-west-1.on.aws/", False),
    ],
)
def test_client_auto_auth_signs_only_aws_hosts(auth: client.Auth, url: str, signs: bool) -> None:
    assert client.wants_signing(auth, url) is signs


def test_client_iam_without_region_asks_for_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert client.main(["ner", TEXT, "--url", "http://127.0.0.1:9", "--auth", "iam"]) == 2
    assert "pass --region" in capsys.readouterr().err


def test_client_url_defaults_from_environment(
    monkeypatch: pytest.MonkeyPatch, sigv4_server: SigV4Server, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAMBDA_NLP_QA_URL", sigv4_server.url + "/")
    assert client.main(["qa", "--question", "Q?", "--context", TEXT]) == 1
    assert sigv4_server.received[0].path == "/qa"
    assert f"from {sigv4_server.url}/qa" in capsys.readouterr().err


def test_client_rejects_a_url_without_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    assert client.main(["ner", TEXT, "--url", "abc.lambda-url.eu-west-1.on.aws"]) == 2
    assert "--url must be an http(s) URL" in capsys.readouterr().err
