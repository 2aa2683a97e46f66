"""The public API: custom subsegments around any kind of function or block, annotations and
metadata with X-Ray's rules applied, and never an exception because of the layer."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from collections.abc import Iterator

import pytest
import xraylayer
from span_sink import CollectingSink
from xraylayer import api, context
from xraylayer.api import annotate, capture, metadata
from xraylayer.spans import Span
from xraylayer.tracer import TRACER

TRACE_ID = "5759e988bd862e3fe1be46a994272793"


@pytest.fixture
def invocation(collected: CollectingSink) -> Iterator[Span]:
    span = Span("my-function", TRACE_ID, "53995c3f42cd8ad8")
    token = context.activate(span)
    yield span
    context.deactivate(token)
    assert context.current_span() is None


# --- the package -------------------------------------------------------------------------------


def test_import_xraylayer_does_not_load_the_api():
    code = "import sys, xraylayer; print('xraylayer.api' in sys.modules, 'json' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.split() == ["False", "False"]


def test_the_package_exports_the_api_lazily():
    assert xraylayer.capture is capture
    assert xraylayer.annotate is annotate
    assert xraylayer.metadata is metadata
    assert {"capture", "annotate", "metadata", "__version__"} <= set(dir(xraylayer))
    with pytest.raises(AttributeError):
        xraylayer.not_there  # noqa: B018


# --- capture: functions ------------------------------------------------------------------------


def test_capture_decorates_with_or_without_parentheses(invocation, collected):
    @capture
    def bare(x: int) -> int:
        """Doc kept."""
        return x + 1

    @capture()
    def empty_parentheses() -> str:
        return "ok"

    @capture("custom name")
    def named() -> None:
        return None

    assert bare(1) == 2 and empty_parentheses() == "ok" and named() is None
    assert [s.name for s in collected.spans] == ["bare", "empty_parentheses", "custom name"]
    assert all(
        s.parent_id == invocation.span_id and s.trace_id == TRACE_ID for s in collected.spans
    )
    assert bare.__name__ == "bare" and bare.__doc__ == "Doc kept."
    assert bare.__wrapped__ is not None


def test_the_captured_span_is_current_inside_and_nests(invocation, collected):
    seen = []

    @capture
    def inner() -> None:
        seen.append(context.current_span())

    @capture
    def outer() -> None:
        seen.append(context.current_span())
        inner()

    outer()
    outer_span, inner_span = collected.one("outer"), collected.one("inner")
    assert seen == [outer_span, inner_span]
    assert inner_span.parent_id == outer_span.span_id
    assert context.current_span() is invocation


def test_an_exception_is_recorded_and_reraised_unchanged(invocation, collected):
    original = ValueError("bad order")

    @capture
    def failing() -> None:
        raise original

    with pytest.raises(ValueError) as caught:
        failing()
    assert caught.value is original
    span = collected.one("failing")
    assert span.fault and span.ended
    assert span.exceptions[0]["type"] == "ValueError"
    assert span.exceptions[0]["message"] == "bad order"


def test_async_functions_are_traced_over_their_whole_await(invocation, collected):
    @capture
    async def fetch(delay: float) -> str:
        inside = context.current_span()
        await asyncio.sleep(delay)
        assert context.current_span() is inside
        return inside.name

    @capture
    async def broken() -> None:
        await asyncio.sleep(0)
        raise KeyError("k")

    async def main() -> list[str]:
        return await asyncio.gather(fetch(0.02), fetch(0.01))

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(main()) == ["fetch", "fetch"]
    spans = [s for s in collected.spans if s.name == "fetch"]
    assert len(spans) == 2 and all(s.duration_ms() >= 9 for s in spans)
    assert all(s.parent_id == invocation.span_id for s in spans)
    with pytest.raises(KeyError):
        asyncio.run(broken())
    assert collected.one("broken").exceptions[0]["type"] == "KeyError"


def test_generators_pass_values_both_ways_and_are_traced_over_the_iteration(invocation, collected):
    consumer_saw = []

    @capture
    def numbers(limit: int) -> Iterator[int]:
        total = 0
        for i in range(limit):
            received = yield i
            total += received or 0
            assert context.current_span().name == "numbers"
        return total

    assert inspect.isgeneratorfunction(numbers)
    generator = numbers(3)
    assert collected.spans == []  # nothing runs before the first next
    assert next(generator) == 0
    consumer_saw.append(context.current_span())
    assert generator.send(10) == 1
    assert generator.send(5) == 2
    with pytest.raises(StopIteration) as stop:
        generator.send(1)
    assert stop.value.value == 16
    assert consumer_saw == [invocation]  # not the generator's span while the consumer runs
    span = collected.one("numbers")
    assert span.ended and not span.fault and span.parent_id == invocation.span_id


def test_a_generator_closed_early_ends_its_span_without_a_fault(invocation, collected):
    cleaned = []

    @capture
    def endless() -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            cleaned.append(context.current_span().name)

    generator = endless()
    next(generator)
    generator.close()
    assert cleaned == ["endless"]
    span = collected.one("endless")
    assert span.ended and not span.fault


def test_an_exception_thrown_into_a_generator_reaches_it(invocation, collected):
    @capture
    def resilient() -> Iterator[str]:
        while True:
            try:
                yield "value"
            except ValueError:
                yield "recovered"

    @capture
    def fragile() -> Iterator[int]:
        yield 1

    generator = resilient()
    next(generator)
    assert generator.throw(ValueError("x")) == "recovered"
    generator.close()
    assert not collected.one("resilient").fault
    failing = fragile()
    next(failing)
    with pytest.raises(RuntimeError):
        failing.throw(RuntimeError("boom"))
    assert collected.one("fragile").exceptions[0]["type"] == "RuntimeError"


def test_async_generators(invocation, collected):
    @capture
    async def ticks(n: int):
        for i in range(n):
            await asyncio.sleep(0)
            received = yield i
            if received:
                yield received * 2

    async def main() -> list[int]:
        values = [value async for value in ticks(3)]
        generator = ticks(5)
        values.append(await generator.__anext__())
        values.append(await generator.asend(21))
        await generator.aclose()
        return values

    assert inspect.isasyncgenfunction(ticks)
    assert asyncio.run(main()) == [0, 1, 2, 0, 42]
    spans = [s for s in collected.spans if s.name == "ticks"]
    assert len(spans) == 2 and all(s.ended and not s.fault for s in spans)


def test_a_failing_async_generator_records_the_exception(invocation, collected):
    @capture("failing stream")
    async def failing():
        yield 1
        raise ConnectionError("lost")

    async def main() -> None:
        async for _ in failing():
            pass

    with pytest.raises(ConnectionError):
        asyncio.run(main())
    assert collected.one("failing stream").exceptions[0]["type"] == "ConnectionError"


# --- capture: blocks -----------------------------------------------------------------------------


def test_capture_as_a_context_manager(invocation, collected):
    def load_orders() -> Span | None:
        with capture() as span:
            assert context.current_span() is span
            with capture("parse") as inner:
                assert inner.parent_id == span.span_id
            return span

    span = load_orders()
    assert span is not None and span.name == "load_orders"  # named after the calling function
    assert collected.one("parse").parent_id == span.span_id
    assert context.current_span() is invocation


def test_a_block_records_and_reraises(invocation, collected):
    with pytest.raises(ZeroDivisionError), capture("divide"):
        1 / 0  # noqa: B018
    assert collected.one("divide").fault


def test_async_with(invocation, collected):
    async def main() -> str:
        async with capture("async block") as span:
            await asyncio.sleep(0)
            return span.name

    assert asyncio.run(main()) == "async block"
    assert collected.one("async block").ended


def test_capture_outside_an_invocation_still_runs_the_code(collected):
    @capture
    def work() -> int:
        return 7

    assert work() == 7
    assert collected.one("work").sampled is False  # its own root, never exported to X-Ray


def test_a_broken_tracer_never_breaks_the_user_function(invocation, monkeypatch, capsys):
    def broken(*args: object, **kwargs: object) -> Span:
        raise RuntimeError("tracer bug")

    monkeypatch.setattr(TRACER, "start_span", broken)

    @capture
    def work() -> int:
        return 7

    assert work() == 7
    with capture("block") as span:
        assert span is None
    assert "xraylayer: ERROR starting a captured span failed" in capsys.readouterr().err


# --- annotate and metadata ------------------------------------------------------------------------


def test_annotate_sets_an_annotation_on_the_current_span(invocation, capsys):
    annotate("customer_tier", "gold")
    annotate("items", 3)
    annotate("ratio", 0.5)
    annotate("vip", True)
    assert invocation.annotations == {
        "customer_tier": "gold",
        "items": 3,
        "ratio": 0.5,
        "vip": True,
    }
    assert capsys.readouterr().err == ""


def test_a_bad_annotation_key_is_sanitized_with_one_warning(invocation, capsys):
    annotate("order id", 1)
    annotate("order id", 2)
    annotate("naïve-key", "x")
    assert invocation.annotations == {"order_id": 2, "na_ve_key": "x"}
    err = capsys.readouterr().err
    assert err.count("annotation key 'order id' is not alphanumeric/_; using 'order_id'") == 1


@pytest.mark.parametrize(
    ("value", "stored", "warning"),
    [
        (float("nan"), "NaN", "is not a JSON number"),
        (float("-inf"), "-Infinity", "is not a JSON number"),
        (None, "None", "value of type NoneType stored as its str()"),
        ([1, 2], "[1, 2]", "value of type list stored as its str()"),
        (2**80, str(2**80), "integer too large"),
        ("x" * 5000, "x" * 1000 + "…", "value cut to 1000 characters"),
    ],
)
def test_annotation_values_are_made_valid_with_a_warning(
    invocation, capsys, value, stored, warning
):
    annotate(f"key_{abs(hash(warning)) % 1000}_{type(value).__name__}", value)
    (actual,) = invocation.annotations.values()
    assert actual == stored
    assert warning in capsys.readouterr().err


def test_metadata_keeps_any_value_under_its_namespace(invocation, capsys):
    order = {"id": 1, "items": object()}
    metadata("order", order)
    metadata("debug", [1, 2], namespace="payments")
    metadata(42, "non-str key")  # type: ignore[arg-type]
    metadata("x", 1, namespace="AWS.custom")
    assert invocation.metadata["default"]["order"] is order
    assert invocation.metadata["default"]["42"] == "non-str key"
    assert invocation.metadata["payments"] == {"debug": [1, 2]}
    assert invocation.metadata["user.AWS.custom"] == {"x": 1}
    assert "metadata namespace 'AWS.custom' is reserved" in capsys.readouterr().err


def test_outside_any_span_annotate_and_metadata_log_once_and_do_nothing(capsys):
    for _ in range(3):
        annotate("k", "v")
        metadata("k", "v")
    err = capsys.readouterr().err
    assert err.count("annotate() outside a traced invocation") == 1
    assert err.count("metadata() outside a traced invocation") == 1


def test_annotate_inside_capture_goes_to_the_captured_span(invocation, collected):
    with capture("step"):
        annotate("in_step", True)
    assert collected.one("step").annotations == {"in_step": True}
    assert invocation.annotations == {}


def test_api_functions_never_raise(invocation, monkeypatch):
    monkeypatch.setattr(api.xray_rules, "annotation_key", lambda key: 1 / 0)
    annotate("k", "v")  # logged, not raised
    monkeypatch.setattr(api.xray_rules, "metadata_namespace", lambda namespace: 1 / 0)
    metadata("k", "v")
