"""The mixed run's one function: the event says what to do, after a few traced steps.

Before its ending action the handler writes ``HANDOFF.stats()`` (spans made so far by this
process, handed off, exported directly, waiting, dropped) to ``event["stats"]``, so the harness
knows what was made even when the process dies; a success also returns them, a raise carries
them in its message. The invocation's own span is made after that (by the wrapper) or, when
the process dies, closed by the extension.
"""

import json
import os
import time

from xraylayer import capture
from xraylayer.handoff import HANDOFF


def _note(event):
    stats = HANDOFF.stats()
    with open(event["stats"], "w", encoding="utf-8") as file:
        json.dump(stats, file)
    return stats


def handler(event, context):
    action = event["do"]
    for index in range(event["spans"]):
        with capture(f"step-{index % 10}"):
            pass
    stats = _note(event)
    if action == "raise":
        raise RuntimeError("planned failure " + json.dumps(stats))
    if action == "sleep":
        time.sleep(event["sleep_s"])
    elif action == "exit":
        os._exit(3)
    elif action == "oom":
        chunks = []
        for _ in range(event["mb"]):
            chunk = bytearray(1024 * 1024)
            for offset in range(0, len(chunk), 4096):
                chunk[offset] = 1  # resident, not just reserved
            chunks.append(chunk)
        time.sleep(5)
    return {"stats": stats}
