"""What the environment's processes used: peak memory and CPU time, function and extensions apart.

The sandbox reports the sum of its processes' peak memory, as Lambda's Max Memory Used does;
splitting it shows where the memory goes. CPU time matters on Lambda because a function gets a
CPU share in proportion to its memory size (a fraction of one vCPU below 1,769 MB): an
extension's CPU time is taken from the same share as the function's, and work after the
response is billed. Both are read from ``/proc`` for the runtime process and each extension
process (their threads included; the wrappers ``exec``, so each keeps its pid).
"""

from __future__ import annotations

import os
from pathlib import Path

from xraylayer_local import Sandbox
from xraylayer_local.processes import Process

MIB = 2**20
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def peak_rss_mib(box: Sandbox) -> dict[str, float]:
    """High-water resident memory (VmHWM) of the function's process tree and of the extensions."""
    runtime, extensions = box.processes()
    figures = {"function_rss": sum(process.peak_rss_bytes() for process in runtime) / MIB}
    if extensions:
        figures["extension_rss"] = sum(process.peak_rss_bytes() for process in extensions) / MIB
    return figures


def cpu_ms(box: Sandbox) -> dict[str, float]:
    """CPU time (user + system) used so far by the function's runtime and by the extensions."""
    runtime, extensions = box.processes()
    figures = {"function_cpu": sum(map(_cpu_ms, runtime))}
    if extensions:
        figures["extension_cpu"] = sum(map(_cpu_ms, extensions))
    return figures


def _cpu_ms(process: Process) -> float:
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S * 1000  # utime, stime
