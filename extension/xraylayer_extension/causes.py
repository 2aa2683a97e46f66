"""Why the extension closed an invocation span the function could not close itself.

Each is (error type, message) as Lambda reports it, so a failed invocation reads in X-Ray like
one that raised. Plain constants with no imports: the main loop needs them before anything
else is loaded, tail keep recognises a timeout by its type.
"""

TIMEOUT_CAUSE = ("Sandbox.Timedout", "Task timed out")
CRASH_CAUSE = ("Runtime.ExitError", "Runtime exited before the invocation ended")
SHUTDOWN_CAUSE = ("Sandbox.Shutdown", "Environment shut down before the invocation ended")
OUT_OF_MEMORY_CAUSE = ("Runtime.OutOfMemory", "Runtime exited: out of memory")
