"""What the layer's function-side code imports at cold start, beyond what the runtime imports.

DESIGN.md, "Cold start is sacred": every module the layer pulls in is paid by every cold start
of every function. The managed runtime (awslambdaric) already loads json, contextlib, re, enum,
threading and a few more; `typing` (2 ms), `socket` (3 ms with selectors and array), the idna
codec (1 ms) and friends it does not, and the layer must not either: its annotations are type
names only, its sockets are `_socket`'s.

Each case runs the clean runtime interpreter (only what Lambda's runtime ships): it imports
what the runtime imports, notes `sys.modules`, then does what a cold start with the layer does
in the function process: sitecustomize's set-up (config, post-import hooks, import profile),
the runtime's lookup of `xraylayer.bootstrap.handler` (which loads the user's handler) and one
sampled invocation whose spans no extension takes, so they go the fallback way, straight to the
X-Ray daemon. What got imported since must hold none of the deny-list. Not timed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from xraylayer_local.runtimes import provision

REPO = Path(__file__).resolve().parents[2]
PYTHON = "3.11"

# Never imported by the layer's function-side code (a name covers its submodules).
DENIED = (
    "typing",
    "socket",
    "selectors",
    "encodings.idna",
    "dataclasses",
    "enum",
    "asyncio",
    "inspect",
    "importlib.metadata",
    "wrapt",
    "opentelemetry",
    "requests",
    "urllib3",
)

CHILD = """
import json, sys
import awslambdaric.bootstrap, awslambdaric.__main__  # what the runtime itself imports
import importlib.util  # the test's own, to load sitecustomize.py without running it

spec = importlib.util.spec_from_file_location("layer_sitecustomize", {sitecustomize!r})
site_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(site_module)
{preload}
before = set(sys.modules)

sys.path.append({layer!r})
assert site_module._instrument([]), "the layer is switched off"
import xraylayer.bootstrap
handler = xraylayer.bootstrap.handler  # the runtime's lookup: loads the user's handler


class Context:
    function_name = "cold"
    function_version = "$LATEST"
    aws_request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold"
    memory_limit_in_mb = "128"


result = handler({{}}, Context())
stats = sys.modules["xraylayer.handoff"].HANDOFF.stats()
print(json.dumps({{"new": sorted(set(sys.modules) - before), "result": result, "stats": stats}}))
"""


@pytest.fixture
def daemon_port() -> Iterator[int]:
    """A UDP port on loopback that takes the fallback's documents (and nobody reads)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        yield daemon.getsockname()[1]


def cold_start(tmp_path: Path, daemon_port: int, preload: str) -> dict:
    """Run the cold start in the clean runtime interpreter; what it reports."""
    task = tmp_path / "task"
    task.mkdir()
    (task / "function.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200}\n"
    )
    code = CHILD.format(
        sitecustomize=str(REPO / "bootstrap_wrapper" / "sitecustomize.py"),
        layer=str(REPO / "layer"),
        preload=preload,
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LAMBDA_TASK_ROOT": str(task),
        "PYTHONPATH": str(task),
        "_HANDLER": "xraylayer.bootstrap.handler",
        "XRAYLAYER_ORIGINAL_HANDLER": "function.handler",
        "AWS_REGION": "us-east-1",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        # No extension listens here: every span takes the fallback way, to the daemon.
        "XRAYLAYER_INTAKE": "/nonexistent-xraylayer-test/intake.sock",
    }
    done = subprocess.run(
        [str(provision(PYTHON).python), "-c", code],
        env=env,
        cwd=task,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def denied(modules: list[str]) -> list[str]:
    return [
        name
        for name in modules
        if any(name == prefix or name.startswith(prefix + ".") for prefix in DENIED)
    ]


@pytest.mark.parametrize(
    "preload",
    [
        pytest.param("", id="plain-function"),
        # Patched at once by the hooks: the http.client and thread-pool instrumentations load.
        pytest.param("import http.client, concurrent.futures.thread", id="http-and-threads"),
    ],
)
def test_the_layer_adds_no_costly_import_to_the_cold_start(
    tmp_path: Path, daemon_port: int, preload: str
) -> None:
    report = cold_start(tmp_path, daemon_port, preload)
    assert report["result"] == {"statusCode": 200}
    # The whole function-side path ran: set-up, invocation, hand-off, fallback export.
    new = report["new"]
    for module in ("xraylayer.invocation", "xraylayer.handoff", "xraylayer.xray_udp"):
        assert module in new
    if preload:
        assert "xraylayer.instrument.http_client" in new
        assert "xraylayer.instrument.threads" in new
    assert report["stats"]["exported"] >= 1
    found = denied(new)
    assert not found, f"imported by the layer at cold start: {found}"
