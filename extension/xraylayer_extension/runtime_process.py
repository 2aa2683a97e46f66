"""Whether the function's runtime process still runs, seen from the extension.

The function says its pid in ``hello``; a runtime that crashed (``os._exit``, a signal, out of
memory) sends no end marker, and noticing that it is gone lets the extension close the
invocation at once instead of at the deadline. Both processes share the sandbox's ``/proc``.
"""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, exited but not reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return not os.path.isdir("/proc/self")  # gone; or no /proc here, so assume alive
    return state not in (b"Z", b"X")
