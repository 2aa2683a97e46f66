"""Loading saved documents: JSON lines or an array, malformed lines skipped and counted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from xraylayer_local.views import load
from xraylayer_local.views.documents import parse

DOCUMENT = {"id": "a", "trace_id": "1-00000001-x", "name": "n", "start_time": 1, "end_time": 2}


def test_json_lines_with_malformed_lines_skipped_and_counted(tmp_path: Path, caplog):
    path = tmp_path / "traces.jsonl"
    lines = [json.dumps(DOCUMENT), "{not json", "", "42", json.dumps({**DOCUMENT, "id": "b"})]
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        documents = load(path)
    assert [d["id"] for d in documents] == ["a", "b"]
    assert "skipped 2 malformed lines" in caplog.text


def test_a_json_array(tmp_path: Path):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps([DOCUMENT, "junk", {**DOCUMENT, "id": "b"}], indent=2))
    loaded = parse(path.read_text())
    assert [d["id"] for d in loaded.documents] == ["a", "b"]
    assert loaded.skipped == 1


def test_daemon_headers_are_not_documents_nor_errors():
    content = '{"format":"json","version":1}\n' + json.dumps(DOCUMENT) + "\n"
    loaded = parse(content)
    assert loaded.documents == [DOCUMENT] and loaded.skipped == 0


def test_a_first_line_that_looks_like_an_array_but_is_json_lines():
    loaded = parse("[1, 2\n" + json.dumps(DOCUMENT))
    assert loaded.documents == [DOCUMENT] and loaded.skipped == 1


def test_an_empty_file(tmp_path: Path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert load(path) == []
