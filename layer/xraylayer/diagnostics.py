"""The layer's own messages: one `xraylayer:` line to stderr, each problem logged once.

The function's log is the user's; the layer speaks rarely and recognisably there. Anything
that goes wrong inside the layer is reported here and tracing steps aside; it never raises
into the user's code.
"""

from __future__ import annotations

import contextlib
import os
import sys

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "off": 100}
_seen: set[str] = set()


def _threshold() -> int:
    return _LEVELS.get(os.environ.get("XRAYLAYER_LOG_LEVEL", "warning").lower(), 30)


def log(level: str, message: str, *, once: str | None = None) -> None:
    """Write `xraylayer: message` at `level`; with `once`, only the first time for that key."""
    if _LEVELS[level] < _threshold():
        return
    if once is not None:
        if once in _seen:
            return
        _seen.add(once)
    with contextlib.suppress(Exception):  # a closed or broken stderr must not break the function
        sys.stderr.write(f"xraylayer: {level.upper()} {message}\n")


def internal_error(where: str, error: BaseException) -> None:
    """An error inside the layer: logged once per place, never re-raised."""
    log("error", f"{where} failed and was skipped: {type(error).__name__}: {error}", once=where)
