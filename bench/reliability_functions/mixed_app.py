"""The reliability runs' one function: the event says what to do, after a few traced steps.

Before its ending action the handler writes ``HANDOFF.stats()`` (spans made so far by this
process, handed off, exported directly, waiting, dropped) to ``event["stats"]``, so the harness
knows what was made even when the process dies; a success also returns them, a raise carries
them in its message. The invocation's own span is made after that (by the wrapper) or, when
the process dies, closed by the extension.

``burst_at_sigterm`` follows Lambda's graceful-shutdown pattern (a function with an external
extension gets SIGTERM before the extensions' SHUTDOWN): the handler returns at once, and when
SIGTERM comes a thread makes ``event["burst"]`` spans, 100 at a time 10 ms apart (about 100 ms
in all, well within the runtime's 300 ms of grace), so they are being handed over while the
extension is already shutting down; it then writes the stats again (``after_sigterm``) and
exits, as a graceful handler does. The wake-up comes through ``signal.set_wakeup_fd``: the
interpreter writes to it the moment the signal arrives, whatever the main thread is doing
(awslambdaric may be blocked in ``next`` there).
"""

import json
import os
import signal
import socket
import threading
import time

from xraylayer import capture
from xraylayer.handoff import HANDOFF


def _note(path, **extra):
    stats = {**HANDOFF.stats(), **extra}
    with open(path, "w", encoding="utf-8") as file:
        json.dump(stats, file)
    return stats


def _burst_at_sigterm(wakeup, count, stats_path):
    wakeup.recv(1)  # blocks until SIGTERM
    for index in range(count):
        with capture(f"shutdown-step-{index % 10}"):
            pass
        if index % 100 == 99:
            time.sleep(0.01)
    _note(stats_path, after_sigterm=True)
    os._exit(0)


def _arm_sigterm_burst(event):
    wakeup, signalled = socket.socketpair()
    signalled.setblocking(False)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # survive it: the thread works
    signal.set_wakeup_fd(signalled.fileno())
    threading.Thread(
        target=_burst_at_sigterm, args=(wakeup, event["burst"], event["stats"]), daemon=True
    ).start()


def handler(event, context):
    action = event["do"]
    for index in range(event["spans"]):
        with capture(f"step-{index % 10}"):
            pass
    if action == "burst_at_sigterm":
        _arm_sigterm_burst(event)
    stats = _note(event["stats"])
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
