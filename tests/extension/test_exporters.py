"""Which exporters run (``XRAYLAYER_EXPORTERS``), and the accounting of one flush across them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from xraylayer.spans import Span
from xraylayer_extension.export_result import ExportResult
from xraylayer_extension.exporters import Exporters, chosen, fair_share
from xraylayer_local.xray_daemon import XRayDaemon

TRACE = "5759e988bd862e3fe1be46a994272793"


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, ("xray-daemon",)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ("xray-daemon", "otlp")),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces"}, ("xray-daemon", "otlp")),
        ({"XRAYLAYER_EXPORTERS": "otlp-udp"}, ("otlp-udp",)),
        ({"XRAYLAYER_EXPORTERS": " Xray , file,xray-daemon "}, ("xray-daemon", "file")),
        ({"XRAYLAYER_EXPORTERS": "xray-api,otlp-http"}, ("xray-api", "otlp")),
        ({"XRAYLAYER_EXPORTERS": "none"}, ()),
    ],
)
def test_the_exporters_chosen(environ: dict[str, str], names: tuple[str, ...]) -> None:
    assert chosen(environ) == (names, None)


def test_unknown_names_are_named_in_one_warning_and_left_out() -> None:
    names, warning = chosen({"XRAYLAYER_EXPORTERS": "otlp,zipkin"})
    assert names == ("otlp",)
    assert warning == (
        "xraylayer: XRAYLAYER_EXPORTERS='otlp,zipkin': unknown zipkin (expected xray-daemon, "
        "xray-api, otlp, otlp-udp, file or none); using otlp"
    )


def test_nothing_usable_falls_back_to_the_default() -> None:
    names, warning = chosen({"XRAYLAYER_EXPORTERS": "jaeger"})
    assert names == ("xray-daemon",)
    assert warning is not None and warning.endswith("using xray-daemon")


def test_every_span_is_accounted_for_per_exporter(tmp_path: Path) -> None:
    sampled = Span("orders", TRACE)
    sampled.end()
    unsampled = Span("quiet", "0af7651916cd43dd8448eb211c80319c", sampled=False)
    unsampled.end()
    environ = {
        "XRAYLAYER_EXPORTERS": "xray-daemon,file",
        "XRAYLAYER_FILE": str(tmp_path / "traces.jsonl"),
        "OTEL_TRACES_SAMPLER": "always_on",
    }
    with XRayDaemon() as daemon:
        exporters = Exporters(lambda: daemon.address, environ)
        exporters.export([sampled, unsampled], time.monotonic() + 1)
        daemon.sync()
        assert [d["name"] for d in daemon.documents] == ["orders"]
    lines = (tmp_path / "traces.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["name"] for line in lines) == ["orders", "quiet"]
    accounts = exporters.accounting.document({"received": 2})
    assert accounts["exporters"] == {
        "xray-daemon": {"exported": 1, "rejected": 0, "dropped": {"not_sampled": 1}},
        "file": {"exported": 2, "rejected": 0, "dropped": {}},
    }
    assert exporters.accounting.summary() == (
        "xray-daemon exported 1, dropped 1 (not_sampled: 1); file exported 2, dropped 0 (none)"
    )


def test_exporters_that_never_wait_go_first_and_waiting_ones_share_the_time_left() -> None:
    """A dead collector named first must not cost the exporters after it their spans: the
    UDP and file exporters go first, and each HTTP one gets an equal share of what is left."""
    span = Span("orders", TRACE)
    span.end()
    environ = {"XRAYLAYER_EXPORTERS": "otlp,xray-api,file,xray-daemon"}
    exporters = Exporters(lambda: None, environ)
    calls: list[tuple[str, float]] = []

    def stand_in(name: str) -> object:
        def export(spans: list[Span], deadline: float) -> ExportResult:
            calls.append((name, deadline))
            return ExportResult(exported=len(spans))

        return export

    for name in exporters.names:
        exporters._made[name] = stand_in(name)
    start = time.monotonic()
    exporters.export([span], start + 1.0)
    assert [name for name, _ in calls] == ["file", "xray-daemon", "otlp", "xray-api"]
    deadlines = dict(calls)
    assert deadlines["file"] == deadlines["xray-daemon"] == start + 1.0
    assert start + 0.49 < deadlines["otlp"] < start + 0.51  # its half, not the whole second
    assert deadlines["xray-api"] == pytest.approx(start + 1.0)  # the last has all that is left


@pytest.mark.parametrize(
    ("now", "deadline", "waiting", "expected"),
    [(0.0, 1.0, 2, 0.5), (0.0, 1.0, 1, 1.0), (0.5, 1.0, 2, 0.75), (2.0, 1.0, 2, 2.0)],
)
def test_fair_share(now: float, deadline: float, waiting: int, expected: float) -> None:
    assert fair_share(now, deadline, waiting) == expected


def test_the_accounting_file_is_replaced_whole(tmp_path: Path) -> None:
    exporters = Exporters(lambda: None, {"XRAYLAYER_EXPORTERS": "xray-daemon"})
    path = tmp_path / "accounting.json"
    exporters.accounting.write(str(path), {"received": 0})
    exporters.accounting.write(str(path), {"received": 5})
    assert json.loads(path.read_text())["received"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["accounting.json"]


def test_the_extensions_variables_are_the_ones_the_configuration_table_lists() -> None:
    from xraylayer import config
    from xraylayer_extension import (
        accounting,
        exporters,
        flush_policy,
        jsonl_file,
        tail_keep,
        trace_sampler,
    )

    assert [
        config.EXPORTERS.name,
        config.FLUSH.name,
        config.FILE.name,
        config.ACCOUNTING.name,
        config.TRACES_SAMPLER.name,
        config.TRACES_SAMPLER_ARG.name,
        config.TAIL_KEEP.name,
        config.TAIL_KEEP_SLOW_MS.name,
    ] == [
        exporters.EXPORTERS_VARIABLE,
        flush_policy.ENV_VAR,
        jsonl_file.PATH_VARIABLE,
        accounting.ACCOUNTING_VARIABLE,
        trace_sampler.SAMPLER_ENV,
        trace_sampler.ARG_ENV,
        tail_keep.ENABLED_ENV,
        tail_keep.SLOW_MS_ENV,
    ]
    assert config.FILE.default == jsonl_file.DEFAULT_PATH
    assert trace_sampler.DEFAULT_SAMPLER.name == config.TRACES_SAMPLER.default
    assert config.TAIL_KEEP_SLOW_MS.default == tail_keep.DEFAULT_SLOW_MS
