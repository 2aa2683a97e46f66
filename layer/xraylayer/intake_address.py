"""Where the extension's span intake socket lives, as both processes work it out.

Kept apart from ``wire`` (the message format, which needs ``json``) because the extension
binds this path before its first ``next``, where every import is added to the cold start; the
format is loaded later, by the thread that reads the socket.
"""

from __future__ import annotations

import os

INTAKE_VARIABLE = "XRAYLAYER_INTAKE"
INTAKE_FILE_NAME = "xraylayer-intake.sock"
DEFAULT_INTAKE_PATH = "/tmp/" + INTAKE_FILE_NAME
MAX_SOCKET_PATH_BYTES = 107  # sun_path is 108 bytes with its terminating NUL
MAX_DATAGRAM_BYTES = 65_536  # the receiver's buffer: the largest message there is


def intake_path(environ: dict[str, str] | None = None) -> str:
    """The intake socket's path: ``XRAYLAYER_INTAKE`` if usable, else the default (one
    warning for a value no unix socket can have). The default is in ``$TMPDIR`` when that is
    set (Lambda does not set it; a local sandbox does, to give each environment its own /tmp),
    else in /tmp."""
    environ = os.environ if environ is None else environ
    default = _in_tmpdir(environ.get("TMPDIR", ""))
    value = environ.get(INTAKE_VARIABLE, "")
    if not value:
        return default
    if not _usable(value):
        from . import diagnostics  # only for the warning

        diagnostics.log(
            "warning",
            f"{INTAKE_VARIABLE}={value!r} is not a usable socket path; using {default}",
            once=f"intake:{value}",
        )
        return default
    return value


def _in_tmpdir(folder: str) -> str:
    path = folder.rstrip("/") + "/" + INTAKE_FILE_NAME if folder else DEFAULT_INTAKE_PATH
    return path if _usable(path) else DEFAULT_INTAKE_PATH


def _usable(path: str) -> bool:
    return "\0" not in path and len(path.encode("utf-8", "replace")) <= MAX_SOCKET_PATH_BYTES
