"""`xraylayer-local`: run a function with a layer in the local Lambda sandbox and show its trace."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from .moto_server import MotoServer
from .results import InvokeResult
from .sandbox import Sandbox
from .trace_tree import render

REPO = Path(__file__).resolve().parents[2]
DEMO_FUNCTION = REPO / "examples" / "hello"
DEMO_EVENT = {"order_id": "o-1001", "items": 3}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xraylayer-local",
        description="Run Python Lambda functions with layers in a local sandbox that follows "
        "the Lambda Runtime, Extensions and Telemetry API contracts, and print their traces.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    invoke = commands.add_parser("invoke", help="invoke a function and print its trace")
    invoke.add_argument("--function", required=True, type=Path, help="the function's folder")
    invoke.add_argument("--handler", required=True, help="module.function, as in Lambda")
    invoke.add_argument("--event", help="JSON event file, or - for standard input")
    invoke.add_argument("--times", type=int, default=1, help="invocations (first is cold)")
    invoke.add_argument("--moto", action="store_true", help="point AWS calls at a moto server")
    invoke.add_argument("--name", default="local-function", help="the function's name")
    _add_sandbox_options(invoke)
    invoke.set_defaults(run=_invoke)

    demo = commands.add_parser("demo", help="run the example function with the built layer")
    _add_sandbox_options(demo, default_layers=[default_layer_zip()])
    demo.set_defaults(run=_demo)
    return parser


def _add_sandbox_options(
    parser: argparse.ArgumentParser, default_layers: list[Path] | None = None
) -> None:
    parser.add_argument(
        "--layer",
        action="append",
        type=Path,
        default=default_layers,
        help="layer zip or folder (repeat for several; later ones win, as in Lambda)",
    )
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--python", help="Python version, e.g. 3.12 (default: this one)")
    parser.add_argument("--tracing", choices=["Active", "PassThrough"], default="Active")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds")
    parser.add_argument("--memory", type=int, default=128, help="MB")
    parser.add_argument("--no-freeze", action="store_true", help="keep processes running idle")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto")


def default_layer_zip() -> Path:
    """The built zip for this machine's architecture."""
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    return REPO / "dist" / f"xraylayer-python-{arch}.zip"


def _invoke(args: argparse.Namespace) -> int:
    event = _read_event(args.event)
    return _run(
        args,
        args.function,
        args.handler,
        [event] * args.times,
        use_moto=args.moto,
        name=args.name,
    )


def _demo(args: argparse.Namespace) -> int:
    missing = [layer for layer in args.layer if not layer.exists()]
    if missing:
        print(f"xraylayer-local: {missing[0]} not found; run ./build.sh first", file=sys.stderr)
        return 2
    args.env.append("AWS_LAMBDA_EXEC_WRAPPER=/opt/xray-instrument")
    return _run(
        args, DEMO_FUNCTION, "app.handler", [DEMO_EVENT, DEMO_EVENT], use_moto=True, name="orders"
    )


def _run(
    args: argparse.Namespace,
    function: Path,
    handler: str,
    events: list[object],
    *,
    use_moto: bool,
    name: str = "local-function",
) -> int:
    env = dict(item.split("=", 1) for item in args.env)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    moto = MotoServer().start() if use_moto else None
    try:
        if moto is not None:
            env = {**moto.env(), **env}
        with Sandbox(
            function,
            handler,
            layers=args.layer or [],
            env=env,
            python=args.python,
            tracing=args.tracing,
            timeout_s=args.timeout,
            memory_mb=args.memory,
            freeze=not args.no_freeze,
            function_name=name,
            log_sink=lambda source, line: print(f"  {source}| {line}", file=sys.stderr),
        ) as sandbox:
            results = [sandbox.invoke(event) for event in events]
    finally:
        if moto is not None:
            moto.stop()
    for result in results:
        print(_describe(result, color))
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


if __name__ == "__main__":
    sys.exit(main())
