"""Every supported Python version runs a function end to end with the real runtime client."""

from __future__ import annotations

import pytest
from sandbox_harness import FUNCTIONS
from xraylayer_local.runtimes import SUPPORTED_VERSIONS
from xraylayer_local.sandbox import Sandbox


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_hello_runs_on_each_python_version(version: str) -> None:
    with Sandbox(FUNCTIONS, "basic.hello", python=version) as sandbox:
        first = sandbox.invoke({"name": "lambda"})
        second = sandbox.invoke({"name": "again"})
    assert first.status == "success", first.error
    assert first.response == {"hello": "lambda", "python": version}
    assert first.cold and not second.cold
    assert second.response == {"hello": "again", "python": version}
    assert first.request_id != second.request_id
