"""Why the extension closed an invocation span the function could not close itself.

Each is (error type, message) as Lambda reports it, so a failed invocation reads in X-Ray like
one that raised. No imports at module level: the main loop loads this before registering, and
tail keep recognises a timeout by its type.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .telemetry_events import RuntimeDone

TIMEOUT_CAUSE = ("Sandbox.Timedout", "Task timed out")
CRASH_CAUSE = ("Runtime.ExitError", "Runtime exited before the invocation ended")
SHUTDOWN_CAUSE = ("Sandbox.Shutdown", "Environment shut down before the invocation ended")
OUT_OF_MEMORY_CAUSE = ("Runtime.OutOfMemory", "Runtime exited: out of memory")


def failure_cause(done: RuntimeDone) -> tuple[str, str] | None:
    """The cause from Lambda's ``runtimeDone`` of an invocation; None for a success."""
    from .telemetry_events import out_of_memory

    if done.status == "success":
        return None
    if out_of_memory(done):
        return OUT_OF_MEMORY_CAUSE
    if done.status == "timeout":
        return TIMEOUT_CAUSE
    return (done.error_type or CRASH_CAUSE[0], CRASH_CAUSE[1])


def shutdown_cause(reason: str) -> tuple[str, str]:
    """The cause for an invocation still open at SHUTDOWN, from the shutdown's reason."""
    reason = reason.lower()  # docs print SPINDOWN / TIMEOUT / FAILURE; payloads are lowercase
    if reason == "timeout":
        return TIMEOUT_CAUSE
    if reason == "failure":
        return CRASH_CAUSE
    return SHUTDOWN_CAUSE
