"""AWS Signature Version 4 for one HTTP request: the headers that authenticate it to AWS.

Hand-written with ``hashlib`` and ``hmac`` because botocore cannot be imported in the extension
process (its ``-I -S`` interpreter sees only the layer's package) and would cost over 100 ms to
import anyway. The result is what botocore's ``SigV4Auth`` computes for the same request (the
tests compare them byte for byte), including its choices where the specification leaves room:

- the path is normalized (``.`` and ``..`` segments resolved, repeated ``/`` collapsed) and then
  percent-encoded once more, as every service but S3 expects;
- query names and values are percent-encoded where they are not already (``%XX`` kept, with
  upper-case hex), and the pairs sorted;
- header values are trimmed with runs of whitespace made one space; the headers a proxy or a
  client library may rewrite (``User-Agent``, ``X-Amzn-Trace-Id``, hop-by-hop ones) are not
  signed; ``Host`` is signed, taken from the URL (without a default port) unless given;
- the payload is always hashed (no ``UNSIGNED-PAYLOAD``).

Pure; imported at the X-Ray API exporter's first export, never before.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

TYPE_CHECKING = False  # type names only: ``typing`` is not free to import
if TYPE_CHECKING:
    from collections.abc import Mapping

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
# Headers left unsigned: changed on the way by proxies and client libraries (botocore's list).
UNSIGNED_HEADERS = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
# Headers this module sets: any value given for them is replaced.
SET_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_PERCENT = ord("%")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Credentials:
    """An access key pair, and the session token that comes with temporary credentials."""

    __slots__ = ("access_key", "secret_key", "token")

    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token or None

    def __repr__(self) -> str:  # never the secret
        return f"Credentials(access_key={self.access_key!r}, token={self.token is not None})"


def environment_credentials(environ: Mapping[str, str]) -> Credentials | None:
    """The credentials Lambda gives the function and its extensions (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``); None unless both keys are set."""
    access_key = (environ.get("AWS_ACCESS_KEY_ID") or "").strip()
    secret_key = (environ.get("AWS_SECRET_ACCESS_KEY") or "").strip()
    if not (access_key and secret_key):
        return None
    return Credentials(access_key, secret_key, (environ.get("AWS_SESSION_TOKEN") or "").strip())


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    region: str,
    service: str,
    credentials: Credentials,
    now: float | None = None,
) -> dict[str, str]:
    """The headers to add to the request for AWS to accept it: ``X-Amz-Date``,
    ``X-Amz-Security-Token`` (with temporary credentials) and ``Authorization``.

    ``headers`` are the ones the request will carry; those in ``UNSIGNED_HEADERS`` may change
    later, any other must be sent exactly as given. ``now`` is the signing time in epoch
    seconds (default: the current time); AWS refuses a signature more than 5 minutes off.
    """
    timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    added = {"X-Amz-Date": timestamp}
    if credentials.token:
        added["X-Amz-Security-Token"] = credentials.token
    to_sign = _headers_to_sign(headers)
    to_sign.update((name.lower(), [value]) for name, value in added.items())
    signed = _canonical_headers(url, to_sign)
    request = canonical_request(method, url, signed, body)
    scope = f"{timestamp[:8]}/{region}/{service}/{TERMINATOR}"
    digest = hashlib.sha256(request.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
    key = signing_key(credentials.secret_key, timestamp[:8], region, service)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    added["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return added


def canonical_request(method: str, url: str, signed_headers: Mapping[str, str], body: bytes) -> str:
    """The canonical form of a request (method, path, query, headers, payload hash) that the
    signature covers. ``signed_headers``: lower-case name -> canonical value, sorted."""
    parts = urlsplit(url)
    header_lines = "".join(f"{name}:{value}\n" for name, value in signed_headers.items())
    return "\n".join(
        (
            method.upper(),
            _uri_encode(normalized_path(parts.path), safe=b"/"),
            canonical_query(parts.query),
            header_lines,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        )
    )


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The key derived for one day, region and service (``date`` is ``YYYYMMDD``)."""
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def normalized_path(path: str) -> str:
    """``path`` with ``.`` and ``..`` resolved and empty segments dropped; ``/`` if empty.

    A trailing ``/`` is kept when the path ends with one and something is left before it.
    """
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") and kept else ""
    return leading + "/".join(kept) + trailing


def canonical_query(query: str) -> str:
    """``name=value`` pairs percent-encoded (existing ``%XX`` escapes kept) and sorted."""
    pairs = []
    for item in query.split("&") if query else ():
        name, _, value = item.partition("=")
        pairs.append((_uri_encode(name, keep_escapes=True), _uri_encode(value, keep_escapes=True)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _headers_to_sign(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """The request's headers to sign, by lower-case name (values of repeated names in order)."""
    kept: dict[str, list[str]] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower not in UNSIGNED_HEADERS and lower not in SET_HEADERS:
            kept.setdefault(lower, []).append(value)
    return kept


def _canonical_headers(url: str, headers: Mapping[str, list[str]]) -> dict[str, str]:
    """Lower-case name -> canonical value (each value trimmed, inner whitespace one space,
    repeated ones joined by commas), sorted by name, with ``host`` always present."""
    values = {
        name: ",".join(" ".join(value.split()) for value in listed)
        for name, listed in headers.items()
    }
    if "host" not in values:
        values["host"] = host_header(url)
    return dict(sorted(values.items()))


def host_header(url: str) -> str:
    """The ``Host`` value of a URL: lower-case host, IPv6 in brackets, port unless default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return host


def _uri_encode(text: str, *, safe: bytes = b"", keep_escapes: bool = False) -> str:
    """RFC 3986 percent-encoding of UTF-8 ``text``: unreserved characters and ``safe`` as
    they are, every other byte as ``%XX``; with ``keep_escapes`` a ``%`` followed by two hex
    digits is an escape already made, kept with its hex in upper case."""
    out = []
    data = text.encode("utf-8")
    index = 0
    while index < len(data):
        byte = data[index]
        if keep_escapes and byte == _PERCENT and _is_escape(data[index + 1 : index + 3]):
            out.append("%" + data[index + 1 : index + 3].decode("ascii").upper())
            index += 3
            continue
        out.append(chr(byte) if byte in _UNRESERVED or byte in safe else f"%{byte:02X}")
        index += 1
    return "".join(out)


def _is_escape(digits: bytes) -> bool:
    return len(digits) == 2 and digits[0] in _HEX_DIGITS and digits[1] in _HEX_DIGITS
