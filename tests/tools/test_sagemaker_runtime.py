"""The SageMaker runtime stand-in (tools/sagemaker_runtime.py) as botocore sees it: every answer
must parse into the exception class and fields the real service's model defines."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from tests.tools.sagemaker_fakes import (
    FakeContainer,
    Seen,
    close_clients,
    fake_container,
    runtime_client,
    stand_in,
)
from tools.sagemaker_runtime import MAX_PAYLOAD_BYTES, parse_endpoints

ERROR_BODY = b'{"error":{"code":"invalid_json","message":"Send JSON."}}'


@pytest.fixture
def container() -> Iterator[FakeContainer]:
    with fake_container() as fake:
        yield fake
    close_clients()


@pytest.fixture
def runtime(container: FakeContainer) -> Iterator[str]:
    # "down" points at a port nothing listens on (port 9, discard, on loopback).
    endpoints = {"ep-ner": container.url, "down": "http://127.0.0.1:9"}
    with stand_in(endpoints, timeout=1.5) as url:
        yield url


def _invoke(client: Any, endpoint: str = "ep-ner", body: bytes = b'{"text": "Ada"}', **kw: Any):  # type: ignore[no-untyped-def]
    return client.invoke_endpoint(
        EndpointName=endpoint,
        Body=body,
        ContentType="application/json",
        Accept="application/json",
        **kw,
    )


def test_stand_in_forwards_body_headers_and_route(container: FakeContainer, runtime: str) -> None:
    def respond(request: Seen) -> tuple[int, str, bytes]:
        return 200, "application/json; charset=utf-8", b'{"entities": []}'

    container.respond = respond
    answer = _invoke(runtime_client(runtime), CustomAttributes="route=/ner/batch")
    assert answer["Body"].read() == b'{"entities": []}'
    assert answer["ContentType"] == "application/json; charset=utf-8"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["ResponseMetadata"]["RequestId"]
    [seen] = container.seen
    assert seen.path == "/invocations"
    assert seen.body == b'{"text": "Ada"}'
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["x-amzn-sagemaker-custom-attributes"] == "route=/ner/batch"
    # SageMaker passes only its own headers on: no signature, no client headers.
    assert "authorization" not in seen.headers and "x-amz-date" not in seen.headers


@pytest.mark.parametrize(("status", "kind"), [(400, "client"), (413, "client"), (503, "server")])
def test_stand_in_container_error_is_a_modelled_model_error(
    container: FakeContainer, runtime: str, status: int, kind: str
) -> None:
    container.respond = lambda request: (status, "application/json", ERROR_BODY)
    client = runtime_client(runtime)
    with pytest.raises(client.exceptions.ModelError) as raised:
        _invoke(client)
    response = raised.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == status
    assert response["OriginalMessage"] == ERROR_BODY.decode()
    assert response["LogStreamArn"].endswith("/aws/sagemaker/Endpoints/ep-ner")
    message = response["Error"]["Message"]
    assert message.startswith(f"Received {kind} error ({status}) from primary with message")
    assert "ep-ner" in message and "for more information" in message


def test_stand_in_unknown_endpoint_is_a_validation_error(runtime: str) -> None:
    client = runtime_client(runtime)
    with pytest.raises(client.exceptions.ValidationError) as raised:
        _invoke(client, endpoint="nope")
    error = raised.value.response["Error"]
    assert error["Message"] == "Endpoint nope of account 000000000000 not found."
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(client.exceptions.ValidationError, match="endpointName"):
        _invoke(client, endpoint="not_a_valid_name")


def test_stand_in_unreachable_container_is_model_not_ready(runtime: str) -> None:
    client = runtime_client(runtime)
    with pytest.raises(client.exceptions.ModelNotReadyException) as raised:
        _invoke(client, endpoint="down")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert "not ready" in raised.value.response["Error"]["Message"]


def test_stand_in_slow_container_times_out_as_model_error(
    container: FakeContainer, runtime: str
) -> None:
    def slow(request: Seen) -> tuple[int, str, bytes]:
        time.sleep(3)
        return 200, "application/json", b"{}"

    container.respond = slow
    client = runtime_client(runtime)
    started = time.monotonic()
    with pytest.raises(client.exceptions.ModelError) as raised:
        _invoke(client)
    assert time.monotonic() - started < 2.9  # the stand-in's 1.5 s timeout, not the container
    response = raised.value.response
    assert (
        "timed out while waiting for a response from container primary"
        in (response["Error"]["Message"])
    )
    assert response["Error"]["Message"].startswith("Received server error (0) from primary")
    assert "OriginalStatusCode" not in response


def test_stand_in_payload_over_6_mb_is_413(container: FakeContainer, runtime: str) -> None:
    client = runtime_client(runtime)
    with pytest.raises(ClientError) as raised:
        _invoke(client, body=b"x" * (MAX_PAYLOAD_BYTES + 1))
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Code"] == "413"
    assert (
        response["Error"]["Message"] == f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes."
    )
    assert container.seen == []
    # At the limit it goes through.
    assert _invoke(client, body=b"x" * MAX_PAYLOAD_BYTES)["Body"].read()


def test_stand_in_throttles_past_max_concurrency(container: FakeContainer) -> None:
    release = threading.Event()
    entered = threading.Event()

    def held(request: Seen) -> tuple[int, str, bytes]:
        entered.set()
        release.wait(10)
        return 200, "application/json", b"{}"

    container.respond = held
    with stand_in({"ep": container.url}, max_concurrency=1) as url:
        client = runtime_client(url)
        first: dict[str, Any] = {}

        def call() -> None:
            answer = _invoke(client, endpoint="ep")
            first.update(answer, body=answer["Body"].read())

        thread = threading.Thread(target=call)
        thread.start()
        try:
            assert entered.wait(10)
            with pytest.raises(ClientError) as raised:
                _invoke(runtime_client(url), endpoint="ep")
            assert raised.value.response["Error"]["Code"] == "ThrottlingException"
            assert raised.value.response["Error"]["Message"] == "Rate exceeded"
        finally:
            release.set()
            thread.join(10)
        assert first["ResponseMetadata"]["HTTPStatusCode"] == 200 and first["body"] == b"{}"
        # The slot is free again.
        assert _invoke(client, endpoint="ep")["Body"].read() == b"{}"


def test_stand_in_wants_a_signature_but_does_not_check_it(
    container: FakeContainer, runtime: str
) -> None:
    unsigned = runtime_client(runtime, signature_version=UNSIGNED)
    with pytest.raises(ClientError) as raised:
        _invoke(unsigned)
    assert raised.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert container.seen == []
    request = urllib.request.Request(
        f"{runtime}/endpoints/ep-ner/invocations",
        data=b"{}",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=anything", "content-type": "x/y"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_stand_in_rejects_custom_attributes_sagemaker_would_reject(runtime: str) -> None:
    client = runtime_client(runtime)
    with pytest.raises(client.exceptions.ValidationError, match="customAttributes"):
        _invoke(client, CustomAttributes="route=" + "x" * 1100)


def test_stand_in_unknown_operation_is_404(runtime: str) -> None:
    try:
        urllib.request.urlopen(f"{runtime}/ping", timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        assert exc.headers["x-amzn-ErrorType"].startswith("UnknownOperationException:")
        assert json.loads(exc.read())["message"]
    else:
        pytest.fail("GET /ping answered 2xx")


def test_stand_in_parses_its_endpoint_list() -> None:
    endpoints = parse_endpoints(" a=http://x:1/ , b = http://y:2 ", max_concurrency=3)
    assert {name: (e.url, e.max_concurrency) for name, e in endpoints.items()} == {
        "a": ("http://x:1", 3),
        "b": ("http://y:2", 3),
    }
    with pytest.raises(ValueError, match="name=url"):
        parse_endpoints("a=http://x,broken")
