"""A function that bundles its own wrapt, requests and OpenTelemetry, with and without the layer.

The layer ships its own (newer) copies of these packages and must never shadow the function's:
the function runs with the versions and files it bundled, its wrapt decorator and post-import
hook work, its requests call goes out with its own requests, and its own OpenTelemetry tracer
provider, set up at init or in its first invocation, keeps its span (the layer's tracing does
not take it over). The caller sees the same response either way, and with the layer the
invocation is still traced: its invocation and HTTP call reach the X-Ray daemon, and the call
carries the trace header.

The packages are installed once per Python version and requirement list into a cache
(~/.cache/xraylayer/differential/), built in a temporary folder and renamed into place, so that
reruns are fast and parallel runs never see half an install.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from xraylayer.trace_header import parse
from xraylayer_local import InvokeResult, Sandbox
from xraylayer_local.views.model import flattened

HANDLER_FILES = sorted((Path(__file__).parent / "functions" / "diff_bundled").glob("*.py"))
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}
# Older than the layer's private copies (wrapt 2.x, requests 2.3x, OpenTelemetry 1.4x), and
# installable as wheels for every Python version below.
REQUIREMENTS = (
    "wrapt==1.14.2",
    "requests==2.28.2",
    "opentelemetry-api==1.20.0",
    "opentelemetry-sdk==1.20.0",
)
EXPECTED_VERSIONS = {
    "wrapt": "1.14.2",
    "requests": "2.28.2",
    "urllib3": "1.26.20",  # what requests 2.28 pulls in (urllib3 < 1.27)
    "opentelemetry-api": "1.20.0",
    "opentelemetry-sdk": "1.20.0",
}
PYTHONS = [
    "3.11",
    pytest.param("3.10", marks=pytest.mark.slow),
    pytest.param("3.13", marks=pytest.mark.slow),
]
PIP_TIMEOUT_S = 600


# --- the bundle ---------------------------------------------------------------------------------


def _manylinux_platform() -> str:
    machine = platform.machine().lower()
    return "manylinux2014_" + {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def bundle(python: str) -> Path:
    """The requirements installed for ``python`` on this machine's platform, from the cache."""
    key = "\n".join([*REQUIREMENTS, python, _manylinux_platform()])
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = root / "xraylayer" / "differential"
    home = cache / hashlib.sha256(key.encode()).hexdigest()[:16]
    if home.is_dir():
        return home
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=cache))
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-conflicts",
                "--no-compile",
                "--target",
                str(staging),
                "--python-version",
                python,
                "--implementation",
                "cp",
                "--only-binary=:all:",
                "--platform",
                _manylinux_platform(),
                *REQUIREMENTS,
            ],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip failed with exit {done.returncode}:\n{done.stderr}")
        staging.chmod(0o755)
        os.rename(staging, home)  # fails if a parallel run got there first: then use theirs
    except OSError:
        if not home.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return home


@pytest.fixture(scope="module", params=PYTHONS)
def python(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def function_dir(python: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The function as it would be zipped: the handler next to the packages it bundles."""
    folder = tmp_path_factory.mktemp(f"bundled-{python}") / "task"
    shutil.copytree(bundle(python), folder)
    for handler_file in HANDLER_FILES:
        shutil.copyfile(handler_file, folder / handler_file.name)
    return folder


# --- the payment service: a loopback HTTP server ------------------------------------------------


class PaymentService(ThreadingHTTPServer):
    """Answers every GET with JSON naming the path and the caller's User-Agent; keeps the
    headers of every request it received."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PaymentHandler)
        self.received: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _PaymentHandler(BaseHTTPRequestHandler):
    server: PaymentService

    def do_GET(self) -> None:
        self.server.received.append(dict(self.headers.items()))
        body = json.dumps({"path": self.path, "agent": self.headers["User-Agent"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def payments() -> Iterator[PaymentService]:
    server = PaymentService()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- the runs -----------------------------------------------------------------------------------


def invoke_twice(
    function_dir: Path,
    python: str,
    payments: PaymentService,
    layers: list[Path],
    env: dict[str, str],
) -> tuple[list[InvokeResult], list[dict[str, str]]]:
    """A cold and a warm invoke, and the headers of the HTTP calls they made."""
    events = [{"order": f"o-{index}", "url": f"{payments.url}/pay/o-{index}"} for index in (1, 2)]
    payments.received.clear()
    results = invoked(function_dir, python, "bundled_app.handler", events, layers=layers, env=env)
    return results, list(payments.received)


def invoked(
    function_dir: Path,
    python: str,
    handler: str,
    events: list[dict[str, Any]],
    *,
    layers: list[Path],
    env: dict[str, str],
) -> list[InvokeResult]:
    """``events`` invoked in order in one sandbox with Active tracing (a cold start first)."""
    with Sandbox(
        function_dir,
        handler,
        layers=layers,
        env=env,
        python=python,
        tracing="Active",
        timeout_s=20,
    ) as sandbox:
        return [sandbox.invoke(event) for event in events]


@pytest.fixture(scope="module")
def plain(
    function_dir: Path, python: str, payments: PaymentService
) -> tuple[list[InvokeResult], list[dict[str, str]]]:
    return invoke_twice(function_dir, python, payments, [], {})


@pytest.fixture(scope="module")
def layered(
    function_dir: Path, python: str, payments: PaymentService, built_layer: Path
) -> tuple[list[InvokeResult], list[dict[str, str]]]:
    return invoke_twice(function_dir, python, payments, [built_layer], WRAPPER)


def caller_view(result: InvokeResult) -> dict[str, Any]:
    error = {key: value for key, value in (result.error or {}).items() if key != "requestId"}
    return {"status": result.status, "payload": result.payload, "error": error or None}


# --- the tests ----------------------------------------------------------------------------------


def test_the_caller_sees_the_same_responses(plain: tuple, layered: tuple) -> None:
    assert [caller_view(result) for result in layered[0]] == [
        caller_view(result) for result in plain[0]
    ]
    assert [result.status for result in plain[0]] == ["success", "success"]


def test_the_function_runs_with_the_packages_it_bundled(layered: tuple) -> None:
    for result in layered[0]:
        seen = result.response
        assert seen["versions"] == EXPECTED_VERSIONS
        assert seen["module_versions"] == {
            name: EXPECTED_VERSIONS[name] for name in ("wrapt", "requests", "urllib3")
        }
        assert seen["files"] == {
            "wrapt": "wrapt/__init__.py",
            "requests": "requests/__init__.py",
            "urllib3": "urllib3/__init__.py",
            "opentelemetry.trace": "opentelemetry/trace/__init__.py",
            "opentelemetry.sdk.trace": "opentelemetry/sdk/trace/__init__.py",
        }
        assert seen["from_elsewhere"] == []
        assert seen["bundled_modules"] > 50


def test_its_wrapt_decorator_and_post_import_hook_work(layered: tuple) -> None:
    seen = layered[0][0].response
    assert (seen["price"], seen["wrapped_by_wrapt"], seen["hooked"]) == (60, True, ["requests"])


def test_its_requests_call_goes_out_with_its_own_requests(layered: tuple) -> None:
    seen = layered[0][1].response
    assert seen["payment"] == {
        "status": 200,
        "body": {"path": "/pay/o-2", "agent": "python-requests/2.28.2"},
    }


def test_its_own_tracer_provider_keeps_its_span(layered: tuple) -> None:
    """Set up at init, the user's provider stays the global one and its span goes to the
    user's exporter, as without the layer (the same span: the responses are equal)."""
    for index, result in enumerate(layered[0], start=1):
        seen = result.response
        assert seen["provider_is_theirs"] is True
        assert seen["their_spans"] == [
            {
                "name": "checkout",
                "attributes": {"order": f"o-{index}", "payment.status": 200},
                "parent": None,
                "scope": "orders.bundled",
                "kind": "INTERNAL",
                "status": "UNSET",
            }
        ]


def test_with_the_layer_the_invocation_and_its_http_call_are_traced(
    plain: tuple, layered: tuple, payments: PaymentService
) -> None:
    results, calls = layered
    for result, headers in zip(results, calls, strict=True):
        documents = flattened(result.segments)
        (invocation,) = [d for d in documents if "ColdStart" in d.get("annotations", {})]
        http = [d for d in documents if d.get("http", {}).get("request", {}).get("url")]
        assert [d["http"]["request"]["url"] for d in http] == [
            f"{payments.url}/pay/{result.response['their_spans'][0]['attributes']['order']}"
        ]
        assert http[0]["trace_id"] == invocation["trace_id"]
        sent = parse(headers["X-Amzn-Trace-Id"])
        assert sent is not None and sent.parent == http[0]["id"]
    plain_results, plain_calls = plain
    assert not any(
        "ColdStart" in d.get("annotations", {})
        for result in plain_results
        for d in flattened(result.segments)
    )
    assert all("X-Amzn-Trace-Id" not in headers for headers in plain_calls)


def test_a_provider_set_up_in_the_first_invocation_is_theirs_too(
    function_dir: Path, python: str, built_layer: Path
) -> None:
    """Some functions configure OpenTelemetry lazily, in the handler: the layer must not have
    taken the global provider before their first invocation runs."""

    def views(layers: list[Path], env: dict[str, str]) -> list[dict[str, Any]]:
        events = [{"order": f"o-{index}"} for index in (1, 2)]
        results = invoked(function_dir, python, "lazy_app.handler", events, layers=layers, env=env)
        return [caller_view(result) for result in results]

    plain = views([], {})
    assert views([built_layer], WRAPPER) == plain
    assert [json.loads(view["payload"]) for view in plain] == [
        {
            "provider_is_theirs": True,
            "their_spans": [{"name": "checkout", "attributes": {"order": f"o-{index}"}}],
        }
        for index in (1, 2)
    ]


def test_spans_made_with_the_opentelemetry_api_alone_join_the_invocations_trace(
    function_dir: Path, python: str, built_layer: Path
) -> None:
    """No provider set by the function: without the layer its spans go nowhere; with it they
    are subsegments of the invocation, nested as they were made, cold start included."""

    def run(layers: list[Path], env: dict[str, str]) -> list[InvokeResult]:
        events = [{"order": f"o-{index}"} for index in (1, 2)]
        return invoked(function_dir, python, "api_only_app.handler", events, layers=layers, env=env)

    plain, layered = run([], {}), run([built_layer], WRAPPER)
    assert [caller_view(r) for r in layered] == [caller_view(r) for r in plain]
    for index, result in enumerate(layered, start=1):
        documents = flattened(result.segments)
        (invocation,) = [d for d in documents if "ColdStart" in d.get("annotations", {})]
        (price,) = [d for d in documents if d["name"] == "price-order"]
        (tax,) = [d for d in documents if d["name"] == "tax"]
        assert price["parent_id"] == invocation["id"]
        assert tax["parent_id"] == price["id"]
        assert price["trace_id"] == invocation["trace_id"]
        assert price["metadata"]["otel"]["order"] == f"o-{index}"
