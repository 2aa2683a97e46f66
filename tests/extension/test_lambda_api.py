"""Registration by hand over `_socket`: the request Lambda expects, and its answers read right."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from xraylayer_extension.lambda_api import ApiError, dechunk, parse_answer, request_bytes
from xraylayer_extension.registration import RegistrationError, identifier_of, register

IDENTIFIER = "0d7c2a8e-4f6b-4b8e-9d0e-5a1c2b3d4e5f"


def test_a_request_is_plain_http_1_1_that_closes() -> None:
    request = request_bytes("PUT", "127.0.0.1:9001", "/x", {"A": "b"}, b'{"k": 1}')
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "PUT /x HTTP/1.1"
    assert {"Host: 127.0.0.1:9001", "Connection: close", "A: b", "Content-Length: 8"} <= set(lines)
    assert body == b'{"k": 1}'
    assert b"Content-Length" not in request_bytes("GET", "h:1", "/next", {})


@pytest.mark.parametrize("header", ["Lambda-Extension-Identifier", "lambda-extension-identifier"])
def test_the_identifier_is_read_from_a_200_answer(header: str) -> None:
    answer = f"HTTP/1.1 200 OK\r\n{header}: {IDENTIFIER}\r\n\r\n{{}}".encode()
    assert identifier_of(parse_answer(answer)) == IDENTIFIER


@pytest.mark.parametrize(
    "answer",
    [
        b'HTTP/1.1 403 Forbidden\r\n\r\n{"errorType": "Extension.RegistrationClosed"}',
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    ],
)
def test_anything_else_is_a_registration_error(answer: bytes) -> None:
    with pytest.raises(RegistrationError):
        identifier_of(parse_answer(answer))


@pytest.mark.parametrize("answer", [b"", b"garbage", b"SMTP 200 OK\r\n\r\n", b"HTTP/1.1 x\r\n\r\n"])
def test_what_is_not_http_is_an_api_error(answer: bytes) -> None:
    with pytest.raises(ApiError):
        parse_answer(answer)


def test_bodies_are_cut_to_their_length_or_dechunked() -> None:
    sized = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing")
    assert (sized.status, sized.body) == (200, b"{}")
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3;x=y\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    assert parse_answer(chunked).body == b'{"a": 1}'


@pytest.mark.parametrize("body", [b"5\r\nabc", b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabc"])
def test_a_broken_chunked_body_is_an_api_error(body: bytes) -> None:
    with pytest.raises(ApiError):
        dechunk(body)


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
