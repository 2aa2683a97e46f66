"""The file exporter: whole lines, one X-Ray document each, whatever else writes the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_xray_trace_documents import Exploding, child, invocation
from xraylayer import xray_document
from xraylayer.spans import Span
from xraylayer_extension import jsonl_file
from xraylayer_extension.export_result import ExportResult
from xraylayer_extension.jsonl_file import JsonLinesFileExporter

ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = f"{ROOT / 'layer'}:{ROOT / 'extension'}:{ROOT / 'tests' / 'extension'}"


def trace(children: int = 2, *, sampled: bool = False) -> list[Span]:
    """An invocation's spans, children first as they finish."""
    root = invocation(sampled=sampled)
    return [*(child(root, f"work{i}") for i in range(children)), root]


def soon() -> float:
    return time.monotonic() + 10


def read_documents(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_each_span_becomes_one_line_holding_its_x_ray_document(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    spans = trace(2)
    result = JsonLinesFileExporter(str(path)).export(spans, soon())
    assert result == ExportResult(exported=3, attempts=1)
    assert path.read_bytes().endswith(b"\n")
    documents = read_documents(path)
    assert [d["id"] for d in documents] == [s.span_id for s in spans]
    assert documents[-1]["origin"] == xray_document.ORIGIN_FUNCTION  # unsampled: a segment
    assert [d.get("parent_id") for d in documents] == [spans[-1].span_id] * 2 + [None]


def test_many_batches_are_appended_in_order(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b'{"already": "there"}\n')
    exporter = JsonLinesFileExporter(str(path))
    sent = []
    for _ in range(40):
        spans = trace(3, sampled=True)
        assert exporter.export(spans, soon()) == ExportResult(exported=4, attempts=1)
        sent.extend(span.span_id for span in spans)
    documents = read_documents(path)
    assert documents[0] == {"already": "there"}
    assert [d["id"] for d in documents[1:]] == sent


def test_the_path_comes_from_xraylayer_file_then_the_default(tmp_path: Path) -> None:
    path = tmp_path / "from-env.jsonl"
    exporter = JsonLinesFileExporter(environ={"XRAYLAYER_FILE": f" {path} "})
    assert exporter.export(trace(1), soon()).exported == 2
    assert len(read_documents(path)) == 2
    assert JsonLinesFileExporter(environ={"XRAYLAYER_FILE": " "}).path == jsonl_file.DEFAULT_PATH
    assert JsonLinesFileExporter(environ={}).path == "/tmp/xraylayer-traces.jsonl"
    chosen = JsonLinesFileExporter("/x.jsonl", environ={"XRAYLAYER_FILE": str(path)})
    assert chosen.path == "/x.jsonl"


@pytest.mark.parametrize("where", ["missing-folder/traces.jsonl", "."])
def test_a_file_that_cannot_be_written_drops_the_spans_and_logs_once(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exporter = JsonLinesFileExporter(str(tmp_path / where))
    first = exporter.export(trace(2), soon())
    second = exporter.export(trace(1), soon())
    assert (first.exported, first.dropped) == (0, {"file_error": 3})
    assert (second.exported, second.dropped) == (0, {"file_error": 2})
    assert "Error" in (first.message or "")
    logged = capsys.readouterr().err.splitlines()
    assert len(logged) == 1
    assert logged[0].startswith("xraylayer: WARNING cannot append traces to ")


def test_a_span_that_cannot_be_converted_is_dropped_and_the_rest_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "traces.jsonl"
    spans = trace(2)
    spans[0].attributes = Exploding()
    result = JsonLinesFileExporter(str(path)).export(spans, soon())
    assert (result.exported, result.dropped) == (2, {"conversion_failed": 1})
    assert len(read_documents(path)) == 2


def test_after_the_deadline_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    result = JsonLinesFileExporter(str(path)).export(trace(2), time.monotonic() - 1)
    assert result == ExportResult(dropped={"deadline": 3})
    assert not path.exists()


def test_nothing_to_write_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    assert JsonLinesFileExporter(str(path)).export([], soon()) == ExportResult()
    assert not path.exists()


def test_export_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xraylayer_extension import xray_trace_documents

    def broken(*args: object) -> list[dict]:
        raise RuntimeError("bug")

    monkeypatch.setattr(xray_trace_documents, "trace_documents", broken)
    exporter = JsonLinesFileExporter(str(tmp_path / "t.jsonl"))
    assert exporter.export(trace(2), soon()) == ExportResult(dropped={"internal_error": 3})

    def unreadable() -> Iterator[Span]:
        yield from trace(1)
        raise RuntimeError("iteration failed")

    assert exporter.export(unreadable(), soon()) == ExportResult()


# --- several writers, short writes -------------------------------------------------------------

WRITER = """
import sys, time
from test_jsonl_file import trace
from xraylayer_extension.jsonl_file import JsonLinesFileExporter

exporter = JsonLinesFileExporter(sys.argv[1])
for _ in range(int(sys.argv[2])):
    spans = trace(20)
    for span in spans:
        span.metadata["padding"] = {"text": "x" * 3000}  # batches of ~70 kB: many pages
    assert exporter.export(spans, time.monotonic() + 30).exported == len(spans)
"""


def test_writers_in_several_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    environ = {**os.environ, "PYTHONPATH": PYTHONPATH}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), "25"], env=environ)
        for _ in range(4)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    documents = read_documents(path)  # every line parses: none torn, none interleaved
    assert len(documents) == 4 * 25 * 21
    assert len({d["id"] for d in documents}) == len(documents)


SHORT_WRITE = """
import json, resource, signal, sys, time
from test_jsonl_file import trace
from xraylayer.xray_document import encode
from xraylayer_extension.jsonl_file import JsonLinesFileExporter
from xraylayer_extension.xray_trace_documents import trace_documents

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
spans = trace(2)
first, second, _ = (len(encode(d)) + 1 for d in trace_documents(spans, print))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (first + second // 2, hard))
exporter = JsonLinesFileExporter(sys.argv[1])
results = [exporter.export(spans, time.monotonic() + 30)]  # stops inside the second line
results.append(exporter.export(spans, time.monotonic() + 30))  # the file is at its limit
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
results.append(exporter.export(spans, time.monotonic() + 30))
print(json.dumps([[r.exported, r.dropped] for r in results]))
"""


def test_a_short_write_counts_complete_lines_and_the_next_batch_starts_a_new_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "limited.jsonl"
    output = subprocess.run(
        [sys.executable, "-c", SHORT_WRITE, str(path)],
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    results = json.loads(output.stdout)
    assert results == [[1, {"file_error": 2}], [0, {"file_error": 3}], [3, {}]]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # the file ends with a complete line
    json.loads(lines[0])
    with pytest.raises(ValueError):
        json.loads(lines[1])  # the torn line stands alone ...
    assert [json.loads(line)["name"] for line in lines[2:-1]] == ["work0", "work1", "orders"]
    assert "xraylayer: WARNING cannot append traces to" in output.stderr


def test_importing_and_making_the_exporter_loads_no_conversion() -> None:
    code = (
        "import sys\n"
        "from xraylayer_extension.jsonl_file import JsonLinesFileExporter\n"
        "JsonLinesFileExporter(environ={}).path\n"
        "heavy = {'json', 'xraylayer.xray_document', 'xraylayer_extension.xray_trace_documents'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    output = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert output.strip() == "[]"
