"""The layer's own endpoints, which outgoing HTTP tracing leaves alone: no span, no header.

The Lambda Runtime and Extensions API (``AWS_LAMBDA_RUNTIME_API``), the X-Ray daemon
(``AWS_XRAY_DAEMON_ADDRESS``, whose TCP side serves sampling rules) and the extension's span
intake (``XRAYLAYER_INTAKE``, when it names a port rather than a socket path). Tracing those
would trace the tracer, and a header on the Runtime API is noise at best.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

VARIABLES = ("AWS_LAMBDA_RUNTIME_API", "AWS_XRAY_DAEMON_ADDRESS", "XRAYLAYER_INTAKE")
_LOOPBACK = "127.0.0.1"

_cache: tuple[tuple[str | None, ...], frozenset[tuple[str, int]]] = ((), frozenset())


def is_own(host: str, port: int | None) -> bool:
    """Whether ``host:port`` is one of the layer's own endpoints (Runtime / Extensions API,
    X-Ray daemon, extension intake), named by the environment."""
    global _cache  # noqa: PLW0603 - a one-entry cache; tuple assignment is atomic
    values = tuple(os.environ.get(name) for name in VARIABLES)
    cached_values, endpoints = _cache
    if values != cached_values:
        endpoints = endpoints_named(values)
        _cache = (values, endpoints)
    return bool(endpoints) and (_normal_host(host), port) in endpoints


def endpoints_named(values: Iterable[str | None]) -> frozenset[tuple[str, int]]:
    """``(host, port)`` pairs named by address variables: ``host:port``, the daemon's
    ``tcp:host:port udp:host:port``, a bare port (on loopback), ``http://host:port``; socket
    paths and anything unparsable name nothing HTTP can reach and are ignored."""
    endpoints = set()
    for value in values:
        for word in (value or "").split():
            endpoint = _endpoint(word)
            if endpoint is not None:
                endpoints.add(endpoint)
    return frozenset(endpoints)


def _endpoint(word: str) -> tuple[str, int] | None:
    word = word.partition("://")[2] or word
    for prefix in ("tcp:", "udp:"):
        word = word.removeprefix(prefix)
    word = word.split("/", 1)[0]
    if word.isdigit():
        return _LOOPBACK, int(word)
    host, _, port = word.rpartition(":")
    if not host or not port.isdigit():
        return None
    return _normal_host(host), int(port)


def _normal_host(host: str) -> str:
    """Lower case, no IPv6 brackets, every loopback spelling as ``127.0.0.1``."""
    host = host.strip("[]").lower()
    if host in ("localhost", "::1") or host.startswith("127."):
        return _LOOPBACK
    return host
