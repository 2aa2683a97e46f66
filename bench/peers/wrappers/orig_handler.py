"""The function's own handler, as both OpenTelemetry shims load it (``ORIG_HANDLER``).

Installed beside each re-created shim (``otel_wrapper.py``) in the peer's layer folder: the
exec wrapper saved Lambda's ``_HANDLER`` in ``ORIG_HANDLER`` and pointed ``_HANDLER`` at the
shim; this imports ``module.function`` (slashes read as dots, as the shims do).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import import_module
from typing import Any


class HandlerError(Exception):
    """``ORIG_HANDLER`` is missing or names no module and function."""


def original_handler() -> Callable[..., Any]:
    path = os.environ.get("ORIG_HANDLER")
    if not path:
        raise HandlerError("ORIG_HANDLER is not defined.")
    module, _, name = path.replace("/", ".").rpartition(".")
    if not module:
        raise HandlerError(f"Bad path '{path}' for ORIG_HANDLER")
    return getattr(import_module(module), name)
