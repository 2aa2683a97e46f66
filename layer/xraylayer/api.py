"""The public API, for the user's own code: custom subsegments, annotations, metadata.

    from xraylayer import annotate, capture, metadata

    @capture                         # or @capture() / @capture("name"): sync, async,
    def load_order(order_id): ...    # generator and async generator functions

    with capture("parse") as span:   # or `async with`
        ...

    annotate("tier", "gold")         # indexed: filter with annotation.tier = "gold"
    metadata("order", order)         # not indexed; any value, made JSON-safe at export

The rules X-Ray puts on annotations are applied here, with a warning (once) instead of an
error: the user's code must behave the same with and without the layer, so nothing here ever
raises because of the layer, and outside a traced invocation these calls just do nothing.
An exception leaving a captured block is recorded on its span and re-raised unchanged.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType

from . import context, diagnostics, xray_rules
from .spans import Span
from .tracer import TRACER

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextvars import Token
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])

# Code flags (``inspect`` is too heavy to import for them).
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def capture(name: str | Callable[..., Any] | None = None) -> Any:
    """A custom subsegment: a decorator (``@capture``, ``@capture()``, ``@capture("name")``)
    or a context manager (``with capture("name") as span``).

    Named after the function when decorating, after the calling function in a ``with``.
    """
    if callable(name):
        return _Capture(None)(name)
    return _Capture(name)


def annotate(key: str, value: str | int | float | bool) -> None:
    """Add an annotation (indexed, filterable) to the current span.

    X-Ray's rules are applied with a warning, once: a key with characters other than ASCII
    letters, digits and ``_`` has them replaced by ``_``; a value that is not a string,
    number or bool becomes its ``str()``; NaN and infinities become strings; long strings
    are cut to 1000 characters.
    """
    try:
        span = _current("annotate")
        if span is None:
            return
        safe_key = xray_rules.annotation_key(key)
        if safe_key != key:
            _warn(f"annotation key {key!r} is not alphanumeric/_; using {safe_key!r}", key)
        safe_value = xray_rules.annotation_value(value)
        problem = _value_problem(value, safe_value)
        if problem:
            _warn(f"annotation {safe_key!r}: {problem}", f"{safe_key}:{problem}")
        span.annotations[safe_key] = safe_value
    except Exception as error:
        diagnostics.internal_error("annotate()", error)


def metadata(key: str, value: Any, namespace: str = "default") -> None:
    """Add metadata (not indexed; any value) to the current span under ``namespace``.

    The value is kept as is and made JSON-safe when the span is exported (objects become
    their repr). Namespaces starting ``AWS.`` are X-Ray's own: they get a ``user.`` prefix.
    """
    try:
        span = _current("metadata")
        if span is None:
            return
        safe_namespace = xray_rules.metadata_namespace(namespace)
        if safe_namespace != namespace:
            _warn(
                f"metadata namespace {namespace!r} is reserved; using {safe_namespace!r}", namespace
            )
        safe_key = key if isinstance(key, str) else str(key)
        span.metadata.setdefault(safe_namespace, {})[safe_key] = value
    except Exception as error:
        diagnostics.internal_error("metadata()", error)


class _Capture:
    """What ``capture(...)`` returns: decorates a function, or opens a span in a ``with``."""

    __slots__ = ("_open", "name")

    def __init__(self, name: str | None) -> None:
        self.name = name
        self._open: list[tuple[Span, Token[Span | None]]] = []

    def __call__(self, function: F) -> F:
        try:
            return _decorate(function, self.name or _function_name(function))
        except Exception as error:
            diagnostics.internal_error("capture()", error)
            return function

    def __enter__(self) -> Span | None:
        span = _open(self.name or _caller_name())
        if span is not None:
            self._open.append((span, context.activate(span)))
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self._open:
            span, token = self._open.pop()
            context.deactivate(token)
            _close(span, exc)
        return False  # never swallow the user's exception

    async def __aenter__(self) -> Span | None:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return self.__exit__(exc_type, exc, traceback)


def _decorate(function: F, name: str) -> F:
    flags = _code_flags(function)
    if flags & _CO_COROUTINE:
        wrapper = _async_wrapper(function, name)
    elif flags & _CO_ASYNC_GENERATOR:
        wrapper = _async_generator_wrapper(function, name)
    elif flags & _CO_GENERATOR:
        wrapper = _generator_wrapper(function, name)
    else:
        wrapper = _sync_wrapper(function, name)
    return functools.wraps(function)(wrapper)  # type: ignore[return-value]


def _sync_wrapper(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    def traced(*args: Any, **kwargs: Any) -> Any:
        with _Capture(name):
            return function(*args, **kwargs)

    return traced


def _async_wrapper(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    async def traced(*args: Any, **kwargs: Any) -> Any:
        with _Capture(name):
            return await function(*args, **kwargs)

    return traced


def _generator_wrapper(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    def traced(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        return (yield from _traced_generator(function(*args, **kwargs), name))

    return traced


def _traced_generator(generator: Generator[Any, Any, Any], name: str) -> Generator[Any, Any, Any]:
    """Drive ``generator`` under one span that lasts from the first ``next`` to the end; the
    span is current only while the generator's own code runs, not while its consumer does.

    The wrapper is a generator function itself (frameworks look), so, as for any generator
    function, its body (and the wrapped call) only starts at the first ``next``.
    """
    span = _open(name)
    error: BaseException | None = None
    sent: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            with _Active(span):
                try:
                    item = generator.send(sent) if thrown is None else generator.throw(thrown)
                except StopIteration as stop:
                    return stop.value
            try:
                sent, thrown = (yield item), None
            except GeneratorExit:
                with _Active(span):
                    generator.close()
                raise
            except BaseException as exception:  # thrown in by the consumer: pass it on
                sent, thrown = None, exception
    except Exception as exception:
        error = exception
        raise
    finally:
        _close(span, error)


def _async_generator_wrapper(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """As ``_traced_generator``, for an async generator function; the wrapper is an async
    generator function itself, so frameworks that look (FastAPI dependencies) still see one."""

    async def traced(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        generator = function(*args, **kwargs)
        span = _open(name)
        error: BaseException | None = None
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                with _Active(span):
                    try:
                        if thrown is None:
                            item = await generator.asend(sent)
                        else:
                            item = await generator.athrow(thrown)
                    except StopAsyncIteration:
                        return
                try:
                    sent, thrown = (yield item), None
                except GeneratorExit:
                    with _Active(span):
                        await generator.aclose()
                    raise
                except BaseException as exception:
                    sent, thrown = None, exception
        except Exception as exception:
            error = exception
            raise
        finally:
            _close(span, error)

    return traced


class _Active:
    """``span`` current for the duration of a ``with`` (nothing when it is None)."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span | None) -> None:
        self._span = span
        self._token: Token[Span | None] | None = None

    def __enter__(self) -> None:
        if self._span is not None:
            self._token = context.activate(self._span)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            context.deactivate(self._token)
            self._token = None


def _open(name: str) -> Span | None:
    try:
        return TRACER.start_span(name)
    except Exception as error:
        diagnostics.internal_error("starting a captured span", error)
        return None


def _close(span: Span, error: BaseException | None) -> None:
    """Finish the span; an ``Exception`` leaving it is recorded (not ``GeneratorExit``,
    ``KeyboardInterrupt`` or a cancellation, which are not failures of the code)."""
    try:
        if isinstance(error, Exception):
            span.record_exception(error)
        TRACER.finish(span)
    except Exception as internal:
        diagnostics.internal_error("finishing a captured span", internal)


def _current(caller: str) -> Span | None:
    span = context.current_span()
    if span is None:
        diagnostics.log(
            "warning",
            f"{caller}() outside a traced invocation (no current span) is ignored",
            once=f"api-outside:{caller}",
        )
    return span


def _value_problem(value: Any, safe: Any) -> str | None:
    """Why ``safe`` is not ``value`` as given, or None when it is."""
    if isinstance(value, str):
        return None if safe == value else "value cut to 1000 characters"
    if isinstance(value, (bool, int, float)) and not isinstance(safe, str):
        return None
    if isinstance(value, float):
        return f"{value} is not a JSON number; stored as the string {safe!r}"
    if isinstance(value, int):
        return "integer too large for X-Ray; stored as a string"
    return f"value of type {type(value).__name__} stored as its str()"


def _warn(message: str, key: object) -> None:
    diagnostics.log("warning", message, once=f"api:{key!r}")


def _code_flags(function: Callable[..., Any]) -> int:
    """The code flags of ``function`` (seen through ``functools.wraps`` layers), or 0."""
    for _ in range(100):
        code = getattr(function, "__code__", None)
        if code is not None:
            return code.co_flags
        wrapped = getattr(function, "__wrapped__", None) or getattr(function, "func", None)
        if wrapped is None:
            return 0
        function = wrapped
    return 0


def _function_name(function: Callable[..., Any]) -> str:
    return getattr(function, "__name__", None) or type(function).__name__


def _caller_name() -> str:
    """The name of the function with the ``with capture()`` statement: the first frame
    outside this module."""
    try:
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename == __file__:
            frame = frame.f_back
    except (AttributeError, ValueError):
        return "capture"
    return frame.f_code.co_name if frame is not None else "capture"
