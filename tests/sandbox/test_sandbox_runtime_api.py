"""Runtime API (lambda-platform.md §1): what `next` tells the runtime and how answers are judged.

Raw endpoint checks run inside a handler: it calls the Runtime API itself while its invoke is
in progress, so the API is probed in exactly the state Lambda would be in.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
from sandbox_harness import FUNCTIONS, PYTHON, wait_for
from xraylayer_local.sandbox import Sandbox

ARN = re.compile(r"arn:aws:lambda:us-east-1:\d{12}:function:local-function")


def _read_json_when_written(path: Path) -> dict:
    wait_for(path.exists, message=f"{path.name} written by the handler")
    return json.loads(path.read_text())


def test_next_headers_reach_the_handler_as_its_context() -> None:
    with Sandbox(FUNCTIONS, "basic.context_info", python=PYTHON, timeout_s=5) as sandbox:
        before_ms = time.time() * 1000
        result = sandbox.invoke({"k": 1}, client_context={"custom": {"tenant": "t1"}})
        after_ms = time.time() * 1000
    seen = result.response
    assert result.status == "success", result.error
    assert seen["request_id"] == result.request_id
    assert uuid.UUID(seen["request_id"])
    assert ARN.fullmatch(seen["arn"]), seen["arn"]
    assert seen["function_name"] == "local-function"
    assert seen["function_version"] == "$LATEST"
    assert seen["memory_limit_in_mb"] == "128"
    assert seen["log_group_name"] == "/aws/lambda/local-function"
    assert seen["custom"] == {"tenant": "t1"}
    assert seen["event"] == {"k": 1}
    # Lambda-Runtime-Deadline-Ms = invoke start + timeout, in epoch milliseconds.
    assert before_ms + 5000 - 5 <= seen["deadline_ms"] <= after_ms + 5000 + 5


def test_every_invoke_gets_a_new_request_id() -> None:
    with Sandbox(FUNCTIONS, "basic.context_info", python=PYTHON) as sandbox:
        ids = [sandbox.invoke({}).response["request_id"] for _ in range(3)]
    assert len(set(ids)) == 3


def test_response_for_an_unknown_request_id_is_400_invalid_request_id() -> None:
    with Sandbox(FUNCTIONS, "raw_api.wrong_request_id", python=PYTHON) as sandbox:
        result = sandbox.invoke({})
    assert result.status == "success", result.error
    assert result.response == {
        "status": 400,
        "body": {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"},
    }


def test_a_second_response_is_403_invalid_state_transition(tmp_path: Path) -> None:
    out = tmp_path / "answers.json"
    with Sandbox(FUNCTIONS, "raw_api.response_twice", python=PYTHON) as sandbox:
        result = sandbox.invoke({"out": str(out)})
        answers = _read_json_when_written(out)
        after = sandbox.invoke({"out": str(tmp_path / "again.json")})
    assert result.response == {"posted_by": "handler"}
    assert answers["first"] == {"status": 202, "body": {"status": "OK"}}
    assert answers["second"]["status"] == 403
    assert answers["second"]["body"]["errorType"] == "InvalidStateTransition"
    assert after.status == "success" and not after.cold, "the environment stays usable"


def test_an_oversized_response_is_413_and_the_caller_gets_size_too_large(tmp_path) -> None:
    out = tmp_path / "answer.json"
    with Sandbox(FUNCTIONS, "raw_api.oversized_post", python=PYTHON) as sandbox:
        result = sandbox.invoke({"out": str(out)})
        answer = _read_json_when_written(out)
    assert answer["status"] == 413
    assert answer["body"]["errorType"] == "RequestEntityTooLarge"
    assert answer["body"]["errorMessage"].startswith("Exceeded maximum allowed payload size (")
    assert result.payload is None
    assert result.error["errorType"] == "Function.ResponseSizeTooLarge"


def test_returning_an_oversized_response_fails_with_response_size_too_large() -> None:
    with Sandbox(FUNCTIONS, "basic.big_response", python=PYTHON, timeout_s=10) as sandbox:
        result = sandbox.invoke({"bytes": 7 * 1024 * 1024})
    assert result.status != "success"
    assert result.payload is None
    assert result.error is not None
    assert result.error.get("errorType") == "Function.ResponseSizeTooLarge", result.error


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Function.Custom", "Function.Custom"), ("Runtime.Custom", "Runtime.Custom")],
)
def test_error_with_an_error_type_header(tmp_path: Path, header: str, expected: str) -> None:
    out = tmp_path / "answer.json"
    with Sandbox(FUNCTIONS, "raw_api.error_with_type", python=PYTHON) as sandbox:
        result = sandbox.invoke({"out": str(out), "error_type": header})
        answer = _read_json_when_written(out)
        after = sandbox.invoke({"out": str(tmp_path / "again.json"), "error_type": header})
    assert answer == {"status": 202, "body": {"status": "OK"}}
    assert result.status == "error"
    assert result.payload is None
    assert result.error == {"errorMessage": "custom failure", "errorType": "CustomError"}
    assert result.error_type == expected
    assert not after.cold, "a function error does not reset the environment"


def test_an_error_type_header_outside_category_reason_is_folded_to_unknown(tmp_path) -> None:
    out = tmp_path / "answer.json"
    with Sandbox(FUNCTIONS, "raw_api.error_with_type", python=PYTHON) as sandbox:
        result = sandbox.invoke({"out": str(out), "error_type": "not a type"})
        _read_json_when_written(out)
    assert result.status == "error"
    assert result.error_type in ("Function.Unknown", "Runtime.Unknown")


def test_init_error_after_the_first_next_is_403() -> None:
    with Sandbox(FUNCTIONS, "raw_api.init_error_after_next", python=PYTHON) as sandbox:
        result = sandbox.invoke({})
        after = sandbox.invoke({})
    assert result.response["status"] == 403
    assert result.response["body"]["errorType"] == "InvalidStateTransition"
    assert not after.cold, "a refused init/error must not end the environment"


def test_the_runtime_api_address_is_exported_to_the_runtime() -> None:
    with Sandbox(FUNCTIONS, "basic.echo_env", python=PYTHON) as sandbox:
        env = sandbox.invoke({}).response["env"]
        assert env["AWS_LAMBDA_RUNTIME_API"] == sandbox.runtime_api
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
