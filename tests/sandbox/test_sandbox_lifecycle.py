"""Init, the exec wrapper, environments and the invoke phase (lambda-platform.md §2.4-2.5, §4)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from sandbox_harness import FUNCTIONS, LAYER, PYTHON

# Variables an extension must never see (§2.5), beyond every `_`-prefixed one.
WITHHELD = {
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
}
SHARED = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_RUNTIME_API",
    "TZ",
}


def test_the_runtime_starts_only_after_every_extension_registered(make_harness) -> None:
    harness = make_harness(env={"PROBE_REGISTER_DELAY_MS": "800"})
    result = harness.invoke()
    assert result.status == "success", result.error
    (started,) = harness.probe.records("start")
    (registered,) = harness.probe.records("registered")
    (wrapper,) = harness.wrapper_starts()
    assert registered["t"] - started["t"] >= 0.8
    assert wrapper["t"] >= registered["t"]
    assert result.init_duration_ms >= 800


def test_the_wrapper_gets_exactly_the_interpreter_and_bootstrap_py(make_harness) -> None:
    harness = make_harness("basic.echo_env")
    seen = harness.invoke().response
    (wrapper,) = harness.wrapper_starts()
    assert wrapper["argc"] == 2
    interpreter, script = wrapper["args"]
    assert interpreter == seen["executable"]
    assert Path(interpreter).name == f"python{PYTHON}"
    assert script == os.path.join(seen["env"]["LAMBDA_RUNTIME_DIR"], "bootstrap.py")
    assert seen["env"]["WRAPPED_BY"] == "test-wrapper"


def test_a_missing_wrapper_fails_init_with_exit_status_127(make_harness) -> None:
    harness = make_harness(wrapper="/opt/no-such-wrapper.sh")
    first = harness.invoke()
    assert first.status != "success"
    assert first.payload is None
    assert first.error_type == "Runtime.ExitError"
    assert "127" in first.error["errorMessage"]
    assert harness.invoke().cold, "init is retried on the next invoke"


def test_a_wrapper_that_is_not_executable_fails_init_with_exit_status_126(make_harness) -> None:
    harness = make_harness(wrapper="/opt/not-executable.sh")
    result = harness.invoke()
    assert result.status != "success"
    assert result.error_type == "Runtime.ExitError"
    assert "126" in result.error["errorMessage"]


def test_the_runtime_environment(make_harness) -> None:
    harness = make_harness("basic.echo_env", env={"CUSTOM_VAR": "custom"})
    seen = harness.invoke().response
    env, lang_bin = seen["env"], os.path.dirname(seen["executable"])
    assert env["_HANDLER"] == "basic.echo_env"
    assert env["LAMBDA_TASK_ROOT"] == str(FUNCTIONS.resolve())
    assert os.path.isfile(os.path.join(env["LAMBDA_RUNTIME_DIR"], "bootstrap.py"))
    assert env["PYTHONPATH"] == env["LAMBDA_RUNTIME_DIR"]  # set by bootstrap.py
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_python{PYTHON}"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "local-function"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/local-function"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    host, port = env["AWS_XRAY_DAEMON_ADDRESS"].rsplit(":", 1)
    assert (env["_AWS_XRAY_DAEMON_ADDRESS"], env["_AWS_XRAY_DAEMON_PORT"]) == (host, port)
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == harness.sandbox.daemon.address
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert env["PATH"].split(":")[0] == lang_bin
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    assert env["CUSTOM_VAR"] == "custom"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} <= set(env)
    assert env["AWS_LAMBDA_EXEC_WRAPPER"].endswith("/wrapper.sh")
    assert env["TMPDIR"] == str(harness.sandbox.opt_dir.parent / "tmp")  # this sandbox's own /tmp


def test_extensions_get_the_reduced_environment(make_harness) -> None:
    harness = make_harness(env={"CUSTOM_VAR": "custom"})
    harness.invoke()
    (started,) = harness.probe.records("start")
    env = started["env"]
    assert not WITHHELD & set(env), WITHHELD & set(env)
    assert not [key for key in env if key.startswith("_")]
    assert set(env) >= SHARED, SHARED - set(env)
    assert env["CUSTOM_VAR"] == "custom"
    assert env["AWS_LAMBDA_RUNTIME_API"] == harness.sandbox.runtime_api
    assert env["TMPDIR"] == str(harness.sandbox.opt_dir.parent / "tmp")  # shared with the runtime


def test_no_trace_id_during_init(make_harness) -> None:
    harness = make_harness("init_view.handler", tracing="Active")
    seen = harness.invoke().response
    assert seen["at_import"]["trace_id_present"] is False
    assert seen["trace_id_now"], "but the invoke itself is traced"


def test_extension_work_after_the_response_delays_the_phase_not_the_caller(make_harness) -> None:
    harness = make_harness(env={"PROBE_AFTER_INVOKE_MS": "300"})
    harness.invoke()  # cold start out of the way
    warm = harness.invoke()
    assert warm.status == "success" and not warm.cold
    assert warm.response_latency_ms < 150, warm
    # The probe's 300 ms start when it gets INVOKE, at most response_latency before the response.
    assert warm.post_runtime_ms + warm.response_latency_ms >= 300, warm
    assert warm.post_runtime_ms >= 150, warm


def test_start_initialises_ahead_as_provisioned_concurrency(make_harness) -> None:
    harness = make_harness("basic.echo_env")
    assert harness.sandbox.start() is None
    result = harness.invoke()
    assert result.status == "success", result.error
    assert not result.cold
    assert result.response["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
    (init_start,) = [e for e in harness.sandbox.telemetry if e["type"] == "platform.initStart"]
    assert init_start["record"]["initializationType"] == "provisioned-concurrency"


def _layer_with_two_probes(tmp_path: Path) -> Path:
    layer = tmp_path / "two-probes"
    shutil.copytree(LAYER, layer)
    shutil.copy2(layer / "extensions" / "probe", layer / "extensions" / "probe2")
    return layer


def test_extensions_start_in_parallel_and_all_register_before_the_runtime(
    make_harness, tmp_path: Path
) -> None:
    layer = _layer_with_two_probes(tmp_path)
    harness = make_harness(layers=(layer,), env={"PROBE_REGISTER_DELAY_MS": "700"})
    result = harness.invoke()
    assert result.status == "success", result.error
    registered = harness.probe.records("registered")
    assert sorted(r["status"] for r in registered) == [200, 200]
    (wrapper,) = harness.wrapper_starts()
    assert wrapper["t"] >= max(r["t"] for r in registered)
    assert result.init_duration_ms < 1300, "the two 700 ms delays overlap"


def test_init_that_does_not_finish_in_time_fails(make_harness) -> None:
    harness = make_harness(env={"PROBE_REGISTER_DELAY_MS": "5000"}, init_timeout_s=1)
    started = time.monotonic()
    result = harness.invoke()
    assert time.monotonic() - started < 2.5
    assert result.status != "success"
    assert result.payload is None
    assert harness.wrapper_starts() == [], "the runtime never starts before registration"
