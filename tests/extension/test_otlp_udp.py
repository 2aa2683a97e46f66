"""The OTLP/UDP exporter against a real UDP socket on 127.0.0.1, read as the daemon reads it.

The receiver splits each datagram at the first newline, checks the header line, takes the
3-character prefix and decodes the base64 protobuf with ``opentelemetry-proto``. Nothing waits
on time: after an export the test sends a marker datagram from another socket and the receiver
answers with all it read before it; on loopback a datagram is queued for the receiver before
``sendto`` returns, so that is everything the exporter sent.
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_request import spans_of
from test_otlp_json import PARENT_ID, TRACE_ID, attributes_of
from xraylayer.spans import Span
from xraylayer.xray_udp import HEADER
from xraylayer_extension import otlp_protobuf, otlp_udp
from xraylayer_extension.export_result import ExportResult
from xraylayer_extension.otlp_udp import (
    MAX_DATAGRAM_BYTES,
    MAX_STRING_CHARS,
    OtlpUdpExporter,
    daemon_endpoint,
)

ROOT = Path(__file__).resolve().parents[2]
MARKER = b"end of export"
STOP = b"stop receiving"
WAIT_S = 10.0  # an upper bound for the receiver's answers, never a pause


class Datagram:
    """One datagram as the daemon reads it."""

    def __init__(self, data: bytes, sender: tuple[str, int]) -> None:
        self.size = len(data)
        self.sender = sender
        header, newline, rest = data.partition(b"\n")
        assert newline and header + newline == HEADER, data[:60]
        assert json.loads(header) == {"format": "json", "version": 1}
        self.prefix = rest[:3].decode()
        self.request = ExportTraceServiceRequest.FromString(
            base64.b64decode(rest[3:], validate=True)
        )

    @property
    def spans(self) -> list[Any]:
        return [span for _, span in spans_of(self.request)]


RECEIVER = """
import base64, json, socket
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
received = []
while True:
    data, sender = sock.recvfrom(65536)
    if data == STOP:
        break
    if data == MARKER:
        print(json.dumps(received), flush=True)
        received = []
    else:
        received.append([base64.b64encode(data).decode(), *sender])
"""


class Receiver:
    """A daemon's UDP port on 127.0.0.1, drained by a process of its own (so a burst is read
    as fast as it comes, whatever this process is doing)."""

    def __init__(self) -> None:
        code = f"MARKER, STOP = {MARKER!r}, {STOP!r}\n{RECEIVER}"
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
        )
        self.port = int(self._line())
        self.address = f"127.0.0.1:{self.port}"

    def datagrams(self) -> list[Datagram]:
        """Everything received until now, which is everything sent before this call."""
        self._send(MARKER)
        return [
            Datagram(base64.b64decode(data), (host, port))
            for data, host, port in json.loads(self._line())
        ]

    def close(self) -> None:
        self._send(STOP)
        try:
            self._process.wait(WAIT_S)
        finally:
            self._process.kill()
            self._process.stdout.close()  # type: ignore[union-attr]

    def _send(self, data: bytes) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(data, ("127.0.0.1", self.port))

    def _line(self) -> str:
        ready, _, _ = select.select([self._process.stdout], [], [], WAIT_S)
        assert ready, "the receiver did not answer"
        return self._process.stdout.readline()  # type: ignore[union-attr]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def spans(count: int = 3, *, sampled: bool = True, **attributes: Any) -> list[Span]:
    result = []
    for index in range(count):
        span = Span(
            f"op{index}",
            TRACE_ID,
            PARENT_ID,
            sampled=sampled,
            attributes=attributes,
            start_time=1700000000.0 + index,
        )
        span.end(1700000000.5 + index)
        result.append(span)
    return result


def exporter(receiver: Receiver, **environ: str) -> OtlpUdpExporter:
    return OtlpUdpExporter({"AWS_XRAY_DAEMON_ADDRESS": receiver.address, **environ})


def soon() -> float:
    return time.monotonic() + 60.0


def accounted(result: ExportResult, count: int) -> ExportResult:
    assert result.total == count, result
    return result


def ids(datagrams: list[Datagram]) -> Counter[str]:
    return Counter(span.span_id.hex() for datagram in datagrams for span in datagram.spans)


# --- what the daemon receives ------------------------------------------------------------------


def test_spans_arrive_in_the_form_adot_sends(receiver: Receiver) -> None:
    sent = spans(3)
    made = exporter(receiver, AWS_LAMBDA_FUNCTION_NAME="orders", AWS_REGION="eu-west-1")
    assert made.name == "otlp-udp"
    assert accounted(made.export(sent, soon()), 3) == ExportResult(exported=3, attempts=1)
    (datagram,) = receiver.datagrams()
    assert datagram.prefix == "T1S"
    assert [span.span_id.hex() for span in datagram.spans] == [span.span_id for span in sent]
    assert [span.name for span in datagram.spans] == ["op0", "op1", "op2"]
    assert {span.flags for span in datagram.spans} == {1}
    assert {span.trace_id.hex() for span in datagram.spans} == {TRACE_ID}
    (resource_spans,) = datagram.request.resource_spans
    resource = attributes_of(resource_spans.resource)
    assert (resource["service.name"], resource["cloud.region"]) == ("orders", "eu-west-1")
    assert resource_spans.scope_spans[0].scope.name == "xraylayer"


def test_sampled_and_unsampled_spans_go_in_datagrams_of_their_own(receiver: Receiver) -> None:
    sampled, unsampled = spans(4), spans(3, sampled=False)
    mixed = [sampled[0], unsampled[0], sampled[1], unsampled[1], sampled[2], unsampled[2]]
    result = exporter(receiver).export([*mixed, sampled[3]], soon())
    assert result == ExportResult(exported=7, attempts=2)
    by_prefix = {datagram.prefix: datagram for datagram in receiver.datagrams()}
    assert set(by_prefix) == {"T1S", "T1U"}
    assert [s.span_id.hex() for s in by_prefix["T1S"].spans] == [s.span_id for s in sampled]
    assert [s.span_id.hex() for s in by_prefix["T1U"].spans] == [s.span_id for s in unsampled]
    assert {s.flags for s in by_prefix["T1S"].spans} == {1}
    assert {s.flags for s in by_prefix["T1U"].spans} == {0}
    assert all("aws.trace.flag.sampled" not in attributes_of(s) for s in by_prefix["T1S"].spans)
    for span in by_prefix["T1U"].spans:
        assert attributes_of(span)["aws.trace.flag.sampled"] is False


@pytest.mark.parametrize(("sampled", "prefix", "flags"), [(True, "T1S", 1), (False, "T1U", 0)])
def test_the_caller_can_say_how_all_spans_go(
    receiver: Receiver, sampled: bool, prefix: str, flags: int
) -> None:
    mixed = spans(2) + spans(2, sampled=False)
    assert exporter(receiver).export(mixed, soon(), sampled=sampled).exported == 4
    (datagram,) = receiver.datagrams()
    assert datagram.prefix == prefix
    assert [span.flags for span in datagram.spans] == [flags] * 4


def test_a_burst_of_thousands_of_spans_arrives_whole_in_datagrams_under_the_limit(
    receiver: Receiver,
) -> None:
    burst = []
    for index in range(6000):
        span = Span(f"call {index}", TRACE_ID, PARENT_ID, sampled=index % 3 != 0)
        span.attributes = {"http.url": "https://example.com/" + "p" * (index % 700), "n": index}
        span.end()
        burst.append(span)
    result = exporter(receiver).export(burst, soon())
    datagrams = receiver.datagrams()
    assert result == ExportResult(exported=6000, attempts=len(datagrams))
    assert ids(datagrams) == Counter(span.span_id for span in burst)  # each span once
    assert len(datagrams) > 20
    assert max(datagram.size for datagram in datagrams) <= MAX_DATAGRAM_BYTES
    sampled = {span.span_id for span in burst if span.sampled}
    for datagram in datagrams:
        expected = datagram.prefix == "T1S"
        assert all((span.span_id.hex() in sampled) == expected for span in datagram.spans)


# --- spans that do not fit ---------------------------------------------------------------------


def test_a_span_too_large_for_a_datagram_has_its_strings_cut(receiver: Receiver) -> None:
    (large,) = spans(1, **{"db.statement": "x" * 200_000, "small": "kept"})
    assert exporter(receiver).export([large], soon()).exported == 1
    (datagram,) = receiver.datagrams()
    assert datagram.size <= MAX_DATAGRAM_BYTES
    attributes = attributes_of(datagram.spans[0])
    assert attributes["db.statement"] == "x" * MAX_STRING_CHARS + "…"
    assert attributes["small"] == "kept"
    assert attributes["xraylayer.truncated"] == ["strings"]


def test_a_span_still_too_large_loses_its_attributes_events_and_links(receiver: Receiver) -> None:
    (large,) = spans(1, **{f"attribute.{n}": "v" * 3000 for n in range(40)})
    large.exceptions = [{"type": "E", "message": "m" * 3000, "stack": []}] * 30
    large.links = [(TRACE_ID, PARENT_ID)]
    large.fault = True
    assert exporter(receiver).export([large], soon()).exported == 1
    ((span,),) = [datagram.spans for datagram in receiver.datagrams()]
    assert (span.name, span.span_id.hex()) == ("op0", large.span_id)
    assert attributes_of(span) == {
        "xraylayer.truncated": ["strings", "attributes", "events", "links"]
    }
    assert (span.dropped_attributes_count, span.dropped_events_count) == (40, 30)
    assert span.dropped_links_count == 1
    assert span.status.code == 2


def test_spans_that_cannot_fit_at_all_are_dropped_as_too_large(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    huge_resource = {"OTEL_RESOURCE_ATTRIBUTES": "team=" + "x" * 70_000}
    result = exporter(receiver, **huge_resource).export(spans(3), soon())
    assert result == ExportResult(dropped={"too_large": 3})
    assert receiver.datagrams() == []
    assert capsys.readouterr().err.count("xraylayer: WARNING a span does not fit") == 1


def test_spans_otlp_cannot_carry_are_counted_as_invalid(receiver: Receiver) -> None:
    bad = spans(2)
    bad[0].trace_id = "not-a-trace-id"
    result = exporter(receiver).export(bad, soon())
    assert result == ExportResult(exported=1, dropped={"invalid_span": 1}, attempts=1)
    assert len(receiver.datagrams()) == 1


# --- deadlines and failures --------------------------------------------------------------------


def test_a_deadline_already_past_sends_nothing(receiver: Receiver) -> None:
    result = exporter(receiver).export(spans(5) + spans(2, sampled=False), 0.0)
    assert result == ExportResult(dropped={"deadline": 7})
    assert receiver.datagrams() == []


def test_spans_left_when_the_deadline_passes_are_counted(receiver: Receiver) -> None:
    ticks = iter(range(10**6))
    made = OtlpUdpExporter({"AWS_XRAY_DAEMON_ADDRESS": receiver.address}, clock=lambda: next(ticks))
    burst = spans(3000, padding="p" * 200)
    result = accounted(made.export(burst, deadline=8), 3000)
    datagrams = receiver.datagrams()
    assert 0 < result.exported < 3000
    assert result.dropped == {"deadline": 3000 - result.exported}
    assert sum(ids(datagrams).values()) == result.exported == sum(len(d.spans) for d in datagrams)


def test_an_unresolvable_daemon_host_drops_the_spans_with_one_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = OtlpUdpExporter({}, daemon_address=lambda: "a..b:2000")
    for _ in range(2):
        result = made.export(spans(2), soon())
        assert (result.dropped, result.attempts) == ({"daemon_unresolvable": 2}, 1)
        assert result.message.startswith("Unicode")  # type: ignore[union-attr]  # IDNA's
    assert capsys.readouterr().err.count("xraylayer: WARNING X-Ray daemon a..b:2000 unusable") == 1


def test_a_datagram_the_kernel_refuses_is_counted_by_its_errno(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Broadcast without SO_BROADCAST: Linux refuses it (EACCES)."""
    made = OtlpUdpExporter({}, daemon_address=lambda: "255.255.255.255:2000")
    result = made.export(spans(2), soon())
    assert (result.dropped, result.attempts) == ({"send_eacces": 2}, 1)
    assert result.message == "PermissionError: [Errno 13] Permission denied"
    assert (
        "xraylayer: WARNING OTLP/UDP send to 255.255.255.255:2000 failed" in capsys.readouterr().err
    )


def test_export_never_raises_and_counts_what_it_could_not_send(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = otlp_protobuf.encode_batches

    def failing_after_one(*args: Any, **kwargs: Any) -> Iterator[tuple[bytes | None, int]]:
        batches = real(*args, **kwargs)
        yield next(batches)
        raise RuntimeError("boom")

    monkeypatch.setattr(otlp_protobuf, "encode_batches", failing_after_one)
    burst = spans(2000, padding="p" * 200)
    result = accounted(exporter(receiver).export(burst, soon()), 2000)
    assert 0 < result.exported < 2000
    assert result.dropped == {"internal_error": 2000 - result.exported}
    assert sum(len(datagram.spans) for datagram in receiver.datagrams()) == result.exported
    assert "xraylayer: ERROR OTLP/UDP export failed" in capsys.readouterr().err


def test_spans_that_cannot_be_read_are_an_internal_error_not_an_exception() -> None:
    def broken() -> Iterator[Span]:
        yield from spans(1)
        raise RuntimeError("a generator that fails")

    assert OtlpUdpExporter({}).export(broken(), soon()) == ExportResult()


def test_nothing_to_send_sends_nothing(receiver: Receiver) -> None:
    assert exporter(receiver).export([], soon()) == ExportResult()
    assert receiver.datagrams() == []


# --- the daemon's address and the socket -------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "told", "endpoint"),
    [
        ({}, None, ("127.0.0.1", 2000)),
        ({"AWS_XRAY_DAEMON_ADDRESS": " "}, None, ("127.0.0.1", 2000)),
        ({"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}, None, ("169.254.79.129", 2000)),
        (
            {"AWS_XRAY_DAEMON_ADDRESS": "tcp:10.0.0.1:2000 udp:10.0.0.2:2001"},
            None,
            ("10.0.0.2", 2001),
        ),
        ({"AWS_XRAY_DAEMON_ADDRESS": "udp:[::1]:2000"}, None, ("::1", 2000)),
        ({"AWS_XRAY_DAEMON_ADDRESS": "10.0.0.1:2000"}, "127.0.0.1:3000", ("127.0.0.1", 3000)),
        ({}, "169.254.79.129:2000", ("169.254.79.129", 2000)),
    ],
)
def test_the_daemon_endpoint(
    environ: dict[str, str], told: str | None, endpoint: tuple[str, int]
) -> None:
    assert daemon_endpoint(environ, told) == endpoint


@pytest.mark.parametrize("value", ["nonsense", "host:port", "tcp:127.0.0.1:2000", "h:0"])
def test_a_malformed_daemon_address_is_logged_once_and_the_default_used(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    for _ in range(2):
        assert daemon_endpoint({"AWS_XRAY_DAEMON_ADDRESS": value}) == ("127.0.0.1", 2000)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"xraylayer: WARNING AWS_XRAY_DAEMON_ADDRESS={value!r} is neither")


def test_the_address_the_function_reported_wins_over_the_environment(receiver: Receiver) -> None:
    made = OtlpUdpExporter(
        {"AWS_XRAY_DAEMON_ADDRESS": "a..b:2000"}, daemon_address=lambda: receiver.address
    )
    result = made.export(spans(2), soon())
    assert result == ExportResult(exported=2, attempts=1)
    assert len(receiver.datagrams()) == 1


def test_the_socket_is_kept_and_replaced_when_the_address_changes(receiver: Receiver) -> None:
    other = Receiver()
    try:
        told: list[str | None] = [None]
        made = OtlpUdpExporter(
            {"AWS_XRAY_DAEMON_ADDRESS": receiver.address}, daemon_address=lambda: told[-1]
        )
        made.export(spans(1), soon())
        made.export(spans(1), soon())
        first, second = receiver.datagrams()
        assert first.sender == second.sender
        told.append(other.address)  # the function process said where the daemon is
        made.export(spans(1), soon())
        (moved,) = other.datagrams()
        told.append(None)
        made.close()
        made.export(spans(1), soon())
        (reopened,) = receiver.datagrams()
        assert len({first.sender, moved.sender, reopened.sender}) == 3
    finally:
        other.close()


def test_importing_and_making_the_exporter_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from xraylayer_extension.otlp_udp import OtlpUdpExporter\n"
        "OtlpUdpExporter({})\n"
        "heavy = {'json', 'socket', 'base64', 'struct', 'binascii', 'typing',\n"
        "         'xraylayer.xray_udp', 'xraylayer_extension.otlp_json',\n"
        "         'xraylayer_extension.otlp_protobuf'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    environ = {**os.environ, "PYTHONPATH": f"{ROOT / 'layer'}:{ROOT / 'extension'}"}
    output = subprocess.run(
        [sys.executable, "-S", "-c", code], env=environ, capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


# --- pure parts --------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [otlp_udp.SAMPLED_PREFIX, otlp_udp.UNSAMPLED_PREFIX])
def test_the_largest_payload_makes_the_largest_datagram(prefix: bytes) -> None:
    limit = otlp_udp.max_payload_bytes()
    for size in range(limit - 5, limit + 1):
        assert len(otlp_udp.datagram(prefix, b"\xff" * size)) <= MAX_DATAGRAM_BYTES
    assert len(otlp_udp.datagram(prefix, b"\xff" * (limit + 1))) > MAX_DATAGRAM_BYTES
    for max_datagram in range(40, 200):  # the arithmetic, for every remainder of the base64
        limit = otlp_udp.max_payload_bytes(max_datagram)
        assert len(otlp_udp.datagram(prefix, bytes(limit))) <= max_datagram
        assert len(otlp_udp.datagram(prefix, bytes(limit + 3))) > max_datagram


def test_partition() -> None:
    yes, no = spans(2), spans(2, sampled=False)
    mixed = [yes[0], no[0], yes[1], no[1]]
    assert otlp_udp.partition(mixed, None) == [(b"T1S", yes), (b"T1U", no)]
    assert otlp_udp.partition(yes, None) == [(b"T1S", yes)]
    assert otlp_udp.partition(mixed, True) == [(b"T1S", mixed)]
    assert otlp_udp.partition(mixed, False) == [(b"T1U", mixed)]
    assert otlp_udp.partition([], None) == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PermissionError(13, "Permission denied"), "send_eacces"),
        (OSError(90, "Message too long"), "send_emsgsize"),
        (OSError("no errno"), "send_error"),
        (OSError(99999, "unknown"), "send_error"),
    ],
)
def test_send_failure_reasons(error: OSError, reason: str) -> None:
    assert otlp_udp.send_failure_reason(error) == reason


def test_shrinking_steps_note_what_they_cut() -> None:
    body = {
        "name": "n" * 10_000,
        "attributes": [{"key": "k", "value": {"stringValue": "v" * 10_000}}],
        "events": [{"name": "e"}],
        "droppedEventsCount": 2,
    }
    short = otlp_udp.short_strings(body)
    assert len(short["name"]) == len(short["attributes"][0]["value"]["stringValue"]) == 4097
    core = otlp_udp.without_details(short)
    assert core == {
        "name": short["name"],
        "attributes": [
            {
                "key": "xraylayer.truncated",
                "value": {
                    "arrayValue": {
                        "values": [
                            {"stringValue": "strings"},
                            {"stringValue": "attributes"},
                            {"stringValue": "events"},
                        ]
                    }
                },
            }
        ],
        "droppedAttributesCount": 1,
        "droppedEventsCount": 3,
    }
    assert otlp_udp.without_details({"name": "x"})["attributes"][0]["key"] == "xraylayer.truncated"
