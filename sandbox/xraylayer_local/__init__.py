"""xraylayer-local: a Lambda execution environment on this machine, for tests and for users."""

from .results import InvokeResult, ShutdownResult
from .sandbox import Sandbox

__all__ = ["InvokeResult", "Sandbox", "ShutdownResult"]
