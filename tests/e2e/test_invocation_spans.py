"""The invocation span from the built layer, in the sandbox, as the layer makes it.

span_probe (a test function) keeps every span the layer finishes in its process and returns
them with its next response, so these tests see the spans before any export: the trace and
parent they join, cold start, init and slow imports, trigger, HTTP status, exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from xraylayer.trace_header import parse, to_w3c_trace_id
from xraylayer_local import Sandbox
from xraylayer_local.runtimes import SUPPORTED_VERSIONS

FUNCTIONS = Path(__file__).parent / "functions"
EVENTS = Path(__file__).resolve().parents[1] / "layer" / "events"
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}


def sandbox_for(built_layer: Path, **options: Any) -> Sandbox:
    env = {**WRAPPER, "XRAYLAYER_IMPORT_PROFILE_MS": "1", "OTEL_SERVICE_NAME": "probe-service"}
    return Sandbox(
        FUNCTIONS, "span_probe.handler", layers=[built_layer], env=env, timeout_s=10, **options
    )


@pytest.fixture(scope="module")
def active(built_layer: Path) -> Iterator[list[Any]]:
    """Active tracing: a plain event twice, an API event answered 503, a failure, then one
    more to collect the spans of the one before."""
    api = {**json.loads((EVENTS / "api_gateway_rest.json").read_text()), "status": 503}
    events = [{}, {}, api, {"fail": True}, {}]
    with sandbox_for(built_layer, tracing="Active") as sandbox:
        yield [sandbox.invoke(event) for event in events]


def spans_of(result: Any) -> list[dict[str, Any]]:
    return result.response["spans"] if result.status == "success" else []


def invocation_of(results: list[Any], index: int) -> dict[str, Any]:
    """The span of invocation `index` (it arrives with a later response)."""
    request_id = results[index].request_id
    (span,) = [
        span
        for result in results[index + 1 :]
        for span in spans_of(result)
        if span["kind"] == "server" and span["attributes"]["faas.invocation_id"] == request_id
    ]
    return span


def test_each_invocation_joins_lambdas_trace_under_its_invocation_subsegment(
    active: list[Any],
) -> None:
    for index in range(4):
        header = parse(active[index].trace_header)
        span = invocation_of(active, index)
        assert span["trace_id"] == to_w3c_trace_id(header.root)
        assert span["parent_id"] == header.parent
        assert span["sampled"] is True
        assert span["attributes"]["faas.invocation_id"] == active[index].request_id


def test_cold_start_on_the_first_invocation_only_with_the_init_duration(
    active: list[Any],
) -> None:
    spans = [invocation_of(active, index) for index in range(4)]
    assert [span["annotations"]["ColdStart"] for span in spans] == [True, False, False, False]
    assert {span["annotations"]["Service"] for span in spans} == {"probe-service"}
    init_ms = spans[0]["attributes"]["xraylayer.init_duration_ms"]
    assert 0 < init_ms < active[0].init_duration_ms + 50
    assert all("xraylayer.init_duration_ms" not in span["attributes"] for span in spans[1:])


def test_the_cold_start_shows_init_and_the_slow_imports_under_it(active: list[Any]) -> None:
    during_first = spans_of(active[0])
    init = next(span for span in during_first if span["name"] == "Init")
    invocation = invocation_of(active, 0)
    assert init["parent_id"] == invocation["span_id"]
    assert init["trace_id"] == invocation["trace_id"]
    imports = {span["name"]: span for span in during_first if span["name"] != "Init"}
    probe, dependency = imports["span_probe"], imports["slow_dependency"]
    assert dependency["parent_id"] == probe["span_id"]
    assert dependency["end"] - dependency["start"] >= 0.02
    ids = {init["span_id"]} | {span["span_id"] for span in imports.values()}
    assert all(span["parent_id"] in ids for span in imports.values())
    assert all(
        init["start"] <= span["start"] <= span["end"] <= init["end"] for span in imports.values()
    )
    assert not any(span["name"] == "Init" for result in active[1:-1] for span in spans_of(result))


def test_the_trigger_and_an_http_error_status_are_on_the_span(active: list[Any]) -> None:
    plain, api = invocation_of(active, 1), invocation_of(active, 2)
    assert plain["attributes"]["xraylayer.trigger_type"] == "direct"
    assert plain["attributes"]["faas.trigger"] == "other"
    assert api["attributes"]["xraylayer.trigger_type"] == "api-gateway-rest"
    assert api["attributes"]["faas.trigger"] == "http"
    assert api["attributes"]["http.response.status_code"] == 503
    assert api["fault"] is True and plain["fault"] is False


def test_a_handler_exception_is_recorded_from_the_users_frames(active: list[Any]) -> None:
    assert active[3].error["errorType"] == "ValueError"
    span = invocation_of(active, 3)
    (exception,) = span["exceptions"]
    assert exception["type"] == "ValueError"
    assert exception["message"] == "span probe asked to fail"
    assert [frame["label"] for frame in exception["stack"]] == ["handler"]
    assert exception["stack"][0]["path"] == "span_probe.py"
    assert span["fault"] is True


def test_an_untraced_invocation_makes_an_unsampled_span_of_its_own(built_layer: Path) -> None:
    with sandbox_for(built_layer, tracing="PassThrough") as sandbox:
        first, second = sandbox.invoke({}), sandbox.invoke({})
    span = invocation_of([first, second], 0)
    assert span["sampled"] is False
    assert span["trace_id"] == to_w3c_trace_id(parse(first.trace_header).root)


def test_provisioned_concurrency_reports_no_cold_start(built_layer: Path) -> None:
    with sandbox_for(built_layer, tracing="Active") as sandbox:
        assert sandbox.start("provisioned-concurrency") is None
        first, second = sandbox.invoke({}), sandbox.invoke({})
    assert first.status == second.status == "success"
    span = invocation_of([first, second], 0)
    assert span["annotations"]["ColdStart"] is False
    assert span["attributes"]["xraylayer.initialization_type"] == "provisioned-concurrency"
    assert not any(span["name"] == "Init" for span in spans_of(first))


@pytest.mark.parametrize("python", SUPPORTED_VERSIONS)
def test_hooks_and_the_import_profile_work_on_every_supported_python(
    built_layer: Path, python: str
) -> None:
    with Sandbox(
        FUNCTIONS, "hook_probe.handler", layers=[built_layer], env=WRAPPER, python=python
    ) as sandbox:
        result = sandbox.invoke({})
    assert result.status == "success", result.error
    assert result.response == {
        "python": python,
        "instrumentation_loaded": True,
        "patched": True,
        "own_spec_class": True,
        "profiled": ["slow_dependency"],
    }
