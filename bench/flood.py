"""The span flood: 100,000 spans in one invocation, and what they cost in memory and time.

One function (``bench/flood_function/flood_app.py``) makes ``--spans`` custom subsegments in one
invocation, in the local sandbox from the built layer, with the ``file`` exporter and the
extension's accounting on. The same function then runs without the layer in the same session
(``capture`` is a no-op there), the baseline for the ratios. Per configuration: a cold start
with 10 spans, the flood, one more small invocation (the environment is still healthy after
it), then SHUTDOWN.

Figures:

- memory: the function's and the extension's peak resident memory (``VmHWM``) before and after
  the flood. Both sides are bounded by design: the function keeps at most 2,048 spans waiting
  for the extension, and the extension holds at most 10,000 (beyond that it counts them as
  ``intake_full`` drops); without those bounds 100,000 spans would take hundreds of MiB.
- time: the loop's time and its cost per span, against the same loop without the layer; and the
  wrapper's time from the handler's return to the response (the end of the hand-off, whose wait
  for a busy extension is bounded by ``END_PATIENCE_S``), from the sandbox's own timestamps.
- books: every span made is handed to the extension, exported by the function itself, or
  dropped with a reason, and the extension accounts for every span it received.

    .venv/bin/python bench/flood.py                    # 100,000 spans
    .venv/bin/python bench/flood.py --spans 20000 --json build/flood.json

The last line printed is ``RESULT {json}`` (tests/reliability/test_flood.py reads it). Nothing
here is asserted in the test suite but the books and the memory bounds; times are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_usage import peak_rss_mib
from repo import REPO, layer_zip
from xraylayer_extension.invocations import LOST_AFTER_RECEIPT

FUNCTION_DIR = REPO / "bench" / "flood_function"
HANDLER = "flood_app.handler"
SMALL = 10
MEMORY_MB = 1024
TIMEOUT_S = 120.0


def _peak_mib(sandbox: Any) -> dict[str, float]:
    """The function's and the extension's peak resident memory so far (``VmHWM``)."""
    figures = peak_rss_mib(sandbox)
    return {
        "function": round(figures["function_rss"], 1),
        "extension": round(figures.get("extension_rss", 0.0), 1),
    }


def _configuration(spans: int, layer: Path | None, work: Path) -> dict[str, Any]:
    """One configuration's cold start, flood, follow-up and SHUTDOWN, and its figures."""
    from xraylayer_local import Sandbox

    env: dict[str, str] = {}
    layers: list[Path] = []
    if layer is not None:
        layers = [layer]
        env = {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument",
            "XRAYLAYER_EXPORTERS": "file",
            "XRAYLAYER_FILE": str(work / "traces.jsonl"),
            "XRAYLAYER_ACCOUNTING": str(work / "accounting.json"),
        }
    sandbox = Sandbox(
        FUNCTION_DIR,
        HANDLER,
        layers=layers,
        env=env,
        tracing="Active",
        timeout_s=TIMEOUT_S,
        memory_mb=MEMORY_MB,
    )
    try:
        cold = sandbox.invoke({"spans": SMALL})
        before = _peak_mib(sandbox)
        flood = sandbox.invoke({"spans": spans})
        after = _peak_mib(sandbox)
        follow_up = sandbox.invoke({"spans": SMALL})
    finally:
        ended = sandbox.shutdown()
    results = [cold, flood, follow_up]
    responses = [result.response for result in results]
    handler_ms = responses[1]["loop_s"] * 1000
    figures: dict[str, Any] = {
        "outcomes": [result.status for result in results],
        "peak_rss_mib_before": before,
        "peak_rss_mib_after": after,
        "loop_ms": round(handler_ms, 1),
        "loop_us_per_span": round(handler_ms * 1000 / spans, 2),
        "after_handler_ms": round(results[1].duration_ms - handler_ms, 1),
        "post_runtime_ms": round(results[1].post_runtime_ms, 1),
        "extension_exit_codes": ended.extension_exit_codes,
    }
    if layer is not None:
        figures.update(_books(responses[-1]["stats"], work))
    return figures


def _books(stats: dict[str, Any], work: Path) -> dict[str, Any]:
    """Every span of the process, from both sides. ``stats`` is the handoff's at the last
    handler's return: its own invocation span is made just after."""
    made = stats["made"] + 1
    accounting = json.loads((work / "accounting.json").read_text())
    lost = accounting.get("lost", {})
    after_receipt = sum(lost.get(reason, 0) for reason in LOST_AFTER_RECEIPT)
    counted = accounting["received"] - after_receipt + accounting["function_exported"]
    counted += sum(lost.values())
    exporter = accounting["exporters"]["file"]
    given = exporter["exported"] + exporter["rejected"] + sum(exporter["dropped"].values())
    with (work / "traces.jsonl").open(encoding="utf-8") as file:
        lines = sum(1 for _ in file)
    return {
        "made": made,
        "function_dropped": stats["dropped"],
        "received": accounting["received"],
        "lost": lost,
        "file_exported": exporter["exported"],
        "file_dropped": exporter["dropped"],
        "file_lines": lines,
        "unaccounted": made - counted,
        "exporter_unaccounted": accounting["received"]
        - after_receipt
        + accounting["closed_by_extension"]
        - given,
    }


def run(spans: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="xl-flood-", dir="/tmp"))
    try:
        plain = _configuration(spans, None, work)
        layered = _configuration(spans, layer_zip(), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "spans": spans,
        "without_layer": plain,
        "with_layer": layered,
        "function_memory_ratio": round(
            layered["peak_rss_mib_after"]["function"] / plain["peak_rss_mib_after"]["function"], 2
        ),
    }


def print_report(summary: dict[str, Any]) -> None:
    plain, layered = summary["without_layer"], summary["with_layer"]
    print(f"{summary['spans']:,} spans in one invocation")
    print(f"{'':34}{'without layer':>16}{'with layer':>16}")
    rows = [
        ("function peak RSS before, MiB", "peak_rss_mib_before", "function"),
        ("function peak RSS after, MiB", "peak_rss_mib_after", "function"),
        ("extension peak RSS before, MiB", "peak_rss_mib_before", "extension"),
        ("extension peak RSS after, MiB", "peak_rss_mib_after", "extension"),
    ]
    for label, key, side in rows:
        print(f"{label:34}{plain[key][side]:>16}{layered[key][side]:>16}")
    for label, key in [
        ("loop, ms", "loop_ms"),
        ("per span, us", "loop_us_per_span"),
        ("handler return to response, ms", "after_handler_ms"),
        ("after the response (billed), ms", "post_runtime_ms"),
    ]:
        print(f"{label:34}{plain[key]:>16}{layered[key]:>16}")
    print(f"outcomes: without {plain['outcomes']}, with {layered['outcomes']}")
    print(
        f"books: made {layered['made']:,}; function dropped {layered['function_dropped']}; "
        f"extension received {layered['received']:,}, lost {layered['lost']}; file exported "
        f"{layered['file_exported']:,} ({layered['file_lines']:,} lines), dropped "
        f"{layered['file_dropped']}; unaccounted {layered['unaccounted']}, exporter "
        f"unaccounted {layered['exporter_unaccounted']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    summary = run(args.spans)
    print_report(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    print("RESULT " + json.dumps(summary))
    layered = summary["with_layer"]
    return 0 if layered["unaccounted"] == 0 and layered["exporter_unaccounted"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
