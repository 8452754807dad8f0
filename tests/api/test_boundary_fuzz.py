"""Hypothesis at the Lambda handler: whole function URL events, every field odd or absent
(issue 17). Nothing may escape the handler, nothing a client sends may get a 5xx, every error has
the one shape, and no body carries a trace or a path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.api.function_url_events import assert_answer, function_url_events
from tests.conftest import LambdaContext

Handler = Callable[[Any, Any], dict[str, Any]]


@pytest.fixture(scope="session", params=["ner", "qa"])
def function_handler(request: pytest.FixtureRequest, main_module: Any) -> Handler:
    """The NER function's own ``app.main.handler``; the QA function (tiny random ALBERT) built
    by the same ``create_handler`` that ``app.main`` calls for ``SERVICES=qa``."""
    if request.param == "ner":
        handler: Handler = main_module.handler
        return handler
    qa_handler: Handler = request.getfixturevalue("qa_main").handler
    return qa_handler


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(event=function_url_events())
def test_boundary_fuzz_any_event_gets_a_well_formed_answer(
    function_handler: Handler, event: Any
) -> None:
    assert_answer(function_handler(event, LambdaContext()))
