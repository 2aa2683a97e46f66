"""Segment documents as the indented trace trees ``xraylayer-local invoke`` prints.

The joining of documents into traces and the rows of each tree now live in the views package
(``views.model`` and ``views.timeline``), shared with the three views; this module keeps the
name ``cli.py`` imports. New code should use ``xraylayer_local.views``.
"""

from __future__ import annotations

from typing import Any

from .views.model import join
from .views.text_report import render_trees
from .views.timeline import waterfalls


def render(documents: list[dict[str, Any]], *, color: bool = False) -> str:
    """The documents as one indented tree per trace, traces and siblings ordered by start time
    (then id), with durations, offsets from the trace start, ids, status markers and
    annotations. ``color`` adds ANSI colours: red for faults, yellow for errors, magenta for
    throttles, dim ids."""
    return render_trees(waterfalls(join(documents)), color=color)
