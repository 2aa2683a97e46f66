"""What the tests of the HTTP exporters (``otlp_http``, ``xray_api``) share: a stand-in endpoint
answering from a script, a fake clock, and the checks every such test makes.

The stand-in is a real HTTP/1.1 server on 127.0.0.1 with keep-alive, so that the exporters'
kept connections, timeouts and stale connections meet the real thing, and its answers come
from a script, so that every failure can be had on demand.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from xraylayer_extension.export_result import ExportResult

ROOT = Path(__file__).resolve().parents[2]
HANG = "hang"  # a scripted answer: keep the request waiting until the test ends
# An answer header that is not sent: after that answer the stand-in closes the connection it
# promised to keep alive, as a server's idle timeout does while the sandbox is frozen.
CLOSE_SILENTLY = "x-test-close-silently"

Answer = Any  # (status, headers, body), HANG, or a function of the parsed request giving one


class StandIn:
    """An HTTP endpoint on 127.0.0.1 (HTTP/1.1, keep-alive) answering POSTs from a script.

    A subclass says how a request is read (``parse``: what it raises is kept in ``errors`` and
    answered with a 500) and what is answered once the script is used up (``default``).
    """

    default: Answer = (200, {}, b"{}")

    def __init__(self) -> None:
        self.received: list[Any] = []  # the requests, as parse gave them
        self.errors: list[str] = []  # why parse could not read a request
        self.script: list[Answer] = []  # answers for the next requests; then default
        self.connections = 0  # accepted so far
        self.release = threading.Event()  # ends the hanging answers
        self.closed = threading.Semaphore(0)  # released each time a connection is closed
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = stand_in.take(self.path, dict(self.headers.items()), body)
                if answer == HANG:
                    stand_in.release.wait(10)
                    self.close_connection = True
                    return
                status, headers, reply = answer
                headers = dict(headers)
                close_silently = headers.pop(CLOSE_SILENTLY, None)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply)
                if close_silently:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def get_request(self) -> Any:
                stand_in.connections += 1
                return super().get_request()

            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)
                stand_in.closed.release()

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def parse(self, path: str, headers: dict[str, str], body: bytes) -> Any:
        """One request as the test wants to see it; raises if the request is not valid."""
        return body

    def take(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        try:
            received = self.parse(path, headers, body)
        except Exception as error:
            self.errors.append(f"{type(error).__name__}: {error}")
            return (500, {}, b"{}")
        self.received.append(received)
        answer = self.script.pop(0) if self.script else self.default
        return answer(received) if callable(answer) else answer

    def answer(self, *answers: Answer) -> None:
        """Answer the next requests so, in order."""
        self.script.extend(answers)

    def wait_closed(self) -> None:
        """Until the stand-in has closed a connection (one more than waited for before)."""
        assert self.closed.acquire(timeout=10), "the stand-in never closed the connection"

    def __enter__(self: StandInT) -> StandInT:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


StandInT = TypeVar("StandInT", bound=StandIn)


def serving(stand_in: StandInT) -> Iterator[StandInT]:
    """A fixture's body: ``stand_in`` running for one test, which fails if any request it was
    sent could not be read."""
    with stand_in:
        yield stand_in
    assert stand_in.errors == []


class FakeTime:
    """A monotonic clock that moves only when slept on (or when a test moves it), and a sleep
    that records its waits and returns at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def accounted(result: ExportResult, count: int) -> ExportResult:
    """``result``, once checked to count each of the ``count`` spans exactly once."""
    assert result.total == count, result
    return result


def unused_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connections to it are refused."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]  # closed at once


def run_as_the_extension(code: str) -> str:
    """What ``code`` prints in a new interpreter started as the extension is (``-S``, with only
    the layer's and the extension's code on the path): for tests of what an import loads."""
    environ = {**os.environ, "PYTHONPATH": f"{ROOT / 'layer'}:{ROOT / 'extension'}"}
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
