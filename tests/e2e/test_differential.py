"""The caller's view, with and without the layer: the same responses, the same errors.

Each case runs the same function in the local sandbox twice, once plain and once with the
built layer and its wrapper, and compares what the caller gets: the response bytes, or the
error document (errorType, errorMessage, stackTrace) byte for byte. The request id differs
per invocation by nature and is left out. A handler that ends the runtime process ends it the
same way, and what the function prints and logs reads the same, line for line.
"""

from __future__ import annotations

import re
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
    """What the caller gets from one invocation, without the request id (also where a
    Runtime.ExitError message names it)."""
    error = dict(result.error) if result.error is not None else None
    if error is not None:
        error.pop("requestId", None)
        if isinstance(error.get("errorMessage"), str):
            error["errorMessage"] = error["errorMessage"].replace(result.request_id, "<request>")
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
    # Lambda's Runtime API takes an X-Ray error cause header of up to 1 MiB (awslambdaric sends
    # it empty beyond that), so a 100 KB message or a deep stack is an ordinary error.
    "diff_app.fails_with_long_message": ({}, "ValueError"),
    "diff_app.fails_with_recursion": ({}, "RecursionError"),
    "diff_app.fails_chained": ({}, "RuntimeError"),
    "diff_app.fails_with_own_str": ({}, "PaymentDeclined"),
    "diff_app.returns_datetime_deep_inside": ({}, "Runtime.MarshalError"),
    # awslambdaric itself fails on str() of the exception: the runtime process exits.
    "diff_app.fails_unprintably": ({}, "Runtime.ExitError"),
    "diff_app.fails_with_exception_group": ({}, "ExceptionGroup"),  # Python 3.11+
    "diff_app.fails_in_an_http_call": ({}, "ConnectionRefusedError"),
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


# A BaseException out of the handler is not caught by the runtime: its process ends, the caller
# gets Runtime.ExitError naming how, and the next invoke starts a fresh environment (cold).
PROCESS_EXITS = {
    "SystemExit(0)": ("diff_app.exits", {"code": 0}, "exit status 0"),
    "SystemExit(3)": ("diff_app.exits", {"code": 3}, "exit status 3"),
    "KeyboardInterrupt": ("diff_app.raises_keyboard_interrupt", {}, "signal: 2"),
}


def run_with_cold_flags(
    function_dir: Path, handler: str, event: Any, layers: list[Path], env: dict[str, str]
) -> list[tuple[dict[str, Any], bool]]:
    """Two invokes of `event` in one sandbox: each caller view, and whether it started cold."""
    with Sandbox(
        function_dir, handler, layers=layers, env=env, python=PYTHON, timeout_s=10
    ) as sandbox:
        return [(caller_view(result), result.cold) for result in map(sandbox.invoke, [event] * 2)]


@pytest.mark.parametrize("case", sorted(PROCESS_EXITS))
def test_a_handler_that_ends_the_process_ends_it_identically(
    function_dir: Path, built_layer: Path, case: str
) -> None:
    handler, event, how = PROCESS_EXITS[case]
    plain = run_with_cold_flags(function_dir, handler, event, [], {})
    layered = run_with_cold_flags(function_dir, handler, event, [built_layer], WRAPPER)
    assert layered == plain
    expected = f"RequestId: <request> Error: Runtime exited with error: {how}"
    assert [(view["error"], cold) for view, cold in plain] == [
        ({"errorType": "Runtime.ExitError", "errorMessage": expected}, True)
    ] * 2


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_PLATFORM_LINE = re.compile(r"(START|END|REPORT) RequestId: ")


def function_log(
    function_dir: Path, events: list[Any], layers: list[Path], env: dict[str, str]
) -> list[str]:
    """The function's own log lines of `events`, request ids and times made comparable; the
    layer's own lines and the platform's START/END/REPORT lines left out."""
    with Sandbox(
        function_dir, "diff_app.prints_and_logs", layers=layers, env=env, python=PYTHON
    ) as sandbox:
        request_ids = [sandbox.invoke(event).request_id for event in events]

    def comparable(line: str) -> str:
        for index, request_id in enumerate(request_ids):
            line = line.replace(request_id, f"<request {index}>")
        return _TIMESTAMP.sub("<time>", line)

    return [
        comparable(line)
        for source, line in sandbox.logs  # complete once the sandbox is shut down
        if source == "runtime"
        and not line.startswith("xraylayer:")
        and not _PLATFORM_LINE.match(line)
    ]


def test_the_functions_own_log_lines_are_the_same(function_dir: Path, built_layer: Path) -> None:
    """print to stdout and stderr, logging at several levels with a traceback: line for line."""
    events = [{"n": 1}, {"n": 2}]
    plain = function_log(function_dir, events, [], {})
    layered = function_log(function_dir, events, [built_layer], WRAPPER)
    assert layered == plain
    assert "[INFO]\t<time>\t<request 1>\tinfo 2" in plain
    assert "to stderr 2" in plain
