"""The caller's view, with and without the layer: the same responses, the same errors.

Each case runs the same function in the local sandbox twice, once plain and once with the
built layer and its wrapper, and compares what the caller gets: the response bytes, or the
error document (errorType, errorMessage, stackTrace) byte for byte. The request id differs
per invocation by nature and is left out.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from xraylayer_local import Sandbox

FUNCTIONS = Path(__file__).parent / "functions"
PYTHON = "3.11"
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}


@pytest.fixture(scope="module")
def function_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture functions, with the module that has a syntax error put in place."""
    folder = tmp_path_factory.mktemp("differential") / "task"
    shutil.copytree(FUNCTIONS, folder)
    shutil.copyfile(folder / "diff_syntax.txt", folder / "diff_syntax.py")
    return folder


def caller_view(result: Any) -> dict[str, Any]:
    """What the caller gets from one invocation, without the request id."""
    error = dict(result.error) if result.error is not None else None
    if error is not None:
        error.pop("requestId", None)
    return {"status": result.status, "payload": result.payload, "error": error}


def run(
    function_dir: Path, handler: str, events: list[Any], layers: list[Path], env: dict[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Caller views of `events` invoked in order in one sandbox, and the function's log."""
    with Sandbox(
        function_dir, handler, layers=layers, env=env, python=PYTHON, timeout_s=10
    ) as sandbox:
        views = [caller_view(sandbox.invoke(event)) for event in events]
        return views, [line for source, line in sandbox.logs if source == "runtime"]


def both(
    function_dir: Path, built_layer: Path, handler: str, events: list[Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    plain, _ = run(function_dir, handler, events, [], {})
    layered, log = run(function_dir, handler, events, [built_layer], WRAPPER)
    return plain, layered, log


INIT_FAILURES = {
    "no_such_module.handler": "Runtime.ImportModuleError",
    "diff_import_fails.handler": "Runtime.ImportModuleError",
    "diff_app.no_such_function": "Runtime.HandlerNotFound",
    "diff_syntax.handler": "Runtime.UserCodeSyntaxError",
    "nodot": "Runtime.MalformedHandlerName",
    "sys.handler": "Runtime.BuiltInModuleConflict",
    "diff_raises_at_import.handler": "KeyError",
    "diff_attribute_error_at_import.handler": "AttributeError",
}


@pytest.mark.parametrize("handler", sorted(INIT_FAILURES))
def test_a_handler_that_cannot_load_fails_identically(
    function_dir: Path, built_layer: Path, handler: str
) -> None:
    plain, layered, log = both(function_dir, built_layer, handler, [{}])
    assert layered == plain
    assert plain[0]["error"]["errorType"] == INIT_FAILURES[handler]
    assert not any("xraylayer: ERROR" in line for line in log)


def test_an_exception_at_import_keeps_its_stack_trace(
    function_dir: Path, built_layer: Path
) -> None:
    plain, layered, _ = both(function_dir, built_layer, "diff_raises_at_import.handler", [{}])
    trace = layered[0]["error"]["stackTrace"]
    assert trace == plain[0]["error"]["stackTrace"]
    assert any("diff_raises_at_import.py" in line for line in trace)
    assert not any("xraylayer" in line for line in trace)


JSON_VALUES = [
    {"order": "o-1", "items": ["tea", "cake"], "nested": {"ok": True}},
    ["a", 1, 2.5, None, False],
    "text with ünïcode ✓",
    "",
    0,
    -7,
    3.25,
    1e300,
    True,
    False,
    None,
    {},
    [],
]


@pytest.fixture(scope="module")
def returned(
    function_dir: Path, built_layer: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events = [{"value": value} for value in JSON_VALUES]
    plain, layered, _ = both(function_dir, built_layer, "diff_app.returns", events)
    return plain, layered


@pytest.mark.parametrize("index", range(len(JSON_VALUES)), ids=[repr(v) for v in JSON_VALUES])
def test_every_json_result_reaches_the_caller_identically(returned: tuple, index: int) -> None:
    plain, layered = returned
    assert layered[index] == plain[index]
    assert plain[index]["status"] == "success"


INVOCATIONS = {
    "diff_app.fails": ({"fail": True, "order_id": "o-8"}, "ValueError"),
    "diff_app.fails_with_attribute_error": ({}, "AttributeError"),
    "diff_app.fails_with_custom_error": ({}, "OrderError"),
    "diff_app.returns_bytes": ({}, None),
    "diff_app.returns_unserializable": ({}, "Runtime.MarshalError"),
    "diff_app.returns_generator": ({}, "Runtime.MarshalError"),
    "diff_app.async_handler": ({}, "Runtime.MarshalError"),
    "diff_app.http_response": ({"status": 503}, None),
    "diffpkg/handlers.handler": ({}, None),
}


@pytest.mark.parametrize("handler", sorted(INVOCATIONS))
def test_errors_and_odd_results_reach_the_caller_identically(
    function_dir: Path, built_layer: Path, handler: str
) -> None:
    event, error_type = INVOCATIONS[handler]
    plain, layered, log = both(function_dir, built_layer, handler, [event, event])
    assert layered == plain
    assert [view["error"] and view["error"]["errorType"] for view in plain] == [error_type] * 2
    assert not any("xraylayer: ERROR" in line for line in log)


def test_a_handler_exception_keeps_its_stack_trace(function_dir: Path, built_layer: Path) -> None:
    event = {"fail": True, "order_id": "o-8"}
    plain, layered, _ = both(function_dir, built_layer, "diff_app.fails", [event])
    trace = layered[0]["error"]["stackTrace"]
    assert trace == plain[0]["error"]["stackTrace"]
    assert [line.split(", in ")[-1].split("\n")[0] for line in trace] == ["fails", "_check"]
