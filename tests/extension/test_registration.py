"""Registration by hand over `_socket`: the request Lambda expects, and its answers read right."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from xraylayer_extension.registration import (
    RegistrationError,
    parse_identifier,
    register,
    register_request,
)

IDENTIFIER = "0d7c2a8e-4f6b-4b8e-9d0e-5a1c2b3d4e5f"


def test_the_request_names_the_extension_and_its_events() -> None:
    request = register_request("127.0.0.1:9001", "xraylayer", ("INVOKE", "SHUTDOWN"))
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /2020-01-01/extension/register HTTP/1.1"
    assert "Lambda-Extension-Name: xraylayer" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert body == b'{"events": ["INVOKE", "SHUTDOWN"]}'


@pytest.mark.parametrize("header", ["Lambda-Extension-Identifier", "lambda-extension-identifier"])
def test_the_identifier_is_read_from_a_200_answer(header: str) -> None:
    answer = f"HTTP/1.1 200 OK\r\n{header}: {IDENTIFIER}\r\n\r\n{{}}".encode()
    assert parse_identifier(answer) == IDENTIFIER


@pytest.mark.parametrize(
    "answer",
    [
        b'HTTP/1.1 403 Forbidden\r\n\r\n{"errorType": "Extension.RegistrationClosed"}',
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"",
        b"garbage",
    ],
)
def test_anything_else_is_a_registration_error(answer: bytes) -> None:
    with pytest.raises(RegistrationError):
        parse_identifier(answer)


@pytest.fixture
def extensions_api() -> Iterator[tuple[str, list[bytes]]]:
    """A one-shot Extensions API on loopback that records the request it got."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            received.append(connection.recv(65536))
            connection.sendall(
                f"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: {IDENTIFIER}\r\n"
                "Content-Length: 2\r\nConnection: close\r\n\r\n{}".encode()
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}", received
    thread.join(5)
    listener.close()


def test_register_talks_http_to_the_api(extensions_api: tuple[str, list[bytes]]) -> None:
    address, received = extensions_api
    assert register(address, "xraylayer", ("INVOKE",)) == IDENTIFIER
    assert received[0].startswith(b"POST /2020-01-01/extension/register HTTP/1.1\r\n")


def test_an_unreachable_api_is_a_registration_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(RegistrationError, match="cannot reach"):
        register(f"127.0.0.1:{port}", "xraylayer", ("INVOKE",))
