"""bootstrap: the user's handler loads, or fails, exactly as awslambdaric's own loader has it.

Each case runs in a fresh interpreter of the sandbox's clean runtime (the real awslambdaric):
the runtime's `_get_handler` on the user's handler name, against the same `_get_handler` on
`xraylayer.bootstrap.handler` with the user's name in XRAYLAYER_ORIGINAL_HANDLER (what the
runtime does with the layer on), and against the layer's fallback loader. The script is a file
named bootstrap.py, as awslambdaric's `run()`, the loader's caller in the runtime, is: the
runtime leaves the leading frames of such files out of the stack traces it reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from xraylayer_local.runtimes import provision

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO / "tests" / "e2e" / "functions"
PYTHON = "3.11"

SCRIPT = """
import json, os, sys
from awslambdaric import bootstrap
mode, name = sys.argv[1], sys.argv[2]
if mode == "layer":
    os.environ["XRAYLAYER_ORIGINAL_HANDLER"] = name
    os.environ["_HANDLER"] = name = "xraylayer.bootstrap.handler"
load = bootstrap._get_handler
if mode == "fallback":
    from xraylayer import bootstrap as layer_bootstrap
    load = layer_bootstrap._get_handler
try:
    handler = load(name)
    out = {"loaded": handler({"value": [1, "two"]}, None) if name != "nodot" else None,
           "_HANDLER": os.environ.get("_HANDLER")}
except bootstrap.FaultException as fault:
    out = {"fault": [fault.exception_type, fault.msg, fault.trace]}
except Exception:
    out = {"error": bootstrap.build_fault_result(sys.exc_info(), None)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def function_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("function") / "task"
    shutil.copytree(FUNCTIONS, folder)
    shutil.copyfile(folder / "diff_syntax.txt", folder / "diff_syntax.py")
    return folder


@pytest.fixture(scope="module")
def python() -> str:
    return str(provision(PYTHON).python)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runner = tmp_path_factory.mktemp("runner") / "bootstrap.py"
    runner.write_text(SCRIPT)
    return runner


def load(python: str, function_dir: Path, mode: str, name: str, script: Path) -> dict:
    done = subprocess.run(
        [python, str(script), mode, name],
        cwd=function_dir,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(function_dir), str(REPO / "layer")]),
            "_HANDLER": name,
            "XRAYLAYER_LOG_LEVEL": "off",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


HANDLERS = {
    "diff_app.returns": "loads and runs",
    "diffpkg/handlers.handler": "loads, by a path with a slash",
    "no_such_module.handler": "Runtime.ImportModuleError",
    "diff_import_fails.handler": "Runtime.ImportModuleError",
    "diff_app.no_such_function": "Runtime.HandlerNotFound",
    "diff_syntax.handler": "Runtime.UserCodeSyntaxError",
    "nodot": "Runtime.MalformedHandlerName",
    "": "Runtime.MalformedHandlerName",
    "sys.handler": "Runtime.BuiltInModuleConflict",
    "diff_raises_at_import.handler": "KeyError, with its stack",
    "diff_attribute_error_at_import.handler": "AttributeError, with its stack",
}


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_the_layer_loads_or_fails_exactly_as_the_runtime(
    python: str, function_dir: Path, script: Path, name: str
) -> None:
    plain = load(python, function_dir, "plain", name, script)
    assert load(python, function_dir, "layer", name, script) == plain
    assert load(python, function_dir, "fallback", name, script) == plain


def test_the_cases_fail_the_way_their_names_say(
    python: str, function_dir: Path, script: Path
) -> None:
    """The comparison above is only worth something if each case does what it claims."""
    for name, expected in HANDLERS.items():
        result = load(python, function_dir, "plain", name, script)
        if expected.startswith("Runtime."):
            assert result["fault"][0] == expected, name
        elif expected.startswith("loads"):
            assert "loaded" in result, name
        else:
            error = result["error"]
            assert error["errorType"] == expected.split(",")[0], name
            assert any(name.split(".")[0] in line for line in error["stackTrace"]), name


def test_the_handler_variable_reads_as_the_functions_own_once_loaded(
    python: str, function_dir: Path, script: Path
) -> None:
    result = load(python, function_dir, "layer", "diff_app.returns", script)
    assert result == {"loaded": [1, "two"], "_HANDLER": "diff_app.returns"}
