"""Carrying the current span into threads: executor workers, and threads started in a span.

A new thread starts with an empty ``contextvars`` context, so without help a span made in a
``ThreadPoolExecutor`` worker (boto3's S3 transfers run their part uploads there, through
s3transfer) finds no current span and falls out of the trace: the X-Ray SDK's best-known
complaint, "cannot find the current segment". ``asyncio`` needs nothing: each task runs in a
copy of its creator's context, and ``run_in_executor`` goes through ``submit`` below.

Each submitted callable runs in a copy of the submitting thread's context, taken at ``submit``
(what ``asyncio.to_thread`` does, and Python 3.14 does for threads on free-threaded builds), so
the workers see the current span and every other context variable the submitter had. A
``threading.Thread`` started while a span is current runs in a copy of the starter's context;
threads started outside any span (at import, by libraries' background machinery) are left
exactly as they were, so a long-lived thread cannot hold on to a span it happened to start in
unless a span was open at the time.
"""

from __future__ import annotations

import _contextvars as contextvars  # what `contextvars` re-exports, without it
import functools
import threading
from collections.abc import Callable
from types import ModuleType

from .. import context, diagnostics
from . import patching

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def patch_executors(*, threads: bool = True) -> None:
    """Patch ``ThreadPoolExecutor.submit`` and, with ``threads``, ``threading.Thread.start``.

    Imports ``concurrent.futures.thread`` (about 7 ms when nothing else has loaded ``logging``
    yet); a caller with post-import hooks can instead call `patch_thread_pool` when the user
    imports it, and `patch_threading` at start-up. Idempotent.
    """
    from concurrent.futures import thread

    patch_thread_pool(thread)
    if threads:
        patch_threading(threading)


def patch_thread_pool(thread_module: ModuleType) -> None:
    """Run every callable submitted to a ``ThreadPoolExecutor`` in the submitter's context."""
    patching.wrap_method(thread_module.ThreadPoolExecutor, "submit", _submit_in_context)


def patch_threading(threading_module: ModuleType) -> None:
    """Run a ``Thread`` started while a span is current in the starting thread's context."""
    patching.wrap_method(threading_module.Thread, "start", _start_in_context)


def _submit_in_context(submit: Callable[..., Any]) -> Callable[..., Any]:
    def submit_in_context(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    return submit_in_context


def _start_in_context(start: Callable[..., Any]) -> Callable[..., Any]:
    def start_in_context(self: Any, *args: Any, **kwargs: Any) -> Any:
        if context.current_span() is not None:
            try:
                # The instance's run, not the class's: subclasses that override run keep theirs.
                self.run = functools.partial(contextvars.copy_context().run, self.run)
            except Exception as error:
                diagnostics.internal_error("carrying the trace context into a thread", error)
        return start(self, *args, **kwargs)

    return start_in_context
