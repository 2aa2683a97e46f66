"""Documents reach the X-Ray daemon over UDP, one per datagram; nothing here ever raises."""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xraylayer import diagnostics, xray_document, xray_udp
from xraylayer.spans import Span
from xraylayer.xray_udp import DaemonClient, parse_address
from xraylayer_local.xray_daemon import XRayDaemon

TRACE_ID = "5759e988bd862e3fe1be46a994272793"


@pytest.fixture(autouse=True)
def _fresh_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the layer's log-once messages afresh."""
    monkeypatch.setattr(diagnostics, "_seen", set())


@pytest.fixture
def daemon():
    with XRayDaemon() as running:
        yield running


def document(name: str = "work", **extra: object) -> dict:
    span = Span(name, TRACE_ID, "53995c3f42cd8ad8", attributes=extra)
    span.end()
    return xray_document.subsegment_document(span)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:2000", ("127.0.0.1", 2000)),
        ("169.254.79.129:2000", ("169.254.79.129", 2000)),
        ("localhost:3000", ("localhost", 3000)),
        ("tcp:127.0.0.1:2000 udp:127.0.0.2:2001", ("127.0.0.2", 2001)),
        ("udp:127.0.0.2:2001 tcp:127.0.0.1:2000", ("127.0.0.2", 2001)),
        ("  udp:10.0.0.1:2000  ", ("10.0.0.1", 2000)),
        ("[::1]:2000", ("::1", 2000)),
    ],
)
def test_parse_address_accepts_the_sdk_forms(value, expected):
    assert parse_address(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "localhost",
        "localhost:",
        ":2000",
        "host:0",
        "host:65536",
        "host:port",
        "tcp:127.0.0.1:2000",
        "tcp:a:1 tcp:b:2",
        "udp:a:1 udp:b:2",
        "a:1 b:2",
        "tcp:a:1 udp:b:x",
        "tcp:a:x udp:b:1",
        "a:1 b:2 c:3",
        "::1:2000",
        "host:²",
        "host:\uff12\uff10\uff10\uff10",  # fullwidth digits
    ],
)
def test_parse_address_refuses_malformed_values(value):
    assert parse_address(value) is None


@given(st.text())
def test_parse_address_never_raises(value):
    parsed = parse_address(value)
    assert parsed is None or (parsed[0] and 0 < parsed[1] < 65536)


def test_unset_address_means_the_default_without_a_warning(capsys):
    for value in (None, "", "   "):
        client = DaemonClient(value)
        assert (client.host, client.port) == ("127.0.0.1", 2000)
    assert capsys.readouterr().err == ""


def test_a_malformed_address_warns_once_and_uses_the_default(capsys):
    first, second = DaemonClient("not-an-address"), DaemonClient("not-an-address")
    assert (first.host, first.port) == (second.host, second.port) == ("127.0.0.1", 2000)
    err = capsys.readouterr().err
    assert err.count("xraylayer: WARNING AWS_XRAY_DAEMON_ADDRESS='not-an-address'") == 1


def test_each_document_arrives_in_its_own_datagram_with_the_header(daemon):
    client = DaemonClient(daemon.address)
    documents = [document(f"d{i}") for i in range(5)]
    assert client.send(documents) == 5
    daemon.sync()
    assert [d["name"] for d in daemon.documents] == ["d0", "d1", "d2", "d3", "d4"]
    assert daemon.rejected == 0
    assert client.stats() == {"sent": 5, "failed": 0}
    client.close()


def test_the_two_part_address_form_sends_to_the_udp_part(daemon):
    host, port = daemon.address.split(":")
    client = DaemonClient(f"tcp:{host}:1 udp:{host}:{port}")
    assert client.send([document()]) == 1
    daemon.sync()
    assert len(daemon.documents) == 1


def test_an_encoded_body_is_sent_as_is(daemon):
    client = DaemonClient(daemon.address)
    client.send([xray_document.encode(document("pre-encoded"))])
    daemon.sync()
    assert daemon.documents[0]["name"] == "pre-encoded"


def test_a_document_over_64_kb_is_shrunk_not_lost(daemon):
    client = DaemonClient(daemon.address)
    oversized = document("big")
    oversized["metadata"] = {"default": {"blob": "x" * 200_000}}
    assert client.send([oversized]) == 1
    daemon.sync()
    (received,) = daemon.documents
    assert received["name"] == "big"
    assert "metadata" in received["metadata"]["xraylayer"]["truncated"]
    assert daemon.rejected == 0


def test_nothing_listening_never_raises():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    client = DaemonClient(f"127.0.0.1:{free_port}")
    for _ in range(3):
        client.send([document()])
    assert client.sent + client.failed == 3


def test_an_unresolvable_host_is_counted_once_per_document_and_not_retried(monkeypatch, capsys):
    lookups = []

    def failing_lookup(*args: object, **kwargs: object) -> list:
        lookups.append(args)
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(xray_udp.socket, "getaddrinfo", failing_lookup)
    client = DaemonClient("daemon.invalid:2000")
    assert client.send([document(), document()]) == 0
    assert client.send([document()]) == 0
    assert client.stats() == {"sent": 0, "failed": 3}
    assert len(lookups) == 1
    assert capsys.readouterr().err.count("daemon.invalid:2000 unusable") == 1


def test_a_bad_document_is_counted_not_raised(daemon):
    client = DaemonClient(daemon.address)
    assert client.send([document("ok"), object(), document("ok too")]) == 2  # type: ignore[list-item]
    assert client.failed == 1


def test_sending_to_a_daemon_that_never_reads_does_not_block():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as deaf:
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deaf.bind(("127.0.0.1", 0))
        client = DaemonClient(f"127.0.0.1:{deaf.getsockname()[1]}")
        big = xray_document.encode(document("x", blob="y" * 60_000))
        started = time.perf_counter()
        client.send([big] * 2000)
        elapsed = time.perf_counter() - started
        assert client.sent + client.failed == 2000
        assert elapsed < 2.0
        assert client._socket is not None and client._socket.getblocking() is False


def test_ipv6_daemon_address(daemon):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        listener = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        listener.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with listener:
        listener.settimeout(2)
        client = DaemonClient(f"[::1]:{listener.getsockname()[1]}")
        assert client.send([document("v6")]) == 1
        data = listener.recv(65536)
    assert data.startswith(xray_udp.HEADER) and b'"name":"v6"' in data
