"""The sandbox's child processes: start, log capture, freeze, memory, signals.

Each process gets its own session, so a signal to its process group reaches whatever it
started too (a function that forks is frozen and killed with it, as in Lambda).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

LineSink = Callable[[str, str], None]


class Process:
    """One child process of the sandbox, with its output read line by line into `on_line`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        on_line: LineSink,
    ) -> None:
        self.name = name
        self.started = time.monotonic()
        self._popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(
            target=self._read_lines, args=(on_line,), name=f"log-{name}", daemon=True
        )
        self._pump.start()

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once it has ended (negative: the signal that ended it)."""
        return self._popen.poll()

    def alive(self) -> bool:
        return self._popen.poll() is None

    def send(self, sig: signal.Signals) -> None:
        """Signal the whole process group; a group already gone is not an error."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def freeze(self) -> None:
        self.send(signal.SIGSTOP)

    def thaw(self) -> None:
        self.send(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL now and reap; works on a frozen process too."""
        self.send(signal.SIGKILL)
        self.wait(5.0)

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` seconds for the exit; the exit status or None if still running."""
        try:
            return self._popen.wait(max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def finish_output(self, timeout: float = 1.0) -> None:
        """Wait until every line the ended process wrote has reached the sink."""
        self._pump.join(timeout)

    def pids(self) -> list[int]:
        """The process and all its descendants (a launcher may be a shell that starts Python)."""
        return _tree(self._popen.pid)

    def rss_bytes(self) -> int:
        """Resident memory of the process and all its descendants."""
        return sum(_rss(pid) for pid in self.pids())

    def peak_rss_bytes(self) -> int:
        """The kernel's high-water mark of resident memory (VmHWM), summed over the tree."""
        return sum(_peak_rss(pid) for pid in self.pids())

    def _read_lines(self, on_line: LineSink) -> None:
        assert self._popen.stdout is not None
        for raw in self._popen.stdout:
            on_line(self.name, raw.decode("utf-8", "replace").rstrip("\n"))
        self._popen.stdout.close()


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc's children lists."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                continue
            pending.extend(int(child) for child in children)
    return found


def _peak_rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * _PAGE_SIZE
