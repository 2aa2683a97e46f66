"""Finished spans leave the function process at once for the extension, or reach the daemon at the
end of the invocation without it; every span is accounted for and no emit ever waits."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest
from xraylayer import handoff as handoff_module
from xraylayer import semconv as sc
from xraylayer import wire
from xraylayer.handoff import Handoff
from xraylayer.spans import CLIENT, SERVER, Span
from xraylayer.tracer import TRACER, Tracer
from xraylayer_local.xray_daemon import XRayDaemon

TRACE_ID = "5759e988bd862e3fe1be46a994272793"
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
LAMBDA_PARENT = "53995c3f42cd8ad8"
REQUEST_ID = "8f5e2c7a-0000-4000-8000-000000000001"


class Intake:
    """A stand-in for the extension's intake: a unix datagram socket whose reader decodes."""

    def __init__(self, path: str, *, reading: bool = True) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages: list[wire.Message] = []
        self._reader: threading.Thread | None = None
        if reading:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()

    def _read(self) -> None:
        while True:
            data = self.sock.recv(wire.MAX_DATAGRAM_BYTES)
            if data == b"stop":
                return
            self.messages.append(wire.decode(data))

    def wait_for(self, kind: type, count: int = 1, timeout: float = 2.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if isinstance(m, kind)]
            if len(found) >= count:
                return found
            time.sleep(0.005)
        raise AssertionError(f"expected {count} {kind.__name__}, got {self.messages}")

    def spans(self) -> list[Span]:
        result = []
        for message in self.messages:
            if isinstance(message, wire.SpanMessage):
                result.append(message.span)
            elif isinstance(message, wire.SpanBatch):
                result.extend(item.span for item in message.items)
        return result

    def close(self) -> None:
        if self._reader is not None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as poke:
                poke.sendto(b"stop", self.path)
            self._reader.join(2)
        self.sock.close()
        os.unlink(self.path)


@pytest.fixture
def socket_dir() -> Iterator[str]:
    """A short directory: unix socket paths are limited to 107 bytes."""
    directory = tempfile.mkdtemp(prefix="xl-")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def intake_path(socket_dir: str) -> str:
    return os.path.join(socket_dir, "intake.sock")


@pytest.fixture
def intake(intake_path: str) -> Iterator[Intake]:
    server = Intake(intake_path)
    yield server
    server.close()


@pytest.fixture
def daemon() -> Iterator[XRayDaemon]:
    with XRayDaemon() as running:
        yield running


def invocation_span(sampled: bool = True) -> Span:
    return Span(
        "my-function",
        TRACE_ID,
        LAMBDA_PARENT,
        kind=SERVER,
        sampled=sampled,
        attributes={sc.FAAS_INVOCATION_ID: REQUEST_ID},
    )


def child_of(parent: Span, name: str, **attributes: object) -> Span:
    span = Span(
        name,
        parent.trace_id,
        parent.span_id,
        kind=CLIENT,
        sampled=parent.sampled,
        attributes=attributes,
    )
    span.end()
    return span


def accounted(stats: dict) -> int:
    return (
        stats["handed_off"] + stats["exported"] + sum(stats["dropped"].values()) + stats["pending"]
    )


# --- with the extension ---------------------------------------------------------------------------


def test_spans_reach_the_extension_between_start_and_end_markers(intake):
    handoff = Handoff(intake.path, environ={"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"})
    invocation = invocation_span()
    handoff.invocation_started(invocation)
    for name in ("DynamoDB", "S3"):
        handoff.emit(child_of(invocation, name))
    invocation.end()
    handoff.emit(invocation)
    handoff.invocation_finished(invocation)

    (end,) = intake.wait_for(wire.InvocationEnd)
    kinds = [type(m).__name__ for m in intake.messages]
    assert kinds == [
        "Hello",
        "InvocationStart",
        "SpanMessage",
        "SpanMessage",
        "SpanMessage",
        "InvocationEnd",
    ]
    hello, start = intake.messages[:2]
    assert hello == wire.Hello(os.getpid(), handoff_module.__version__, "169.254.79.129:2000")
    assert start.request_id == REQUEST_ID and start.span.span_id == invocation.span_id
    assert start.span.end_time is None
    assert [s.name for s in intake.spans()] == ["DynamoDB", "S3", "my-function"]
    assert all(m.request_id == REQUEST_ID for m in intake.messages[2:5])
    assert end == wire.InvocationEnd(REQUEST_ID, TRACE_ID, invocation.span_id, 3, 0, {})
    assert handoff.stats() == {
        "made": 3,
        "handed_off": 3,
        "exported": 0,
        "pending": 0,
        "dropped": {},
        "send_errors": {},
    }


def test_the_invocation_span_is_emitted_once_whether_or_not_the_tracer_finished_it(intake):
    handoff = Handoff(intake.path, environ={})
    first = invocation_span()
    handoff.invocation_started(first)
    handoff.invocation_finished(first)  # not finished through the tracer: emitted here
    second = invocation_span()
    handoff.invocation_started(second)
    second.end()
    handoff.emit(second)
    handoff.invocation_finished(second)
    intake.wait_for(wire.InvocationEnd, 2)
    assert [s.span_id for s in intake.spans()] == [first.span_id, second.span_id]
    assert first.ended
    assert handoff.stats()["made"] == 2


def test_hello_is_sent_once(intake):
    handoff = Handoff(intake.path, environ={})
    for _ in range(3):
        span = invocation_span()
        handoff.invocation_started(span)
        handoff.invocation_finished(span)
    intake.wait_for(wire.InvocationEnd, 3)
    assert sum(isinstance(m, wire.Hello) for m in intake.messages) == 1


def test_spans_queued_before_the_extension_appears_are_handed_over_in_order_in_batches(intake_path):
    handoff = Handoff(intake_path, environ={})
    parent = invocation_span()
    for i in range(50):  # during init, before the extension bound its socket
        handoff.emit(child_of(parent, f"init-{i}"))
    assert handoff.stats()["pending"] == 50
    assert handoff.stats()["send_errors"] == {"ENOENT": 50}  # one cheap try per emit
    intake = Intake(intake_path)
    try:
        handoff.invocation_started(parent)
        handoff.invocation_finished(parent)
        intake.wait_for(wire.InvocationEnd)
        assert [s.name for s in intake.spans()] == [f"init-{i}" for i in range(50)] + [
            "my-function"
        ]
        assert any(isinstance(m, wire.SpanBatch) for m in intake.messages)
        assert handoff.stats()["handed_off"] == 51
    finally:
        intake.close()


# --- without the extension: straight to the daemon ---------------------------------------------


def test_without_the_extension_sampled_spans_go_to_the_daemon_at_the_end(intake_path, daemon):
    handoff = Handoff(intake_path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    invocation = invocation_span()
    handoff.invocation_started(invocation)
    dynamodb = child_of(
        invocation, "DynamoDB", **{sc.RPC_SYSTEM: "aws-api", sc.RPC_METHOD: "GetItem"}
    )
    handoff.emit(dynamodb)
    unsampled = Span("init-work", "0" * 31 + "1", sampled=False)
    unsampled.end()
    handoff.emit(unsampled)
    assert daemon.documents == []  # nothing leaves before the invocation ends
    handoff.invocation_finished(invocation)
    daemon.sync()

    documents = {d["name"]: d for d in daemon.documents}
    assert set(documents) == {"DynamoDB", "my-function"}
    assert documents["my-function"]["parent_id"] == LAMBDA_PARENT  # under Lambda's Invocation
    assert documents["my-function"]["trace_id"] == ROOT
    assert documents["DynamoDB"]["parent_id"] == invocation.span_id
    assert documents["DynamoDB"]["namespace"] == "aws"
    assert all(d["type"] == "subsegment" for d in daemon.documents)
    stats = handoff.stats()
    assert stats["exported"] == 2
    assert stats["dropped"] == {"unsampled": 1}
    assert stats["handed_off"] == 0 and stats["pending"] == 0
    assert accounted(stats) == stats["made"] == 3


def test_an_exception_that_reached_the_handler_is_referenced_not_repeated(intake_path, daemon):
    handoff = Handoff(intake_path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    invocation = invocation_span()
    handoff.invocation_started(invocation)
    child = Span("S3", TRACE_ID, invocation.span_id, kind=CLIENT)
    try:
        raise PermissionError("AccessDenied")
    except PermissionError as error:
        child.record_exception(error, remote=True)
        invocation.record_exception(error)
    child.end()
    handoff.emit(child)
    handoff.invocation_finished(invocation)
    daemon.sync()
    documents = {d["name"]: d for d in daemon.documents}
    exception_id = documents["S3"]["cause"]["exceptions"][0]["id"]
    assert documents["my-function"]["cause"] == exception_id
    assert documents["my-function"]["fault"] is True


def test_without_extension_or_daemon_address_spans_are_counted_as_dropped(intake_path, capsys):
    handoff = Handoff(intake_path, environ={})
    invocation = invocation_span()
    handoff.invocation_started(invocation)
    handoff.emit(child_of(invocation, "S3"))
    handoff.invocation_finished(invocation)
    stats = handoff.stats()
    assert stats["dropped"] == {"no_daemon_address": 2}
    assert accounted(stats) == stats["made"] == 2
    err = capsys.readouterr().err
    assert (
        err.count("span(s) dropped so far: no extension took them and AWS_XRAY_DAEMON_ADDRESS") == 1
    )
    handoff.invocation_started(invocation)
    handoff.invocation_finished(invocation)
    assert "dropped" not in capsys.readouterr().err  # once per reason


def test_an_unsampled_invocation_without_extension_is_dropped_and_counted(intake_path, daemon):
    handoff = Handoff(intake_path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    invocation = invocation_span(sampled=False)
    handoff.invocation_started(invocation)
    handoff.emit(child_of(invocation, "S3"))
    handoff.invocation_finished(invocation)
    daemon.sync()
    assert daemon.documents == []
    assert handoff.stats()["dropped"] == {"unsampled": 2}


# --- an extension that does not keep up --------------------------------------------------------


def test_a_receiver_that_never_reads_never_blocks_emit_and_every_span_is_counted(
    intake_path, daemon
):
    deaf = Intake(intake_path, reading=False)
    try:
        handoff = Handoff(
            intake_path, max_pending=100, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address}
        )
        invocation = invocation_span()
        handoff.invocation_started(invocation)
        for i in range(1000):  # a blocking send would hang here: the reader never reads
            handoff.emit(child_of(invocation, f"call-{i}", payload="p" * 200))
        stats = handoff.stats()
        assert stats["handed_off"] > 0  # the socket queue took the first ones
        assert "EAGAIN" in stats["send_errors"]
        assert stats["dropped"]["buffer_full"] > 0
        assert stats["pending"] == 100

        handoff.invocation_finished(invocation)
        daemon.sync()
        stats = handoff.stats()
        assert stats["pending"] == 0
        assert stats["exported"] == len(daemon.documents) == 100  # the queue, newest kept
        assert daemon.documents[-1]["name"] == "my-function"
        assert accounted(stats) == stats["made"] == 1001
    finally:
        deaf.close()


def test_at_the_end_a_busy_extension_gets_every_span_and_the_end_marker(intake_path, daemon):
    """A cold start fills the socket's queue while the extension is still starting: the end
    of the invocation waits briefly for room instead of losing the end marker (without which
    the extension would wait for the deadline) or sending spans to the daemon."""
    late = Intake(intake_path, reading=False)
    try:
        handoff = Handoff(intake_path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
        invocation = invocation_span()
        handoff.invocation_started(invocation)
        for i in range(600):
            handoff.emit(child_of(invocation, f"import-{i}", payload="p" * 200))
        assert handoff.stats()["pending"] > 0  # the queue is full
        late._reader = threading.Thread(target=late._read, daemon=True)
        late._reader.start()
        handoff.invocation_finished(invocation)
        (end,) = late.wait_for(wire.InvocationEnd)
        stats = handoff.stats()
        assert (stats["handed_off"], stats["exported"], stats["dropped"]) == (601, 0, {})
        assert end.handed_off == 601
        assert len({span.name for span in late.spans()}) == 601
    finally:
        late.close()


# --- the process's sink ------------------------------------------------------------------------


def test_handoff_is_one_lazily_made_object_that_install_connects_to_the_tracer():
    tracer = Tracer()
    first = handoff_module.install(tracer)
    assert tracer.sink is first is handoff_module.HANDOFF
    from xraylayer.handoff import HANDOFF

    assert HANDOFF is first
    assert TRACER is not tracer
    with pytest.raises(AttributeError):
        handoff_module.NOT_THERE  # noqa: B018


def test_callbacks_run_once_at_the_next_invocation_start(intake_path):
    handoff = Handoff(intake_path, environ={})
    calls = []
    handoff.call_at_next_invocation(lambda: calls.append("ran"))

    def broken() -> None:
        raise RuntimeError("callback bug")

    handoff.call_at_next_invocation(broken)
    for _ in range(2):
        span = invocation_span()
        handoff.invocation_started(span)
        handoff.invocation_finished(span)
    assert calls == ["ran"]


def test_a_span_that_cannot_be_encoded_is_counted_not_raised(intake_path, monkeypatch, capsys):
    handoff = Handoff(intake_path, environ={})

    def broken(*args: object) -> bytes:
        raise RuntimeError("encoder bug")

    monkeypatch.setattr(wire, "encode_span_item", broken)
    span = Span("x", TRACE_ID)
    span.end()
    handoff.emit(span)
    assert handoff.stats()["dropped"] == {"encode_failed": 1}
    assert "xraylayer: ERROR encoding a span for the extension failed" in capsys.readouterr().err


def test_the_end_marker_counts_only_its_own_invocation(intake_path, daemon):
    handoff = Handoff(intake_path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    first = invocation_span()
    handoff.invocation_started(first)
    handoff.emit(child_of(first, "a"))
    handoff.invocation_finished(first)
    intake = Intake(intake_path)
    try:
        second = invocation_span()
        handoff.invocation_started(second)
        handoff.emit(child_of(second, "b"))
        handoff.invocation_finished(second)
        (end,) = intake.wait_for(wire.InvocationEnd)
        assert (end.handed_off, end.exported, end.dropped) == (2, 0, {})
    finally:
        intake.close()


def test_handing_off_imports_nothing_heavy(intake_path):
    """The hot path loads neither OpenTelemetry nor the X-Ray conversion (fallback only)."""
    code = f"""
import sys
from xraylayer.handoff import Handoff
from xraylayer.spans import Span
handoff = Handoff({intake_path!r}, environ={{}})
span = Span("x", "{TRACE_ID}")
span.end()
handoff.emit(span)
heavy = ("opentelemetry", "xraylayer.xray_document", "xraylayer.xray_udp")
print([m for m in heavy if m in sys.modules])
"""
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
