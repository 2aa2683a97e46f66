"""Reading saved X-Ray documents: the file exporter's JSON lines, or one JSON array.

A saved file is read to look at a trace, so one bad line must not hide the rest: malformed
lines (not JSON, or JSON that is not an object) are skipped, counted, and the count reported.
Lines holding the daemon's datagram header (``{"format":"json","version":1}``), as a capture of
raw datagrams has them, are not documents and are passed over without complaint.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)
DAEMON_HEADER_KEYS = frozenset({"format", "version"})


@dataclass(frozen=True)
class Loaded:
    documents: list[dict]
    skipped: int  # malformed lines or array items


def parse(content: str) -> Loaded:
    """The documents in ``content``: a JSON array of objects, else one object per line."""
    stripped = content.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError:
            pass  # perhaps JSON lines whose first line is an array: read it line by line
        else:
            return _documents(items if isinstance(items, list) else [items])
    return _documents(_line_values(content))


def load(path: Path) -> list[dict]:
    """The documents in the file at ``path``; a warning names how many lines were skipped."""
    loaded = parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    if loaded.skipped:
        LOG.warning("xraylayer-local: %s: skipped %d malformed lines", path, loaded.skipped)
    return loaded.documents


_MALFORMED = object()


def _line_values(content: str) -> list[Any]:
    values = []
    for line in content.splitlines():
        if line.strip():
            try:
                values.append(json.loads(line))
            except ValueError:
                values.append(_MALFORMED)
    return values


def _documents(values: list[Any]) -> Loaded:
    documents, skipped = [], 0
    for value in values:
        if isinstance(value, dict) and set(value) == DAEMON_HEADER_KEYS:
            continue
        if isinstance(value, dict):
            documents.append(value)
        else:
            skipped += 1
    return Loaded(documents, skipped)
