"""What a benchmark configuration is: a way to trace the same function, ready to run.

Each configuration module (one per way of tracing) offers a ``Configuration`` whose ``prepare``
installs what it needs (pinned, from PyPI, into a cache) and says how the sandbox runs the
function with it: the layers (zip or folders laid out like ``/opt``), the environment, the
handler, and where its spans go. A configuration that cannot run here raises ``Unavailable``
with the reason, which the report shows in place of its figures.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xraylayer_local.runtimes import Runtime

EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"


class Unavailable(Exception):
    """This configuration cannot run on this machine; the message says why."""


class Sink(enum.Enum):
    """Where a configuration's spans go, so the benchmark can count what arrived."""

    NONE = "-"
    XRAY_DAEMON = "X-Ray daemon (UDP)"
    OTLP_HTTP = "OTLP/HTTP receiver"
    OTLP_UDP = "X-Ray daemon port (OTLP/UDP)"


@dataclass(frozen=True)
class Context:
    """What preparing a configuration may use."""

    python: str  # the function's Python version, e.g. "3.11"
    runtime: Runtime  # the sandbox's clean runtime of that version (compiles the byte-code)
    cache: Path  # where installed peers are kept between runs
    layer_zip: Path  # the built xraylayer zip
    otlp_endpoint: str  # the loopback OTLP/HTTP receiver's base URL


@dataclass(frozen=True)
class Setup:
    """How the sandbox runs the function under one configuration."""

    layers: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    handler: str = "app.handler"
    sink: Sink = Sink.NONE
    has_extension: bool = False

    @property
    def wrapper(self) -> str | None:
        """The exec wrapper, as the function's configuration names it (``/opt/...``)."""
        return self.env.get(EXEC_WRAPPER)


@dataclass(frozen=True)
class Configuration:
    """A named way of tracing the function; ``prepare`` may raise ``Unavailable``."""

    name: str
    summary: str
    prepare: Callable[[Context], Setup]
    note: str = ""  # what of the real set-up cannot run here, and what stands in for it
