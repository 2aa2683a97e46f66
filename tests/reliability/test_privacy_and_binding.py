"""Privacy and exposure, on the built layer in the local sandbox: by default no payload, header
value, query string or message body reaches a trace, and every socket the extension listens on
is reachable from this sandbox only (loopback, or a unix socket readable by its user only).

The function (functions/privacy_app.py) makes an HTTP call with a query string and credentials
in its headers and sends an SQS message with a body and an attribute; its event and the answer
it gets carry secrets too. Every document the X-Ray daemon receives is searched for each of
them, and the extension's sockets are read from /proc while the sandbox is up.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from xraylayer_local import Sandbox

FUNCTIONS = Path(__file__).parent / "functions"
QUEUE = "privacy-orders"
SECRETS = (
    "QUERYSECRET123",
    "QUERYUSER456",
    "token=",
    "HEADERSECRET789",
    "APIKEYSECRET012",
    "COOKIESECRET345",
    "BODYSECRET678",
    "4111111111111111",
    "ATTRSECRET901",
    "EVENTSECRET234",
    "RESPONSESECRET567",
)
TCP_LISTEN = "0A"


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"secret": "RESPONSESECRET567"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "session=RESPONSESECRET567")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/lookup"
    server.shutdown()


@pytest.fixture(scope="module")
def run(built_layer: Path, moto_server, web: str) -> Iterator[dict]:
    """Two invocations (cold and warm) of the function; the results, and what /proc showed of
    the extension's sockets and the intake file while the sandbox was up."""
    queue_url = moto_server.client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
    folder = tempfile.mkdtemp(prefix="xl-", dir="/tmp")
    intake = os.path.join(folder, "intake.sock")
    env = {
        **moto_server.env(),
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument",
        "XRAYLAYER_INTAKE": intake,
        "SECRET_URL": web,
        "QUEUE_URL": queue_url,
    }
    event = {"password": "EVENTSECRET234", "card": "4111111111111111"}
    try:
        with Sandbox(
            FUNCTIONS,
            "privacy_app.handler",
            layers=[built_layer],
            env=env,
            tracing="Active",
            timeout_s=10,
            region=moto_server.region,
        ) as sandbox:
            results = [sandbox.invoke(event) for _ in range(2)]
            extension_pids = [
                pid
                for process in sandbox._env.extension_processes.values()
                for pid in process.pids()
            ]
            sockets = [s for pid in extension_pids for s in _sockets(pid)]
            intake_mode = stat.S_IMODE(os.stat(intake).st_mode)
            intake_is_socket = stat.S_ISSOCK(os.stat(intake).st_mode)
        yield {
            "results": results,
            "extension_pids": extension_pids,
            "sockets": sockets,
            "intake": intake,
            "intake_mode": intake_mode,
            "intake_is_socket": intake_is_socket,
            "logs": [line for _, line in sandbox.logs],
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _sockets(pid: int) -> list[tuple[str, str, str, str]]:
    """(protocol, local address, state, unix path) of each socket ``pid`` holds open."""
    inodes = set()
    for fd in _listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{protocol}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                found.append((protocol, fields[1], fields[3], ""))
    try:
        lines = Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if fields[6] in inodes:
            found.append(("unix", "", fields[5], fields[7] if len(fields) > 7 else ""))
    return found


def _address(hex_address: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """The address and port of a /proc/net/{tcp,udp}[6] ``local_address`` field."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    # The kernel prints each 32-bit word of the address in host (little-endian) order.
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address, int(port, 16)


def _documents(run: dict) -> list[dict]:
    return [document for result in run["results"] for document in result.segments]


def test_the_function_ran_and_its_calls_were_traced(run: dict) -> None:
    assert [result.status for result in run["results"]] == ["success", "success"]
    documents = json.dumps(_documents(run))
    # The checks below mean something only if the calls were recorded at all.
    assert "SendMessage" in documents
    assert "/lookup" in documents
    assert run["extension_pids"]


def test_no_query_string_header_value_payload_or_message_body_is_recorded(run: dict) -> None:
    recorded = json.dumps(_documents(run))
    leaked = [secret for secret in SECRETS if secret in recorded]
    assert not leaked, leaked


def test_the_http_call_is_recorded_without_its_query_string(run: dict) -> None:
    urls = [
        document["http"]["request"]["url"]
        for document in _documents(run)
        if isinstance(document.get("http", {}).get("request", {}).get("url"), str)
    ]
    lookups = [url for url in urls if "/lookup" in url]
    assert lookups, urls
    assert all("?" not in url for url in lookups), lookups


def _bound(run: dict, protocols: tuple[str, ...]) -> list[tuple[str, str, int]]:
    """(protocol, address, port) of each socket of ``protocols`` that can receive: TCP
    listeners, and UDP sockets with a local port."""
    bound = []
    for protocol, local, state, _ in run["sockets"]:
        if not protocol.startswith(protocols):
            continue
        if protocol.startswith("tcp") and state != TCP_LISTEN:
            continue  # a connection the extension made (to the Runtime API), not a listener
        address, port = _address(local)
        if port:
            bound.append((protocol, str(address), port))
    return bound


def test_every_tcp_listener_of_the_extension_is_on_loopback(run: dict) -> None:
    listeners = _bound(run, ("tcp",))
    assert listeners, run["sockets"]  # the Telemetry API listener, at least
    exposed = [entry for entry in listeners if not ipaddress.ip_address(entry[1]).is_loopback]
    assert not exposed, exposed


def test_every_udp_socket_of_the_extension_is_on_loopback(run: dict) -> None:
    exposed = [
        entry for entry in _bound(run, ("udp",)) if not ipaddress.ip_address(entry[1]).is_loopback
    ]
    assert not exposed, exposed


def test_the_intake_is_a_unix_socket_of_this_user_only(run: dict) -> None:
    assert run["intake_is_socket"]
    assert run["intake_mode"] == 0o600
    paths = [path for protocol, _, _, path in run["sockets"] if protocol == "unix" and path]
    assert run["intake"] in paths
