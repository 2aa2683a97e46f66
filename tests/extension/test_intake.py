"""The span intake over a real unix socket, fed by the layer's real sender (``Handoff``)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator

import pytest
from xraylayer import semconv as sc
from xraylayer.handoff import Handoff
from xraylayer.spans import Span
from xraylayer_extension.intake import DEADLINE, ENDED, NO_START, RUNTIME_GONE, Intake
from xraylayer_extension.invocations import (
    ALREADY_CLOSED,
    INTAKE_FULL,
    InvocationStore,
    held_span_bound,
)

TRACE = "5759e988bd862e3fe1be46a994272793"
DAEMON = "127.0.0.1:2999"


@pytest.fixture
def socket_path() -> Iterator[str]:
    """A short path: pytest's tmp_path can exceed the 107 bytes a socket path may have."""
    folder = tempfile.mkdtemp(prefix="xl-", dir="/tmp")
    yield os.path.join(folder, "intake.sock")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def intake(socket_path: str) -> Iterator[Intake]:
    receiver = Intake(socket_path)
    yield receiver
    receiver.close()


def _invocation_span(request_id: str) -> Span:
    return Span("orders", TRACE, "53995c3f42cd8ad8", attributes={sc.FAAS_INVOCATION_ID: request_id})


def _run_invocation(handoff: Handoff, request_id: str, children: list[str]) -> Span:
    invocation = _invocation_span(request_id)
    handoff.invocation_started(invocation)
    for name in children:
        child = Span(name, TRACE, invocation.span_id)
        child.end()
        handoff.emit(child)
    invocation.end()
    handoff.invocation_finished(invocation)
    return invocation


def test_spans_from_the_real_sender_arrive_grouped_by_request_id(
    intake: Intake, socket_path: str
) -> None:
    handoff = Handoff(intake=socket_path, environ={"AWS_XRAY_DAEMON_ADDRESS": DAEMON})
    first = _run_invocation(handoff, "rid-1", ["S3", "DynamoDB"])
    second = _run_invocation(handoff, "rid-2", ["SQS"])

    assert intake.wait_for_end("rid-2", time.time() + 2) == ENDED
    with intake.condition:
        one, two = intake.store.invocations["rid-1"], intake.store.invocations["rid-2"]
        assert [s.name for s in one.spans] == ["S3", "DynamoDB", "orders"]
        assert [s.name for s in two.spans] == ["SQS", "orders"]
        assert one.ended and two.ended
        assert one.open_span is two.open_span is None  # replaced by the finished span
        assert one.spans[-1].span_id == first.span_id
        assert two.spans[-1].span_id == second.span_id
        spans, open_span = intake.store.take("rid-2")
    # Taking one invocation takes every other that already ended too (children first).
    assert [s.name for s in spans] == ["S3", "DynamoDB", "orders", "SQS", "orders"]
    assert open_span is None and intake.store.held == 0
    assert intake.daemon_address == DAEMON
    assert intake.runtime_pid == os.getpid()
    assert handoff.stats()["exported"] == intake.function_exported == 0
    assert intake.store.received == handoff.stats()["handed_off"] == 5


def test_an_invocation_without_end_keeps_its_open_span_and_children(
    intake: Intake, socket_path: str
) -> None:
    handoff = Handoff(intake=socket_path, environ={})
    invocation = _invocation_span("rid-9")
    handoff.invocation_started(invocation)
    child = Span("S3", TRACE, invocation.span_id)
    child.end()
    handoff.emit(child)

    assert intake.wait_for_end("rid-9", time.time() + 0.3) == DEADLINE
    with intake.condition:
        spans, open_span = intake.store.take("rid-9")
    assert [s.name for s in spans] == ["S3"]
    assert open_span is not None and open_span.span_id == invocation.span_id
    assert open_span.end_time is None


def test_init_spans_and_late_spans_are_kept_apart_and_go_with_the_next_take(
    intake: Intake, socket_path: str
) -> None:
    handoff = Handoff(intake=socket_path, environ={})
    init_span = Span("init-work", TRACE)
    init_span.end()
    handoff.emit(init_span)  # no invocation yet: no request id
    _run_invocation(handoff, "rid-1", [])
    assert intake.wait_for_end("rid-1", time.time() + 2) == ENDED
    with intake.condition:
        spans, _ = intake.store.take("rid-1")
    assert [s.name for s in spans] == ["init-work", "orders"]

    intake.accept(
        b'{"v":1,"t":"span","rid":"rid-1","span":{"name":"late","trace_id":"'
        + TRACE.encode()
        + b'","span_id":"53995c3f42cd8ad9","start":1.0,"end":2.0}}'
    )
    _run_invocation(handoff, "rid-2", [])
    assert intake.wait_for_end("rid-2", time.time() + 2) == ENDED
    with intake.condition:
        spans, _ = intake.store.take("rid-2")
    assert [s.name for s in spans] == ["late", "orders"]


def test_malformed_datagrams_are_counted_and_the_intake_keeps_working(
    intake: Intake, socket_path: str
) -> None:
    import socket

    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for data in (b"\xff\xfe", b"[]", b'{"v":2,"t":"span"}', b'{"v":1,"t":"span","rid":3}'):
        sender.sendto(data, socket_path)
    sender.close()
    handoff = Handoff(intake=socket_path, environ={})
    _run_invocation(handoff, "rid-1", ["S3"])
    assert intake.wait_for_end("rid-1", time.time() + 2) == ENDED
    assert sum(intake.malformed.values()) == 4


def test_the_socket_replaces_a_stale_file_and_is_private(socket_path: str) -> None:
    with open(socket_path, "w") as stale:
        stale.write("left over by an earlier sandbox")
    intake = Intake(socket_path)
    try:
        mode = os.stat(socket_path).st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    finally:
        intake.close()
    assert not os.path.exists(socket_path)


def test_the_store_holds_a_bounded_number_of_spans_and_counts_the_rest() -> None:
    store = InvocationStore(max_spans=3)
    for index in range(5):
        span = Span(f"s{index}", TRACE)
        span.end()
        store.add("rid-1", span)
    assert store.held == 3
    assert store.dropped == {INTAKE_FULL: 2}
    spans, _ = store.take("rid-1")
    assert len(spans) == 3 and store.held == 0


def test_a_full_store_still_keeps_the_invocation_span() -> None:
    store = InvocationStore(max_spans=2)
    invocation = Span("orders", TRACE)
    store.started("rid-1", invocation)
    for index in range(3):
        child = Span(f"s{index}", TRACE, invocation.span_id)
        child.end()
        store.add("rid-1", child)
    invocation.end()
    store.add("rid-1", invocation)
    spans, open_span = store.take("rid-1")
    assert [span.name for span in spans] == ["s0", "s1", "orders"] and open_span is None
    assert store.dropped == {INTAKE_FULL: 1} and store.held == 0


def test_an_invocation_span_the_extension_closed_is_not_exported_again_when_it_comes_late() -> None:
    """Lambda said the runtime was done before the function's end marker arrived: the
    extension closed and exported the open copy; the function's own, arriving later, would
    show the invocation twice. It is counted as dropped instead."""
    store = InvocationStore()
    invocation = Span("orders", TRACE)
    store.started("rid-1", invocation)
    spans, open_span = store.take("rid-1")
    assert spans == [] and open_span is invocation and store.closed_here == 1
    late = Span("orders", TRACE, span_id=invocation.span_id)
    late.end()
    store.add("rid-1", late)
    assert store.take_all() == ([], [])
    assert store.received == 1 and store.dropped == {ALREADY_CLOSED: 1}


def test_open_spans_left_at_shutdown_are_closed_by_the_extension_and_counted() -> None:
    store = InvocationStore()
    store.started("rid-1", Span("orders", TRACE))
    _, open_spans = store.take_all()
    assert [span.name for span in open_spans] == ["orders"] and store.closed_here == 1


def test_waiting_stops_when_no_start_comes_or_the_runtime_is_gone(intake: Intake) -> None:
    began = time.time()
    assert intake.wait_for_end("rid-1", began + 5, start_grace_s=0.1) == NO_START
    assert time.time() - began < 1
    intake.accept(
        b'{"v":1,"t":"start","rid":"rid-2","span":{"name":"orders","trace_id":"'
        + TRACE.encode()
        + b'","span_id":"53995c3f42cd8ad9","start":1.0}}'
    )
    assert intake.wait_for_end("rid-2", began + 5, lambda: False, start_grace_s=0.1) == (
        RUNTIME_GONE
    )


def test_stopping_files_every_datagram_already_queued_first(socket_path: str) -> None:
    """At SHUTDOWN the runtime may have just handed spans over: whatever the socket queued
    before ``stop`` is filed, none is dropped with the socket."""
    intake = Intake(socket_path)
    handoff = Handoff(intake=socket_path, environ={})
    try:
        for index in range(200):  # no invocation: loose spans, sent as fast as it can
            span = Span(f"late-{index}", TRACE, None)
            span.end()
            handoff.emit(span)
        intake.stop()
        made, pending = handoff.stats()["made"], handoff.stats()["pending"]
        assert intake.store.received == made - pending
    finally:
        intake.close()


@pytest.mark.parametrize(
    ("memory", "bound"),
    [
        ("128", 5_120),
        ("10240", 10_000),
        ("3", 1_000),
        ("256", 10_000),
        ("", 10_000),
        ("lots", 10_000),
    ],
)
def test_the_hold_bound_follows_the_functions_memory_size(memory: str, bound: int) -> None:
    """The extension's memory is the function's: a 128 MB function's extension holds at most
    about 10 MiB of spans, a large one at most 10,000 spans."""
    assert held_span_bound({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory}) == bound


def test_the_intake_takes_its_hold_bound_from_the_environment(
    socket_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    intake = Intake(socket_path)
    try:
        assert intake.store.max_spans == 5_120
    finally:
        intake.close()
