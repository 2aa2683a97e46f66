"""The span flood's function: ``event["spans"]`` custom subsegments in one invocation.

It runs with the layer and without it (then ``capture`` is a no-op), and reports what the
caller cannot see: how long the loop took, this process's peak memory, and - with the layer -
``HANDOFF.stats()`` (spans made, handed to the extension, waiting, dropped by reason).
"""

import contextlib
import resource
import time

try:
    from xraylayer import capture
    from xraylayer.handoff import HANDOFF
except ImportError:  # the run without the layer
    HANDOFF = None

    def capture(name):
        return contextlib.nullcontext()


def handler(event, context):
    started = time.perf_counter()
    for index in range(event["spans"]):
        with capture(f"step-{index % 10}"):
            pass
    loop_s = time.perf_counter() - started
    return {
        "loop_s": loop_s,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "stats": HANDOFF.stats() if HANDOFF is not None else None,
    }
