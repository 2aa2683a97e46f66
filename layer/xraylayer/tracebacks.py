"""The layer's own frames taken out of an exception's traceback.

An exception that passes through one of the layer's patches (a botocore call, an HTTP request,
a thread start) carries the patch's frame in its traceback; the runtime would print it in the
function's log and return it in the caller's ``stackTrace``. Taking those frames out, and only
those, gives the caller the stack it gets without the layer. Chained exceptions (``__cause__``,
``__context__``) and an exception group's members are cleaned the same way.
"""

from __future__ import annotations

import os
from itertools import pairwise
from types import TracebackType

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def layer_folders(package: str = _PACKAGE) -> tuple[str, ...]:
    """Where the layer's code lives: its package, and in the built layer (``<root>/python/
    xraylayer``) its private dependencies beside it in ``<root>/deps``."""
    folders = [package + os.sep]
    python = os.path.dirname(package)
    if os.path.basename(python) == "python":
        deps = os.path.join(os.path.dirname(python), "deps")
        if os.path.isdir(deps):
            folders.append(deps + os.sep)
    return tuple(folders)


def without_layer_frames(error: BaseException, folders: tuple[str, ...] | None = None) -> None:
    """Unlink, in place, every frame of code under ``folders`` (default: the layer's) from the
    tracebacks of ``error`` and of the exceptions chained to it."""
    folders = layer_folders() if folders is None else folders
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = _kept(current.__traceback__, folders)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        pending += [e for e in getattr(current, "exceptions", ()) if isinstance(e, BaseException)]


def _kept(first: TracebackType | None, folders: tuple[str, ...]) -> TracebackType | None:
    kept: list[TracebackType] = []
    entry = first
    while entry is not None:
        if not entry.tb_frame.f_code.co_filename.startswith(folders):
            kept.append(entry)
        entry = entry.tb_next
    for earlier, later in pairwise(kept):
        earlier.tb_next = later
    if kept:
        kept[-1].tb_next = None
    return kept[0] if kept else None
