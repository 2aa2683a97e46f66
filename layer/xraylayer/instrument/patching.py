"""Replacing a library's method by a traced one, at most once.

Plain functions rather than wrapt: ``import wrapt`` (2.x) pulls in asyncio and importlib.metadata,
about 50 ms measured on this machine, which a cold start cannot afford. A wrapper keeps the
original's name, docstring and ``__wrapped__`` (``functools.wraps``), so introspection, pickling
of bound-method names and other tracers that look for ``__wrapped__`` keep working.

Patching is idempotent: a method already wrapped by us (directly, or under someone else's
wrapper that kept ``__wrapped__``) is left alone, so hooks may run again, tests may patch in
every test, and two copies of the layer on the path still trace each call once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MARK = "__xraylayer_patched__"
_MAX_WRAPPER_DEPTH = 32  # a wrapper chain deeper than this is not ours to walk


def wrap_method(
    owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> bool:
    """Replace ``owner.name`` by ``make(original)`` unless it is already ours.

    Only a method defined on ``owner`` itself is replaced (subclasses inherit the wrapper);
    returns whether this call patched it.
    """
    original = owner.__dict__.get(name)
    if not callable(original) or is_patched(original):
        return False
    wrapper = functools.wraps(original)(make(original))
    setattr(wrapper, _MARK, True)
    setattr(owner, name, wrapper)
    return True


def is_patched(function: object) -> bool:
    """Whether ``function`` is one of our wrappers or wraps one."""
    for _ in range(_MAX_WRAPPER_DEPTH):
        if getattr(function, _MARK, False):
            return True
        function = getattr(function, "__wrapped__", None)
        if function is None:
            return False
    return False


class Unpatched:
    """The libraries' own methods back at ``targets`` ((owner, name) pairs) for a ``with``
    block, ours after it: how a test or a benchmark sees a library exactly as it is without
    the layer, in the same process. Raises ValueError for a target that is not patched."""

    def __init__(self, targets: Iterable[tuple[type, str]]) -> None:
        self._wrappers = [(owner, name, owner.__dict__.get(name)) for owner, name in targets]
        for owner, name, wrapper in self._wrappers:
            if not is_patched(wrapper):
                raise ValueError(f"{owner.__name__}.{name} is not patched")

    def __enter__(self) -> None:
        for owner, name, wrapper in self._wrappers:
            setattr(owner, name, wrapper.__wrapped__)

    def __exit__(self, *exc_info: object) -> None:
        for owner, name, wrapper in self._wrappers:
            setattr(owner, name, wrapper)
