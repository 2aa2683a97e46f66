"""Where an outgoing HTTP request goes, as a span may record it: scheme, host, port, URL.

Pure functions. The recorded URL never holds credentials (``user:password@`` is dropped) and
holds the query string only when the configuration asks for it, because query strings carry
tokens and personal data and X-Ray shows URLs to everyone with console access. The fragment is
always dropped: it never leaves the client, so it is not part of the request.
"""

from __future__ import annotations

from collections import namedtuple
from urllib.parse import urlsplit  # loaded anyway: http.client imports it (through email)

DEFAULT_PORTS = {"http": 80, "https": 443}

# A `collections.namedtuple`: a `typing.NamedTuple` class costs `typing` (2 ms) at import.
# scheme: str; host: str, without brackets for IPv6, lower case; port: int | None, the effective
# port, None when the scheme has no default and none is given; url: str.
Target = namedtuple("Target", ["scheme", "host", "port", "url"])
Target.__doc__ = "The server a request goes to and the URL to record for it."


def from_url(url: str, *, keep_query: bool) -> Target | None:
    """The target of an absolute URL (requests, or a request sent through a proxy); None if the
    URL has no host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:  # a port that is not a number, brackets that do not close
        return None
    if not host:
        return None
    scheme = parts.scheme.lower()
    target = parts.path + ("?" + parts.query if parts.query else "")
    return from_parts(scheme, host, port, target, keep_query=keep_query)


def from_parts(
    scheme: str, host: str, port: int | None, target: str, *, keep_query: bool
) -> Target:
    """The target of a request sent to ``host:port`` (a connection or connection pool) for
    ``target``, the request line's path and query; an absolute ``target`` (proxy form) wins."""
    if "://" in target:
        absolute = from_url(target, keep_query=keep_query)
        if absolute is not None:
            return absolute
    host = host.strip("[]").lower()
    port = port or DEFAULT_PORTS.get(scheme)
    path, _, query = target.partition("#")[0].partition("?")
    url = f"{scheme}://{_authority(scheme, host, port)}{path}"
    if keep_query and query:
        url += "?" + query
    return Target(scheme, host, port, url)


def _authority(scheme: str, host: str, port: int | None) -> str:
    """``host[:port]``, the port left out when it is the scheme's default, IPv6 in brackets."""
    shown = f"[{host}]" if ":" in host else host
    if port is None or DEFAULT_PORTS.get(scheme) == port:
        return shown
    return f"{shown}:{port}"
