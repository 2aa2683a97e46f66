"""What the caller sees when things go wrong, and which failures reset the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

BAD_MODULES = {
    "bad_syntax.py": "def handler(event, context:\n    return 1\n",
    "bad_import.py": "import no_such_module_xraylayer_test\n\n\ndef handler(e, c):\n    return 1\n",
    "no_handler.py": "def other(event, context):\n    return 1\n",
}


@pytest.fixture
def bad_functions(tmp_path: Path) -> Path:
    folder = tmp_path / "bad_functions"
    folder.mkdir()
    for name, source in BAD_MODULES.items():
        (folder / name).write_text(source)
    return folder


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "bad_syntax.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'bad_syntax'",
        ),
        ("bad_import.handler", "Runtime.ImportModuleError", "Unable to import module 'bad_import'"),
        ("missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing'"),
        ("no_handler.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module"),
        ("nodots", "Runtime.MalformedHandlerName", "Bad handler 'nodots'"),
    ],
)
def test_a_bad_handler_fails_init_with_the_runtime_clients_error_type(
    make_harness, bad_functions, handler, error_type, message
) -> None:
    harness = make_harness(handler, function_dir=bad_functions)
    result = harness.invoke()
    assert result.status != "success"
    assert result.payload is None
    assert result.error["errorType"] == error_type
    assert message in result.error["errorMessage"]
    (done,) = [e for e in harness.sandbox.telemetry if e["type"] == "platform.initRuntimeDone"]
    assert done["record"]["status"] != "success"
    assert done["record"]["errorType"] == error_type


def test_a_handler_exception_is_an_error_document_and_keeps_the_environment(make_harness) -> None:
    harness = make_harness("basic.fail")
    result = harness.invoke()
    again = harness.invoke()
    assert result.status == "error"
    assert result.payload is None
    error = result.error
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom from fail"
    assert error["requestId"] == result.request_id
    assert any("basic.py" in frame and "fail" in frame for frame in error["stackTrace"]), error
    assert not again.cold
    assert harness.probe.events("SHUTDOWN") == []


def test_a_timeout_resets_the_environment(make_harness) -> None:
    harness = make_harness("basic.sleep", timeout_s=1)
    result = harness.invoke({"seconds": 5})
    assert result.status == "timeout"
    assert result.payload is None
    assert "Task timed out after 1.00 seconds" in result.error["errorMessage"]
    assert 1000 <= result.response_latency_ms < 2500, result
    (shutdown,) = harness.probe.events("SHUTDOWN")
    assert shutdown["shutdownReason"] == "timeout"
    after = harness.invoke({"seconds": 0})
    assert after.status == "success" and after.cold
    assert len(harness.probe.records("start")) == 2


def test_an_extension_busy_at_a_timeout_gets_shutdown_at_its_next_call(make_harness) -> None:
    """SHUTDOWN waits for an extension still working on the invoke (Lambda queues the event
    until the deadline), rather than the API forgetting it."""
    harness = make_harness("basic.sleep", timeout_s=1, env={"PROBE_AFTER_INVOKE_MS": "1500"})
    result = harness.invoke({"seconds": 5})
    assert result.status == "timeout"
    (shutdown,) = harness.probe.events("SHUTDOWN")
    assert shutdown["shutdownReason"] == "timeout"


def test_a_runtime_crash_is_runtime_exit_error_and_resets(make_harness) -> None:
    harness = make_harness("basic.exit_hard")
    result = harness.invoke()
    assert result.status != "success"
    assert result.error_type == "Runtime.ExitError"
    assert result.error["errorType"] == "Runtime.ExitError"
    assert "exit status 1" in result.error["errorMessage"]
    (shutdown,) = harness.probe.events("SHUTDOWN")
    assert shutdown["shutdownReason"] == "failure"
    assert harness.invoke().cold


def test_running_out_of_memory_kills_and_resets(make_harness) -> None:
    harness = make_harness("basic.allocate", memory_mb=128, timeout_s=10)
    result = harness.invoke({"mb": 256, "hold_s": 5})
    assert result.status != "success"
    assert result.payload is None
    assert "OutOfMemory" in (result.error_type or ""), result
    assert result.response_latency_ms < 5000, "killed while over the limit, not at the end"
    (shutdown,) = harness.probe.events("SHUTDOWN")
    assert shutdown["shutdownReason"] == "failure"
    after = harness.invoke({"mb": 1})
    assert after.cold and after.response == 1
