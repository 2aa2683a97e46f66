"""Shared by the per-call benchmarks: switch the layer's patches off and on in one process,
and a sink that takes spans without any I/O, so the figures are the patches' cost alone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from xraylayer.instrument import patching
from xraylayer.spans import Span


class CountingSink:
    """Takes spans as the hand-off would, without the socket."""

    def __init__(self) -> None:
        self.count = 0

    def emit(self, span: Span) -> None:
        self.count += 1


@contextlib.contextmanager
def unpatched(targets: Sequence[tuple[type, str]]) -> Iterator[None]:
    """The libraries' own methods at `targets` (owner, method name) for the block's duration."""
    wrappers = [(owner, name, owner.__dict__[name]) for owner, name in targets]
    for owner, name, wrapper in wrappers:
        assert patching.is_patched(wrapper), f"{owner.__name__}.{name} is not patched"
        setattr(owner, name, wrapper.__wrapped__)
    try:
        yield
    finally:
        for owner, name, wrapper in wrappers:
            setattr(owner, name, wrapper)
