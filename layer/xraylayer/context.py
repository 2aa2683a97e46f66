"""The current span, kept in a context variable.

A ContextVar follows asyncio tasks by itself; threads start with an empty context, which
`instrument.threads` fixes for executor workers (the X-Ray SDK's most common complaint is
"cannot find the current segment" in threads).
"""

from __future__ import annotations

from _contextvars import ContextVar, Token  # what `contextvars` re-exports, without it

from .spans import Span

_current: ContextVar[Span | None] = ContextVar("xraylayer_current_span", default=None)
_client_call: ContextVar[Span | None] = ContextVar("xraylayer_client_call", default=None)


def current_span() -> Span | None:
    """The innermost open span of this task or thread, if any."""
    return _current.get()


def activate(span: Span) -> Token[Span | None]:
    """Make `span` current; give the token back to `deactivate`."""
    return _current.set(span)


def deactivate(token: Token[Span | None]) -> None:
    """Restore the span that was current before `activate`."""
    try:
        _current.reset(token)
    except ValueError:  # a token from another context (a generator resumed elsewhere)
        _current.set(None)


def enter_client_call(span: Span) -> Token[Span | None]:
    """Mark that an outgoing call is already traced (an AWS SDK call), so the HTTP libraries it
    uses underneath do not trace it again; give the token back to `exit_client_call`."""
    return _client_call.set(span)


def exit_client_call(token: Token[Span | None]) -> None:
    try:
        _client_call.reset(token)
    except ValueError:
        _client_call.set(None)


def client_call() -> Span | None:
    """The outgoing call being traced in this context, if any (its HTTP must not be again)."""
    return _client_call.get()
