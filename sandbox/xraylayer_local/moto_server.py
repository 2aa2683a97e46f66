"""A real local AWS emulator (moto in server mode) for functions and tests to call over HTTP.

Functions in the sandbox use the managed runtime's own boto3, so mocking botocore in-process is
not an option; pointing ``AWS_ENDPOINT_URL`` at a moto server makes every AWS call a real HTTP
request that the layer's patches see exactly as in Lambda.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

_START_DEADLINE_S = 60.0
_STOP_GRACE_S = 5.0
_POLL_INTERVAL_S = 0.05
# Loopback requests must never go through a proxy configured in the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MotoServerError(RuntimeError):
    """The moto server did not come up (its stderr is in the message)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """``python -m moto.server`` on a free loopback port, for the lifetime of a ``with`` block."""

    def __init__(self, *, python: str | Path | None = None, region: str = "us-east-1") -> None:
        self.python = str(python or sys.executable)
        self.region = region
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``, the value for ``AWS_ENDPOINT_URL``."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What a function needs to send its AWS calls here: endpoint and dummy credentials.

        The region is not included: in Lambda ``AWS_REGION`` is a reserved variable set by the
        platform, so give the sandbox ``region=server.region`` instead (moto accepts any).
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }

    def client_env(self) -> dict[str, str]:
        """``env()`` plus the region, for a boto3 client outside the sandbox (e.g. in a test)."""
        return {**self.env(), "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` talking to this server, for code outside the sandbox
        (a test, the demo) to set up and read what the functions did."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def start(self) -> MotoServer:
        """Start the server and return once it answers HTTP."""
        if self._process is not None:
            return self
        self.port = free_port()
        # Lives as long as the server (closed in stop()), so no `with` block here.
        self._stderr = tempfile.NamedTemporaryFile(prefix="moto-server-", suffix=".log")  # noqa: SIM115
        self._process = subprocess.Popen(
            [self.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + _START_DEADLINE_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise MotoServerError(
                    f"moto server exited with {self._process.returncode}:\n{self._output()}"
                )
            if _answers_http(self.endpoint_url):
                return
            time.sleep(_POLL_INTERVAL_S)
        raise MotoServerError(
            f"moto server did not answer on {self.endpoint_url} within {_START_DEADLINE_S:.0f} s:\n"
            f"{self._output()}"
        )

    def _output(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        return Path(self._stderr.name).read_text(errors="replace")

    def stop(self) -> None:
        """Terminate the server (kill it if it does not go within a few seconds)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _answers_http(url: str) -> bool:
    """True once anything answers HTTP at ``url`` (an error status still means it is up)."""
    try:
        with _NO_PROXY.open(f"{url}/moto-api/", timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
