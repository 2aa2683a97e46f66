"""The baseline: the function alone, as Lambda runs it with no layer and no tracing code."""

from __future__ import annotations

from peers.configuration import Configuration, Context, Setup


def prepare(context: Context) -> Setup:
    return Setup()


NO_TRACING = Configuration("no tracing", "the function alone, no layer", prepare)
