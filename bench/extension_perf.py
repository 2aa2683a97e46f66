"""What the extension costs: start to first ``event/next``, export throughput, memory (issue #4).

Budget: 40 ms from process start to the first ``event/next``. Lambda adds the time to
``register`` to every cold start, and init lasts until every extension is back in ``next``.

1. Start. The launcher of the built layer zip (``extensions/xraylayer``, unpacked as Lambda
   mounts it, shipped byte-code included) is started as Lambda starts it, with ``python3`` on
   PATH a symlink to the real interpreter of each Python version found (never a pyenv shim),
   against the local sandbox's Extensions API on loopback (the Telemetry API subscription is
   accepted; nothing is delivered). Start is taken just before ``Popen``; the API notes when
   ``register`` and the first ``next`` arrive. Baselines, same run, same ``Popen``:
   ``python3 -I -S -c pass`` and ``python3 -c pass``, to exit. Versions alternate run by run
   so machine noise hits all alike. The modules imported before the first ``next`` come from
   one more launch per version under ``-X importtime``.
2. Throughput, in this process (the repository's code, not the zip's): 10,000 typical AWS SDK
   spans (``handoff_emit.sdk_span``) through ``XRayDaemonExporter`` to an X-Ray daemon stand-in
   (UDP) and ``OtlpHttpExporter`` to a loopback OTLP/HTTP receiver answering ``200 {}``. Both
   stand-ins run in a child process, so their work does not take this process's GIL. Each
   export is compared with its own conversion and encoding without I/O.
3. Memory and end to end: a launched extension gets an INVOKE while a ``Handoff`` in this
   process (the function's side) emits 10,000 spans as fast as it can, then the end marker;
   then SHUTDOWN. Idle RSS is read at the first ``next``, peak RSS (``VmHWM``) just before
   SHUTDOWN is released, then the time from SHUTDOWN to the exit. The function's side is this
   process, which stays alive: the extension waits its 600 ms for it to exit, as it would for a
   runtime that outlives its SIGTERM, before it exports what is left. End to end runs from
   ``invocation_started`` to the extension's next ``next``: by then every document has been
   sent to the daemon (loopback UDP queues a datagram on ``sendto``); the daemon's count is
   checked after.

The daemon stand-in is Python and parses every datagram, more slowly than the real daemon: a
burst can overflow its socket queue (``net.core.rmem_max`` caps it), so "received" may fall
short of what was sent. Figures are medians (and p90 for starts), never asserted. Needs the
built layer (./build.sh), or ``--layer`` with a folder laid out as /opt.

    .venv/bin/python bench/extension_perf.py [--runs 30] [--spans 10000] [--python 3.12] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from handoff_emit import invocation, sdk_span
from repo import REPO, layer_zip
from sampling import Figures, alternating, percentile
from xraylayer.handoff import Handoff
from xraylayer.spans import Span
from xraylayer.xray_document import subsegment_documents
from xraylayer.xray_udp import datagram
from xraylayer_extension import otlp_json
from xraylayer_extension.otlp_http import MAX_SPANS_PER_REQUEST, OtlpHttpExporter
from xraylayer_extension.xray_export import XRayDaemonExporter
from xraylayer_local.api_server import ApiServer
from xraylayer_local.api_types import ApiResponse, error
from xraylayer_local.extensions_api import Extension, ExtensionsApi, FunctionInfo
from xraylayer_local.layers import merge_layers
from xraylayer_local.runtimes import SUPPORTED_VERSIONS, RuntimeNotFoundError, find_interpreter
from xraylayer_local.telemetry_delivery import SubscriptionInvalid, validate_subscription

BEGAN = time.monotonic()
BUDGET_MS = 40.0
EXTENSION_NAME = "xraylayer"
REQUEST_ID = "r"  # the request id of handoff_emit.invocation()
LAMBDA_PATH = "/usr/local/bin:/usr/bin:/bin"  # Lambda's PATH, after our python3
FUNCTION = FunctionInfo("orders", "$LATEST", "app.handler")
XRAY_BASE = "X-Ray documents, encoded, no I/O"
XRAY_EXPORT = "XRayDaemonExporter to the daemon (UDP)"
OTLP_BASE = "OTLP JSON requests, encoded, no I/O"
OTLP_EXPORT = "OtlpHttpExporter to the receiver"
STAND_INS = """
import http.server, sys, threading
from xraylayer_local.xray_daemon import XRayDaemon

class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass

daemon = XRayDaemon()
daemon.start()
receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
print(daemon.address, receiver.server_address[1], flush=True)
for _ in sys.stdin:
    while True:  # a sync marker sent while the socket queue is full is lost: send another
        try:
            daemon.sync(1)
            break
        except TimeoutError:
            pass
    print(len(daemon.documents), flush=True)
"""

Import = tuple[str, int, int]  # module, cumulative µs, nesting depth (as -X importtime says)


# --- the stand-ins -----------------------------------------------------------------------------


class StandIns:
    """The sandbox's X-Ray daemon stand-in and an OTLP/HTTP receiver, in a child process."""

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-c", STAND_INS], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        daemon, port = self._ask(None).split()
        self.daemon_address = daemon
        self.otlp_endpoint = f"http://127.0.0.1:{port}/v1/traces"

    def documents(self) -> int:
        """Documents the daemon accepted, once it has read every one sent so far."""
        return int(self._ask(b"count\n"))

    def close(self) -> None:
        self._child.stdin.close()  # type: ignore[union-attr]
        self._child.wait(10)

    def _ask(self, line: bytes | None) -> str:
        if line is not None:
            self._child.stdin.write(line)  # type: ignore[union-attr]
            self._child.stdin.flush()  # type: ignore[union-attr]
        return self._child.stdout.readline().decode()  # type: ignore[union-attr]


class TimedExtensionsApi(ExtensionsApi):
    """The sandbox's Extensions API, also noting when ``register`` arrived."""

    registered_at = 0.0

    def register(self, headers: Mapping[str, str], body: bytes) -> ApiResponse:
        self.registered_at = time.monotonic()
        return super().register(headers, body)


class LambdaApi:
    """The sandbox's API server on loopback: a fresh Extensions API for each launch, and the
    Telemetry API's subscribe."""

    runtime = None  # only the Extensions API is called

    def __init__(self) -> None:
        self.extensions = TimedExtensionsApi([EXTENSION_NAME], FUNCTION)
        self._server = ApiServer(lambda: self)

    @property
    def address(self) -> str:
        return self._server.address

    def subscribe_telemetry(self, headers: Mapping[str, str], body: bytes) -> ApiResponse:
        """PUT /2022-07-01/telemetry: checked as the sandbox checks it, then accepted; no
        telemetry is ever delivered here (the extension relies on the function's markers)."""
        try:
            validate_subscription(json.loads(body))
        except (ValueError, SubscriptionInvalid) as problem:
            return error(400, "ValidationError", str(problem))
        return ApiResponse(200, "OK")

    def new_environment(self) -> TimedExtensionsApi:
        self.extensions = TimedExtensionsApi([EXTENSION_NAME], FUNCTION)
        return self.extensions

    def close(self) -> None:
        self._server.close()


@dataclass
class Lab:
    """What every launch needs: the API, the unpacked launcher, the intake path, a scratch
    folder; and the last line each version's extension logged (its counts)."""

    api: LambdaApi
    launcher: Path
    folder: Path
    last_logs: dict[str, str] = field(default_factory=dict)

    @property
    def intake(self) -> str:
        return str(self.folder / "intake.sock")


class ExtensionRun:
    """One start of the shipped launcher, with the environment Lambda gives extensions."""

    def __init__(self, lab: Lab, bindir: Path, output: IO | int = subprocess.DEVNULL) -> None:
        self.api = lab.api.new_environment()
        env = {
            "PATH": f"{bindir}{os.pathsep}{LAMBDA_PATH}",
            "AWS_LAMBDA_RUNTIME_API": lab.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION.function_name,
            "AWS_REGION": "us-east-1",
            "XRAYLAYER_INTAKE": lab.intake,
            "LANG": "C.UTF-8",
        }
        self.shutdown_ms = 0.0
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [str(lab.launcher)], env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )

    def next_call(self, count: int, timeout: float = 30.0) -> float:
        """Monotonic time of the extension's ``count``-th ``event/next`` (waits for it)."""
        give_up = time.monotonic() + timeout

        def in_next(extensions: list[Extension]) -> bool:
            return bool(extensions) and extensions[0].next_calls >= count and extensions[0].waiting

        while not self.api.wait_until(in_next, 0.1):
            if self.process.poll() is not None or time.monotonic() > give_up:
                raise RuntimeError(f"no next #{count} (exit status {self.process.returncode})")
        return self.api.extensions()[0].last_next_at

    def shut_down(self) -> int | None:
        """SHUTDOWN, then wait for the exit (killed after 5 s); the exit status. Sets
        ``shutdown_ms``, SHUTDOWN to exit (Lambda allows 2,000 ms for all extensions)."""
        deadline_ms = int(time.time() * 1000) + 2000
        event = {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": deadline_ms}
        released = time.monotonic()
        self.api.deliver(event)
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        finally:
            self.shutdown_ms = (time.monotonic() - released) * 1000
            self.api.close()

    def kill(self) -> None:
        """SIGKILL, for launches whose shutdown is not measured: with no invocation and no
        Telemetry API delivery here, SHUTDOWN would wait for an init report that never comes."""
        self.process.kill()
        self.process.wait()
        self.api.close()


# --- 1. start ----------------------------------------------------------------------------------


def python_dirs(versions: list[str], folder: Path) -> dict[str, Path]:
    """Per version found, a folder whose ``python3`` is that version's real interpreter."""
    found = {}
    for version in versions:
        try:
            real = find_interpreter(version)
        except RuntimeNotFoundError:
            print(f"Python {version} not found; skipped", file=sys.stderr)
            continue
        bindir = folder / f"python{version}"
        bindir.mkdir()
        (bindir / "python3").symlink_to(real)
        found[version] = bindir
    return found


def exit_ms(command: list[str]) -> float:
    """``Popen`` to exit, in ms."""
    started = time.monotonic()
    subprocess.run(command, stdin=subprocess.DEVNULL, check=True)
    return (time.monotonic() - started) * 1000


def launch_ms(lab: Lab, bindir: Path) -> dict[str, float]:
    """Start to register and start to first next of one launch, in ms."""
    run = ExtensionRun(lab, bindir)
    try:
        first_next = run.next_call(1)
    finally:
        run.kill()
    return {
        "register": (run.api.registered_at - run.started) * 1000,
        "next": (first_next - run.started) * 1000,
    }


def start_once(lab: Lab, bindir: Path) -> dict[str, float]:
    python = str(bindir / "python3")
    return {
        **launch_ms(lab, bindir),
        "plain": exit_ms([python, "-c", "pass"]),
        "isolated": exit_ms([python, "-I", "-S", "-c", "pass"]),
    }


def modules_before_next(lab: Lab, bindir: Path) -> list[Import]:
    """What ``-X importtime`` lists up to the first ``next``, in import order, leaving out what
    the bare interpreter (``-I -S -c pass``) imports too."""
    wrapper = lab.folder / f"importtime-{bindir.name}"
    wrapper.mkdir(exist_ok=True)
    script = wrapper / "python3"
    script.write_text(f'#!/bin/sh\nexec "{(bindir / "python3").resolve()}" -X importtime "$@"\n')
    script.chmod(0o755)
    log = wrapper / "stderr"
    with open(log, "wb") as output:
        run = ExtensionRun(lab, wrapper, output)
        try:
            run.next_call(1)
            size = log.stat().st_size  # it imports nothing more while it waits in next
        finally:
            run.kill()
    bare = subprocess.run(
        [str(script), "-I", "-S", "-c", "pass"], capture_output=True, text=True, check=True
    )
    interpreter = {name for name, _, _ in parse_importtime(bare.stderr)}
    imported = parse_importtime(log.read_bytes()[:size].decode("utf-8", "replace"))
    return [entry for entry in imported if entry[0] not in interpreter]


def parse_importtime(text: str) -> list[Import]:
    """(module, cumulative µs, nesting depth) of each ``-X importtime`` line."""
    found = []
    for line in text.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2  # "| " then two spaces per level
        found.append((name.strip(), int(parts[1]), depth))
    return found


# --- 2. throughput -----------------------------------------------------------------------------


def conversion_cases(stand_ins: StandIns, spans: list[Span]) -> dict[str, Callable[[], int]]:
    """Label -> one pass over ``spans``, returning how many went out (or were converted)."""
    resource = otlp_json.resource_attributes({})
    xray = XRayDaemonExporter(lambda: stand_ins.daemon_address)
    otlp = OtlpHttpExporter({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": stand_ins.otlp_endpoint})

    def xray_documents() -> int:
        return len([datagram(doc) for doc in subsegment_documents(spans, _conversion_failed)])

    def otlp_requests() -> int:
        size = MAX_SPANS_PER_REQUEST  # as the exporter batches them
        for start in range(0, len(spans), size):
            otlp_json.encode(otlp_json.export_request(spans[start : start + size], resource))
        return len(spans)

    def exported(exporter: XRayDaemonExporter | OtlpHttpExporter) -> Callable[[], int]:
        return lambda: exporter.export(spans, time.monotonic() + 60).exported

    return {
        XRAY_BASE: xray_documents,
        XRAY_EXPORT: exported(xray),
        OTLP_BASE: otlp_requests,
        OTLP_EXPORT: exported(otlp),
    }


def _conversion_failed(span: Span, error: Exception) -> None:
    raise error


def throughput(stand_ins: StandIns, count: int, rounds: int) -> dict[str, dict[str, float]]:
    """Per case: median wall and CPU seconds (this thread's) of a pass over ``count`` spans,
    spans that went out in all, and (X-Ray) how many documents the daemon accepted."""
    parent = invocation()
    cases = conversion_cases(stand_ins, [sdk_span(parent) for _ in range(count)])
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in cases}
    out = dict.fromkeys(cases, 0)
    for one_pass in cases.values():  # warm up: lazy imports, the connection, caches
        one_pass()
    at_daemon = stand_ins.documents()
    for round_ in range(rounds):
        order = list(cases.items())
        for label, one_pass in order if round_ % 2 == 0 else reversed(order):
            wall, cpu = time.perf_counter(), time.thread_time()
            out[label] += one_pass()
            times[label].append((time.perf_counter() - wall, time.thread_time() - cpu))
    results = {
        label: {
            "wall": statistics.median(wall for wall, _ in values),
            "cpu": statistics.median(cpu for _, cpu in values),
            "out": out[label],
        }
        for label, values in times.items()
    }
    results[XRAY_EXPORT]["received"] = stand_ins.documents() - at_daemon
    results[OTLP_EXPORT]["received"] = out[OTLP_EXPORT]  # each answered 200 by the receiver
    return results


# --- 3. memory and end to end ------------------------------------------------------------------


def status_kib(pid: int) -> dict[str, int]:
    """The ``Vm*`` lines of ``/proc/<pid>/status``, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Vm"):
            fields[key] = int(value.split()[0])
    return fields


def invoke_event() -> dict[str, Any]:
    return {
        "eventType": "INVOKE",
        "deadlineMs": int(time.time() * 1000) + 60_000,
        "requestId": REQUEST_ID,
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
    }


def hand_over(handoff: Handoff, spans: list[Span], parent: Span) -> None:
    """The function's side of one invocation: start, every span, the end marker."""
    handoff.invocation_started(parent)
    for span in spans:
        handoff.emit(span)
    parent.end()
    handoff.invocation_finished(parent)


def one_invocation(lab: Lab, bindir: Path, stand_ins: StandIns, count: int) -> dict[str, float]:
    """One launch, one invocation of ``count`` spans, SHUTDOWN: what the extension used."""
    parent = invocation()
    spans = [sdk_span(parent) for _ in range(count)]
    handoff = Handoff(lab.intake, environ={"AWS_XRAY_DAEMON_ADDRESS": stand_ins.daemon_address})
    with tempfile.TemporaryFile() as output:
        run = ExtensionRun(lab, bindir, output)
        try:
            run.next_call(1)
            idle = status_kib(run.process.pid)["VmRSS"]
            at_daemon = stand_ins.documents()
            run.api.deliver(invoke_event())
            started = time.monotonic()
            hand_over(handoff, spans, parent)
            finished = run.next_call(2)
            peak = status_kib(run.process.pid)["VmHWM"]
        finally:
            status = run.shut_down()
        output.seek(0)
        lab.last_logs[bindir.name] = output.read().decode("utf-8", "replace").strip()
    stats = handoff.stats()
    return {
        "idle": idle / 1024,
        "peak": peak / 1024,
        "rate": (count + 1) / (finished - started),
        "arrived": stand_ins.documents() - at_daemon,
        "exit": run.shutdown_ms if status == 0 else float("nan"),
        "handed_off": stats["handed_off"],
        "direct": stats["exported"],
        "dropped": sum(stats["dropped"].values()),
    }


# --- the table ---------------------------------------------------------------------------------

Row = tuple[str, Callable[[str], str]]  # label, version -> cell


def start_rows(figures: Figures, modules: dict[str, list[Import]]) -> list[Row]:
    def median(version: str, name: str) -> float:
        return statistics.median(figures[version][name])

    def spread(name: str) -> Callable[[str], str]:
        return lambda v: f"{median(v, name):.1f} / {percentile(figures[v][name], 0.9):.1f}"

    return [
        ("python3 -c pass, to exit (ms)", spread("plain")),
        ("python3 -I -S -c pass, to exit (ms)", spread("isolated")),
        ("start to register (ms)", spread("register")),
        ("start to first next (ms)", spread("next")),
        (
            "first next minus -I -S pass (ms)",
            lambda v: f"{median(v, 'next') - median(v, 'isolated'):+.1f}",
        ),
        (
            f"first next / {BUDGET_MS:.0f} ms budget",
            lambda v: f"x{median(v, 'next') / BUDGET_MS:.2f}",
        ),
        ("modules imported before first next, extra", lambda v: str(len(modules[v]))),
    ]


def memory_rows(figures: Figures) -> list[Row]:
    def cell(name: str, form: str, of: Callable = statistics.median) -> Callable[[str], str]:
        return lambda v: format(of(figures[v][name]), form)

    return [
        ("idle RSS at first next (MiB)", cell("idle", ".1f")),
        ("peak RSS before SHUTDOWN, VmHWM (MiB)", cell("peak", ".1f")),
        ("end to end (spans/s)", cell("rate", ",.0f")),
        ("SHUTDOWN to exit, the function alive (ms)", cell("exit", ".1f")),
        ("spans handed off to the extension, fewest", cell("handed_off", ".0f", min)),
        ("spans the function sent itself, most", cell("direct", ".0f", max)),
        ("spans the function dropped, most", cell("dropped", ".0f", max)),
        ("documents the daemon stand-in kept", cell("arrived", ".0f")),
    ]


def version_table(title: str, versions: list[str], rows: list[Row]) -> list[str]:
    lines = [f"{title:<46}" + "".join(f"{version:>15}" for version in versions)]
    lines += [
        f"  {label:<44}" + "".join(f"{cell(v):>15}" for v in versions) for label, cell in rows
    ]
    return lines


def throughput_table(results: dict[str, dict[str, float]], count: int, rounds: int) -> list[str]:
    title = f"Conversion + export here, {count:,} spans, median of {rounds}"
    lines = [
        f"{title:<46}{'spans/s':>9}{'µs/span':>9}{'CPU µs':>8}{'CPU vs no I/O':>15}"
        f"{'out, all':>10}{'received':>10}"
    ]
    baselines = {XRAY_EXPORT: XRAY_BASE, OTLP_EXPORT: OTLP_BASE}
    for label, figures in results.items():
        wall, cpu = figures["wall"], figures["cpu"]
        ratio = cpu / results[baselines.get(label, label)]["cpu"]
        received = f"{figures['received']:.0f}" if "received" in figures else "-"
        lines.append(
            f"  {label:<44}{count / wall:>9,.0f}{wall / count * 1e6:>9.1f}"
            f"{cpu / count * 1e6:>8.1f}{'x' + format(ratio, '.2f'):>15}"
            f"{figures['out']:>10.0f}{received:>10}"
        )
    return lines


def import_notes(imports: list[Import], version: str) -> list[str]:
    """The extra modules imported before the first next, and the heaviest of them."""
    lazy = sorted((entry for entry in imports if entry[2] == 0), key=lambda entry: -entry[1])
    heaviest = ", ".join(f"{name} {us / 1000:.1f}" for name, us, _ in lazy[:6])
    names = ", ".join(name for name, _, _ in imports)
    return [
        f"\nImported before the first next on Python {version}, beyond -I -S -c pass: {names}",
        f"Heaviest top-level imports there (ms, cumulative, -X importtime): {heaviest}",
    ]


def stale_layer_note(zip_path: Path) -> str:
    """A warning when the layer zip is older than the extension's or the layer's sources."""
    sources = [*REPO.glob("extension/**/*.py"), *REPO.glob("layer/xraylayer/**/*.py")]
    newest = max((path.stat().st_mtime for path in sources), default=0.0)
    if zip_path.is_file() and newest > zip_path.stat().st_mtime:
        return f"note: {zip_path.name} is older than the sources (./build.sh to measure them)\n"
    return ""


# --- running it --------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="launches per Python version")
    parser.add_argument("--spans", type=int, default=10_000, help="spans per export / invoke")
    parser.add_argument("--rounds", type=int, default=5, help="throughput passes per case")
    parser.add_argument("--invocations", type=int, default=3, help="memory runs per version")
    parser.add_argument("--python", action="append", help="a version (repeatable; default all)")
    parser.add_argument(
        "--layer",
        type=Path,
        help="layer zip or folder laid out as /opt (default: dist/'s zip for this machine)",
    )
    parser.add_argument("--quick", action="store_true", help="3 launches, 1 round, 2,000 spans")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.rounds, args.invocations, args.spans = 3, 1, 1, 2_000
    args.layer = args.layer or layer_zip()
    return args


def measure(args: argparse.Namespace, lab: Lab, pythons: dict[str, Path]) -> dict[str, Any]:
    """Every measurement, in the order that keeps them apart (no stand-ins during starts)."""
    progress("starts")
    alternating(pythons, 1, lambda _, bindir: start_once(lab, bindir))  # warm the page cache
    starts = alternating(pythons, args.runs, lambda _, bindir: start_once(lab, bindir))
    modules = {version: modules_before_next(lab, bindir) for version, bindir in pythons.items()}
    stand_ins = StandIns()
    try:
        progress("throughput")
        rates = throughput(stand_ins, args.spans, args.rounds)
        progress("memory")
        memory = alternating(
            pythons,
            args.invocations,
            lambda _, bindir: one_invocation(lab, bindir, stand_ins, args.spans),
        )
    finally:
        stand_ins.close()
    progress("done")
    return {"starts": starts, "modules": modules, "rates": rates, "memory": memory}


def progress(step: str) -> None:
    """``step`` and the seconds since the benchmark started, on stderr."""
    print(f"{time.monotonic() - BEGAN:6.1f} s  {step}", file=sys.stderr)


def table(args: argparse.Namespace, lab: Lab, versions: list[str], results: dict) -> str:
    """The one table, then the imports and the extension's own counts of the last version."""
    last = versions[-1]
    log_lines = lab.last_logs.get(f"python{last}", "").splitlines() or ["(nothing logged)"]
    lines = [
        f"{stale_layer_note(args.layer)}layer {args.layer.name}; start cells: median / p90 "
        f"over {args.runs} launches; ratios to a baseline of the same run",
        *version_table(
            "Extension start, Python",
            versions,
            start_rows(results["starts"], results["modules"]),
        ),
        *version_table(
            f"One invocation of {args.spans:,} spans (median of {args.invocations})",
            versions,
            memory_rows(results["memory"]),
        ),
        *throughput_table(results["rates"], args.spans, args.rounds),
        *import_notes(results["modules"][last], last),
        f"\nThe extension's last log line on Python {last} (its own counts):",
        log_lines[-1],
    ]
    return "\n".join(lines)


def main() -> int:
    args = arguments()
    if not args.layer.exists():
        print(f"{args.layer} not found: run ./build.sh first", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="xl-ext-perf-"))
    api = LambdaApi()
    try:
        opt = merge_layers([args.layer], folder / "opt")
        pythons = python_dirs(args.python or list(SUPPORTED_VERSIONS), folder)
        if not pythons:
            print("no Python interpreter found", file=sys.stderr)
            return 2
        lab = Lab(api, opt / "extensions" / EXTENSION_NAME, folder)
        results = measure(args, lab, pythons)
    finally:
        api.close()
        shutil.rmtree(folder, ignore_errors=True)
    print(table(args, lab, list(pythons), results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
