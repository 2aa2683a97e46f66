"""Cold starts: which invocation is one, what kind of init came before it, how long init took.

Pure functions over what the function process knows: the init type Lambda declares
(`AWS_LAMBDA_INITIALIZATION_TYPE`), when the process started (sitecustomize notes it), when
init ended (the user's handler was loaded) and when the first invocation began.

Only the first invocation after an on-demand init is a cold start: a caller waited for that
init. Provisioned concurrency and SnapStart initialise ahead of any request; so does Lambda's
proactive initialization, which it still declares as on-demand: its first invocation comes
long after init ended, which is how it shows.
"""

from __future__ import annotations

ON_DEMAND = "on-demand"
PROVISIONED_CONCURRENCY = "provisioned-concurrency"
SNAP_START = "snap-start"
PROACTIVE = "proactive-initialization"  # reported by the layer, never declared by Lambda

# An on-demand init and its first invocation are back to back; a gap this long means the
# sandbox was initialised before any request came (the heuristic Lambda users rely on).
PROACTIVE_GAP_S = 10.0


def initialization_type(declared: str | None, init_end: float | None, first_invoke: float) -> str:
    """The kind of init this sandbox had, as its first invocation (at `first_invoke`) sees it."""
    declared = declared or ON_DEMAND
    if declared == ON_DEMAND and init_end is not None and first_invoke - init_end > PROACTIVE_GAP_S:
        return PROACTIVE
    return declared


def is_cold_start(invocation_number: int, init_type: str) -> bool:
    """Whether invocation `invocation_number` (1 = the first) waited for an init."""
    return invocation_number == 1 and init_type == ON_DEMAND


def init_duration_ms(process_start: float | None, init_end: float | None) -> float | None:
    """From process start to the end of init, in ms; None when either moment is unknown."""
    if process_start is None or init_end is None or init_end < process_start:
        return None
    return (init_end - process_start) * 1000
