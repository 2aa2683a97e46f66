"""Any Python value, made into something ``json.dumps`` always accepts.

Span attributes and metadata come from the user's code and may hold anything: objects, bytes,
sets, tuples as keys, cycles, NaN, a million-item list. The wire codec and the X-Ray converter
must never fail on them (a span is never lost because of a value in it), so both go through
here. The fast path is plain ``json.dumps``; the slow, careful walk only runs when that fails.
"""

from __future__ import annotations

import json
import math

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 16  # nesting kept; deeper values become their repr (also ends cycles)
MAX_ITEMS = 1000  # items kept per list or dict; the rest is counted in a marker
MAX_REPR_CHARS = 1024  # an object with no JSON form is shown as its repr, this long at most
MAX_INT_BITS = 1024  # larger ints become a string (no JSON reader keeps them exact anyway)
ELLIPSIS = "…"
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def json_safe(value: Any, *, finite: bool = True, depth: int = MAX_DEPTH) -> Any:
    """``value`` as JSON types only: dict with str keys, list, str, int, float, bool, None.

    With ``finite``, NaN and infinities become the strings ``"NaN"``, ``"Infinity"`` and
    ``"-Infinity"``, because strict JSON (Go's decoder in the X-Ray daemon) refuses them.
    Containers beyond ``MAX_ITEMS`` are cut with a marker; anything else is its repr.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        # Python refuses to print ints of more than 4300 digits; no JSON reader wants them.
        return int(value) if value.bit_length() <= MAX_INT_BITS else _repr(value)
    if isinstance(value, float):
        return _float(value, finite)
    if depth <= 0:
        return _repr(value)
    if isinstance(value, dict):
        return _dict(value, finite, depth - 1)
    if isinstance(value, (list, tuple, set, frozenset)):
        return _list(value, finite, depth - 1)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes(value)
    return _repr(value)


def dumps(value: Any, *, finite: bool = True) -> str:
    """Compact JSON text of any value; never raises.

    Plain JSON encoding first (fast, and exact for the usual str/number/bool values);
    ``json_safe`` only when it is refused (a tuple key, a cycle, NaN with ``finite``, deep
    nesting).
    """
    encoder = _FINITE if finite else _LOOSE
    try:
        return encoder.encode(value)
    except (TypeError, ValueError, RecursionError):
        return encoder.encode(json_safe(value, finite=finite))


def truncate_strings(value: Any, max_chars: int, keep: frozenset[str] = frozenset()) -> Any:
    """A copy of a JSON value with every string (dict keys too) cut to ``max_chars``.

    Values under a key in ``keep`` are left whole (ids that must stay valid).
    """
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + ELLIPSIS
    if isinstance(value, dict):
        return {
            truncate_strings(key, max_chars): item
            if key in keep
            else truncate_strings(item, max_chars, keep)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [truncate_strings(item, max_chars, keep) for item in value]
    return value


def _float(value: float, finite: bool) -> float | str:
    value = float(value)
    if not finite or math.isfinite(value):
        return value
    return _NON_FINITE.get(value, "NaN")


def _dict(value: dict, finite: bool, depth: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for index, (key, item) in enumerate(value.items()):
        if index == MAX_ITEMS:
            result[ELLIPSIS] = f"{len(value) - MAX_ITEMS} more items"
            break
        result[_key(key)] = json_safe(item, finite=finite, depth=depth)
    return result


def _list(value: list | tuple | set | frozenset, finite: bool, depth: int) -> list[Any]:
    result = []
    for index, item in enumerate(value):
        if index == MAX_ITEMS:
            result.append(f"{ELLIPSIS} {len(value) - MAX_ITEMS} more items")
            break
        result.append(json_safe(item, finite=finite, depth=depth))
    return result


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key, allow_nan=True)  # as json.dumps itself writes such keys
    return _repr(key)


def _bytes(value: bytes | bytearray | memoryview) -> str:
    return bytes(value[:MAX_REPR_CHARS]).decode("utf-8", "backslashreplace")


def _repr(value: Any) -> str:
    """The repr of an object, cut short; an object whose repr raises is named by its type."""
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    if not isinstance(text, str):
        text = f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= MAX_REPR_CHARS else text[:MAX_REPR_CHARS] + ELLIPSIS


def _default(value: Any) -> Any:
    """``json.dumps``'s hook for types it does not know: the same forms as ``json_safe``."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes(value)
    return _repr(value)


# Made once: ``json.dumps`` with options builds a new encoder per call, a few microseconds
# that every span hand-off would pay.
_FINITE = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default
)
_LOOSE = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=_default
)
