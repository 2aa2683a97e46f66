"""Register with the Extensions API using nothing but `_socket`.

Lambda starts the function's runtime only after every extension has registered, so the time
from this process's start to its `register` call is added to every cold start. `http.client`
costs ~24 ms to import and `socket` ~7 ms (its enums); `_socket` costs ~0.3 ms. One request with
a fixed body needs no more than that, so registration is done by hand here and everything else
is imported after it, while the runtime initialises.
"""

from __future__ import annotations

import _socket

REGISTER_PATH = "/2020-01-01/extension/register"
_TIMEOUT_S = 10.0


class RegistrationError(Exception):
    """The Extensions API refused the registration (or could not be reached)."""


def register_request(host: str, name: str, events: tuple[str, ...]) -> bytes:
    """The HTTP/1.1 request registering extension `name` for `events`."""
    body = '{"events": [' + ", ".join(f'"{event}"' for event in events) + "]}"
    return (
        f"POST {REGISTER_PATH} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Lambda-Extension-Name: {name}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
        f"{body}"
    ).encode()


def parse_identifier(response: bytes) -> str:
    """The `Lambda-Extension-Identifier` of a 200 answer; RegistrationError otherwise."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or status[1] != "200":
        raise RegistrationError(f"register answered {lines[0]!r}: {body[:200]!r}")
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "lambda-extension-identifier":
            return value.strip()
    raise RegistrationError("register answered 200 without Lambda-Extension-Identifier")


def register(runtime_api: str, name: str, events: tuple[str, ...]) -> str:
    """Register and return the extension identifier every later call must carry."""
    host, _, port = runtime_api.rpartition(":")
    connection = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        connection.settimeout(_TIMEOUT_S)
        connection.connect((host, int(port)))
        connection.sendall(register_request(runtime_api, name, events))
        return parse_identifier(_read_all(connection))
    except OSError as error:
        raise RegistrationError(
            f"cannot reach the Extensions API at {runtime_api}: {error}"
        ) from error
    finally:
        connection.close()


def _read_all(connection: _socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)
