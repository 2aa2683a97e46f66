"""`xraylayer-local`: run functions with a layer in the local Lambda sandbox and show their traces.

- ``invoke``: one function, its responses and trace trees; ``--view`` adds the three views
  (timeline, service map, response-time distribution) of everything collected.
- ``demo``: the orders application (examples/orders) with the built layer, then the views in the
  terminal and as an HTML page.
- ``view``: the views of a saved JSON-lines file of X-Ray documents.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import demo, publish, views
from .moto_server import MotoServer
from .results import InvokeResult
from .sandbox import Sandbox
from .trace_tree import render

REPO = Path(__file__).resolve().parents[2]
DEMO_OUT = REPO / "build" / "demo"
TRACES_FILE = "traces.jsonl"
REPORT_FILE = "report.html"
DEMO_PATHS = (
    "slow: a large order, screened thoroughly (the screen-order subsegment)",
    "fault: the payment service fails (500), the API answers 502",
    "throttle: the payment service rate-limits (429), the API answers 429",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xraylayer-local",
        description="Run Python Lambda functions with layers in a local sandbox that follows "
        "the Lambda Runtime, Extensions and Telemetry API contracts, and show their traces.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    invoke = commands.add_parser("invoke", help="invoke a function and print its trace")
    invoke.add_argument("--function", required=True, type=Path, help="the function's folder")
    invoke.add_argument("--handler", required=True, help="module.function, as in Lambda")
    invoke.add_argument("--event", help="JSON event file, or - for standard input")
    invoke.add_argument("--times", type=int, default=1, help="invocations (first is cold)")
    invoke.add_argument("--moto", action="store_true", help="point AWS calls at a moto server")
    invoke.add_argument("--name", default="local-function", help="the function's name")
    invoke.add_argument(
        "--view",
        action="store_true",
        help="after the invokes, show the timeline, service map and response-time distribution",
    )
    invoke.add_argument(
        "--save", type=Path, help="write the trace documents to this JSON-lines file"
    )
    invoke.add_argument("--html", type=Path, help="write the views as an HTML page to this file")
    _add_sandbox_options(invoke)
    _add_view_options(invoke)
    invoke.set_defaults(run=_invoke)

    run_demo = commands.add_parser(
        "demo", help="run the orders demo (examples/orders) with the built layer and show the views"
    )
    run_demo.add_argument(
        "--requests",
        type=int,
        default=demo.DEFAULT_REQUESTS,
        help=f"API requests to send (default {demo.DEFAULT_REQUESTS})",
    )
    run_demo.add_argument(
        "--out",
        type=Path,
        default=DEMO_OUT,
        help=f"folder for {TRACES_FILE} and {REPORT_FILE} (default build/demo)",
    )
    run_demo.add_argument(
        "--layer",
        action="append",
        type=Path,
        help="layer zip or folder (default: the built zip for this machine)",
    )
    run_demo.add_argument("--env", action="append", default=[], help="KEY=VALUE for both functions")
    run_demo.add_argument("--python", help="Python version, e.g. 3.12 (default: this one)")
    run_demo.add_argument("--no-freeze", action="store_true", help="keep processes running idle")
    run_demo.add_argument("--logs", action="store_true", help="print the functions' log lines")
    _add_view_options(run_demo)
    run_demo.set_defaults(run=_demo)

    view = commands.add_parser("view", help="show the views of a saved JSON-lines trace file")
    view.add_argument("file", type=Path, help="X-Ray documents, one JSON object per line")
    view.add_argument("--html", type=Path, help="also write the views as an HTML page here")
    _add_view_options(view)
    view.set_defaults(run=_view)

    release = commands.add_parser(
        "publish", help="publish the built layer zips with PublishLayerVersion; print the ARNs"
    )
    release.add_argument(
        "--region", action="append", help="a region to publish in (repeatable; default: boto3's)"
    )
    release.add_argument("--dist", type=Path, default=REPO / "dist", help="where the zips are")
    release.add_argument("--prefix", default=publish.DEFAULT_PREFIX, help="layer name prefix")
    release.add_argument("--endpoint-url", help="another Lambda endpoint (a local emulator)")
    release.set_defaults(run=_publish)
    return parser


def _add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layer",
        action="append",
        type=Path,
        help="layer zip or folder (repeat for several; later ones win, as in Lambda)",
    )
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--python", help="Python version, e.g. 3.12 (default: this one)")
    parser.add_argument("--tracing", choices=["Active", "PassThrough"], default="Active")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds")
    parser.add_argument("--memory", type=int, default=128, help="MB")
    parser.add_argument("--no-freeze", action="store_true", help="keep processes running idle")


def _add_view_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    parser.add_argument(
        "--width", type=int, help="columns for the terminal views (default: the terminal's)"
    )


def default_layer_zip() -> Path:
    """The built zip for this machine's architecture."""
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    return REPO / "dist" / f"xraylayer-python-{arch}.zip"


# --- invoke -------------------------------------------------------------------------------------


def _invoke(args: argparse.Namespace) -> int:
    event = _read_event(args.event)
    env = _env_pairs(args.env)
    color = _color(args)
    moto = MotoServer().start() if args.moto else None
    try:
        if moto is not None:
            env = {**moto.env(), **env}
        sandbox = Sandbox(
            args.function,
            args.handler,
            layers=args.layer or [],
            env=env,
            python=args.python,
            tracing=args.tracing,
            timeout_s=args.timeout,
            memory_mb=args.memory,
            freeze=not args.no_freeze,
            function_name=args.name,
            region=moto.region if moto is not None else "us-east-1",
            log_sink=_stderr_log,
        )
        with sandbox:
            results = [sandbox.invoke(event) for _ in range(args.times)]
    finally:
        if moto is not None:
            moto.stop()
    for result in results:
        print(_describe(result, color))
    # Everything the daemon got, what the extension exported at shutdown included.
    documents = sandbox.daemon.documents
    if args.save is not None:
        demo.save(documents, args.save)
        print(f"\n{len(documents)} trace documents: {args.save}")
    if args.view or args.html is not None:
        title = f"xraylayer: {args.name}, {len(results)} invocations"
        _show(documents, args, title=title, html=args.html, terminal=args.view)
    return 0 if all(result.status == "success" for result in results) else 1


def _describe(result: InvokeResult, color: bool) -> str:
    start = "cold start" if result.cold else "warm"
    lines = [
        f"== {result.request_id} ({start}) status={result.status}",
        f"   duration {result.duration_ms:.1f} ms, after response {result.post_runtime_ms:.1f} ms"
        + (f", init {result.init_duration_ms:.1f} ms" if result.init_duration_ms else "")
        + f", max memory {result.max_memory_used_mb} MB",
    ]
    if result.error is not None:
        lines.append("   error: " + json.dumps(result.error))
    else:
        lines.append("   response: " + (result.payload or b"").decode("utf-8", "replace"))
    tree = render(result.segments, color=color) if result.segments else "(no trace documents)"
    lines.extend("   " + line for line in tree.splitlines())
    return "\n".join(lines)


def _read_event(source: str | None) -> object:
    if source is None:
        return {}
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    return json.loads(text)


# --- demo ---------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    layers = args.layer or [default_layer_zip()]
    missing = [layer for layer in layers if not layer.exists()]
    if missing:
        print(f"xraylayer-local: {missing[0]} not found; run ./build.sh first", file=sys.stderr)
        return 2
    if args.requests < 1:
        print("xraylayer-local: --requests must be at least 1", file=sys.stderr)
        return 2
    print(f"Orders demo ({demo.EXAMPLE}), {args.requests} requests")
    print(f"  layer: {', '.join(map(str, layers))}")
    for line in DEMO_PATHS:
        print(f"  {line}")
    run = demo.run(
        layers,
        requests=args.requests,
        python=args.python,
        freeze=not args.no_freeze,
        env=_env_pairs(args.env),
        log_sink=_stderr_log if args.logs else None,
        progress=lambda line: print(line, flush=True),
    )
    traces = demo.save(run.documents, args.out / TRACES_FILE)
    print()
    title = f"xraylayer demo: orders API, {args.requests} requests"
    _show(run.documents, args, title=title, html=args.out / REPORT_FILE, terminal=True)
    print(f"{len(run.documents)} trace documents: {traces}")
    crashed = [
        result
        for result in [request.result for request in run.requests] + run.receipts
        if result.status != "success"
    ]
    for result in crashed:
        print(f"xraylayer-local: invoke {result.request_id} ended {result.status}: {result.error}")
    return 1 if crashed else 0


# --- view ---------------------------------------------------------------------------------------


def _publish(args: argparse.Namespace) -> int:
    import boto3

    zips = {
        arch: args.dist / f"{publish.DEFAULT_PREFIX}-{arch}.zip" for arch in publish.ARCHITECTURES
    }
    missing = [str(path) for path in zips.values() if not path.is_file()]
    if missing:
        print(f"xraylayer-local: no layer zip at {', '.join(missing)}: run ./build.sh first")
        return 2
    regions = args.region or [boto3.session.Session().region_name or "us-east-1"]
    from xraylayer import __version__

    published = publish.publish(
        zips,
        regions,
        version=__version__,
        prefix=args.prefix,
        client=lambda region: boto3.client(
            "lambda", region_name=region, endpoint_url=args.endpoint_url
        ),
    )
    for layer in published:
        print(f"{layer.region}  {layer.architecture:<7} {layer.layer_version_arn}")
    return 0


def _view(args: argparse.Namespace) -> int:
    try:
        documents = views.load(args.file)
    except OSError as error:
        print(f"xraylayer-local: cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    _show(documents, args, title=f"xraylayer: {args.file.name}", html=args.html, terminal=True)
    return 0


def _show(
    documents: list[dict[str, Any]],
    args: argparse.Namespace,
    *,
    title: str,
    html: Path | None,
    terminal: bool,
) -> None:
    """The terminal views on stdout, and the HTML page written to ``html`` (its path printed)."""
    if terminal:
        width = args.width or shutil.get_terminal_size((100, 24)).columns
        print(views.terminal(documents, color=_color(args), width=width))
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(views.html(documents, title=title), encoding="utf-8")
        print(f"HTML report (timeline, service map, response times): {html}")


# --- shared -------------------------------------------------------------------------------------


def _color(args: argparse.Namespace) -> bool:
    return args.color == "always" or (args.color == "auto" and sys.stdout.isatty())


def _env_pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise SystemExit(f"xraylayer-local: --env takes KEY=VALUE, not {item!r}")
        pairs[key] = value
    return pairs


def _stderr_log(source: str, line: str) -> None:
    print(f"  {source}| {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
