"""The X-Ray daemon stand-in accepts and drops datagrams as the real daemon does."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys

import pytest
from xraylayer_local.xray_daemon import (
    HEADER,
    INVALID_DOCUMENT,
    INVALID_HEADER,
    MISSING_PART,
    TRUNCATED,
    DatagramRejected,
    XRayDaemon,
    parse_datagram,
)

DOC = {"name": "f", "id": "53995c3f42cd8ad8", "trace_id": "1-5759e988-bd862e3fe1be46a994272793"}
BODY = json.dumps(DOC).encode()
IPV4_UDP_MAX_PAYLOAD = 65507


def datagram_of_size(size: int) -> bytes:
    """A valid datagram of exactly ``size`` bytes (a padded document)."""
    empty = HEADER + b"\n" + json.dumps({**DOC, "pad": ""}).encode()
    padded = HEADER + b"\n" + json.dumps({**DOC, "pad": "x" * (size - len(empty))}).encode()
    assert len(padded) == size
    return padded


@pytest.fixture
def daemon():
    with XRayDaemon() as running:
        yield running


@pytest.fixture
def sender():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        yield sock


def send(sock: socket.socket, daemon: XRayDaemon, data: bytes) -> None:
    host, port = daemon.address.split(":")
    sock.sendto(data, (host, int(port)))


# --- parse_datagram: the daemon's rules --------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b'{"format":"json","version":1}',
        b'{"format": "json", "version": 1}',
        b'{"format":"JSON","version":1}',
        b'{"Format":"Json","VERSION":1}',  # Go matches struct keys case-insensitively
        b' {"version":1,"format":"json","extra":[1]} ',
        b'{"format":"xml","version":1,"format":"json"}',  # a later duplicate wins
        b'{"format":"json","version":1,"version":"x"}',  # a mistyped value is skipped
    ],
)
def test_headers_the_daemon_accepts(header):
    assert parse_datagram(header + b"\n" + BODY) == DOC


@pytest.mark.parametrize(
    "header",
    [
        b'{"format":"json","version":2}',
        b'{"format":"json","version":"1"}',
        b'{"format":"json","version":1.0}',
        b'{"format":"json","version":true}',
        b'{"format":"json"}',
        b'{"format":"protobuf","version":1}',
        b'{"format":"json","version":1,"x":NaN}',  # not JSON for Go
        b"[1]",
        b"format=json",
        b"",
    ],
)
def test_headers_the_daemon_rejects(header):
    with pytest.raises(DatagramRejected) as rejected:
        parse_datagram(header + b"\n" + BODY)
    assert rejected.value.reason == INVALID_HEADER


@pytest.mark.parametrize("data", [b"", BODY, HEADER, HEADER + b"\n"])
def test_missing_header_or_body_is_checked_before_the_header(data):
    with pytest.raises(DatagramRejected) as rejected:
        parse_datagram(data)
    assert rejected.value.reason == MISSING_PART


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'"segment"', b'{"name": "f"', b"\xff\xfe"]
)
def test_body_must_be_a_json_document(body):
    with pytest.raises(DatagramRejected) as rejected:
        parse_datagram(HEADER + b"\n" + body)
    assert rejected.value.reason == INVALID_DOCUMENT


def test_only_the_first_newline_separates():
    body = json.dumps(DOC, indent=2).encode()
    assert parse_datagram(HEADER + b"\n" + body) == DOC


# --- the UDP listener --------------------------------------------------------------------------


def test_address_is_loopback_with_the_bound_port(daemon):
    host, port = daemon.address.split(":")
    assert host == "127.0.0.1" and int(port) > 0


def test_accepts_and_rejects_over_udp_in_arrival_order(daemon, sender):
    send(sender, daemon, HEADER + b"\n" + json.dumps({**DOC, "n": 1}).encode())
    send(sender, daemon, b'{"format":"json","version":2}\n' + BODY)
    send(sender, daemon, BODY)  # no header line
    send(sender, daemon, HEADER + b"\n" + json.dumps({**DOC, "n": 2}).encode())
    daemon.sync()
    assert [d["n"] for d in daemon.documents] == [1, 2]
    assert daemon.rejected == 2
    assert daemon.rejections == [INVALID_HEADER, MISSING_PART]


def test_sync_sees_a_burst_sent_just_before(daemon, sender):
    for n in range(300):
        send(sender, daemon, HEADER + b"\n" + json.dumps({**DOC, "n": n}).encode())
    daemon.sync()
    assert [d["n"] for d in daemon.documents] == list(range(300))


def test_sync_sees_datagrams_another_process_sent(daemon):
    host, port = daemon.address.split(":")
    script = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "for n in range(50):\n"
        "    s.sendto(sys.argv[1].encode() + b'{\"n\": %d}' % n, (sys.argv[2], int(sys.argv[3])))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, HEADER.decode() + "\n", host, port], check=True, timeout=30
    )
    daemon.sync()
    assert [d["n"] for d in daemon.documents] == list(range(50))


def test_sync_markers_are_not_documents(daemon):
    daemon.sync()
    daemon.sync()
    assert daemon.documents == [] and daemon.rejected == 0


def test_largest_ipv4_datagram_is_accepted(daemon, sender):
    send(sender, daemon, datagram_of_size(IPV4_UDP_MAX_PAYLOAD))
    daemon.sync()
    assert len(daemon.documents) == 1
    assert daemon.documents[0]["pad"].startswith("x")


def test_a_document_too_big_for_one_datagram_never_counts_as_accepted(daemon, sender):
    # The kernel refuses it (EMSGSIZE), as it does for an SDK sending a 64 KiB+ document.
    with contextlib.suppress(OSError):
        send(sender, daemon, datagram_of_size(IPV4_UDP_MAX_PAYLOAD + 1))
    daemon.sync()
    assert daemon.documents == []


def test_datagram_larger_than_the_read_buffer_is_rejected_not_truncated(sender):
    with XRayDaemon(buffer_size=1024) as small:
        send(sender, small, datagram_of_size(1024))
        send(sender, small, datagram_of_size(1025))
        small.sync()
        assert len(small.documents) == 1
        assert small.rejections == [TRUNCATED]


def test_default_read_buffer_is_the_daemons_64_kib(sender):
    # 65,536 bytes cannot be carried by IPv4 UDP; the buffer size must not be what limits us.
    with XRayDaemon() as daemon:
        send(sender, daemon, datagram_of_size(IPV4_UDP_MAX_PAYLOAD))
        daemon.sync()
        assert daemon.rejected == 0


def test_empty_datagram_is_ignored_like_the_real_daemon(daemon, sender):
    send(sender, daemon, b"")
    daemon.sync()
    assert daemon.documents == [] and daemon.rejected == 0


def test_mark_splits_documents_per_invocation(daemon, sender):
    send(sender, daemon, HEADER + b'\n{"n": 1}')
    daemon.sync()
    mark = daemon.mark()
    send(sender, daemon, HEADER + b'\n{"n": 2}')
    send(sender, daemon, HEADER + b'\n{"n": 3}')
    daemon.sync()
    assert daemon.documents_since(mark) == [{"n": 2}, {"n": 3}]
    assert daemon.documents_since(0) == daemon.documents


def test_binds_the_port_it_is_given():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with XRayDaemon(port) as daemon:
        assert daemon.address == f"127.0.0.1:{port}"


def test_documents_stay_readable_after_close(sender):
    daemon = XRayDaemon()
    daemon.start()
    send(sender, daemon, HEADER + b"\n" + BODY)
    daemon.sync()
    daemon.close()
    assert daemon.documents == [DOC]
    with pytest.raises(RuntimeError):
        daemon.sync()
    daemon.close()  # idempotent


def test_returned_lists_are_copies(daemon, sender):
    send(sender, daemon, HEADER + b"\n" + BODY)
    daemon.sync()
    daemon.documents.clear()
    daemon.rejections.append("x")
    assert daemon.documents == [DOC] and daemon.rejections == []
