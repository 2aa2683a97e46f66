"""Shared by the per-call benchmarks: a sink that takes spans without any I/O, so the figures
are the patches' cost alone (``patching.Unpatched`` switches the patches off in between)."""

from __future__ import annotations

from xraylayer.spans import Span


class CountingSink:
    """Takes spans as the hand-off would, without the socket."""

    def __init__(self) -> None:
        self.count = 0

    def emit(self, span: Span) -> None:
        self.count += 1
