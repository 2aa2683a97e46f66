"""X-Ray's rules for names, annotation keys and values, and metadata namespaces.

Pure functions, shared by the public API (``annotate`` warns when it had to change something)
and the X-Ray converter (which applies them again to whatever a span holds). Breaking a rule
does not make X-Ray reject a whole document in every case, but it makes an annotation
unfilterable or a node misnamed, so the layer repairs the value instead of passing it on.
"""

from __future__ import annotations

import math

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAME_MAX_CHARS = 200
NAME_SYMBOLS = frozenset("_.:/%&#=+\\-@")  # allowed besides Unicode letters, digits, whitespace
DEFAULT_NAME = "unnamed"
ANNOTATION_KEY_MAX_CHARS = 250
ANNOTATION_VALUE_MAX_CHARS = 1000  # the layer's own bound: annotations are for filtering
RESERVED_METADATA_PREFIX = "AWS."
RENAMED_METADATA_PREFIX = "user."
_KEY_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_NON_FINITE_NAMES = {math.inf: "Infinity", -math.inf: "-Infinity"}

AnnotationValue = str | int | float | bool


def segment_name(name: Any) -> str:
    """A (sub)segment name X-Ray accepts: disallowed characters dropped (as the X-Ray SDK
    does), whitespace made a plain space, at most 200 characters, never empty."""
    text = name if isinstance(name, str) else _text(name)
    kept = "".join(_name_character(character) for character in text[: NAME_MAX_CHARS * 4])
    kept = kept.strip()[:NAME_MAX_CHARS]
    return kept or DEFAULT_NAME


def _name_character(character: str) -> str:
    if character.isalnum() or character in NAME_SYMBOLS:
        return character
    return " " if character.isspace() else ""


def annotation_key(key: Any) -> str:
    """An annotation key X-Ray can index: ASCII letters, digits and ``_`` only (every other
    character becomes ``_``), at most 250 characters, never empty."""
    text = key if isinstance(key, str) else _text(key)
    sanitized = "".join(c if c in _KEY_CHARACTERS else "_" for c in text[:ANNOTATION_KEY_MAX_CHARS])
    return sanitized or "_"


def annotation_value(value: Any) -> AnnotationValue:
    """An annotation value X-Ray accepts: a string, a finite number or a bool.

    NaN and infinities become the strings ``NaN`` / ``Infinity`` / ``-Infinity`` (JSON has no
    such numbers), any other type its ``str()``, and long strings are cut to 1000 characters.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if value.bit_length() <= 64 else _text(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return _NON_FINITE_NAMES.get(value, "NaN")
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception:
            text = f"<unprintable {type(value).__name__}>"
    if len(text) > ANNOTATION_VALUE_MAX_CHARS:
        return text[:ANNOTATION_VALUE_MAX_CHARS] + "…"
    return text


def metadata_namespace(namespace: Any) -> str:
    """A metadata namespace the user may write: ``AWS.`` namespaces are X-Ray's own, so
    ``AWS.x`` becomes ``user.AWS.x``; a non-string becomes its ``str()``."""
    text = namespace if isinstance(namespace, str) else _text(namespace)
    if text.startswith(RESERVED_METADATA_PREFIX):
        return RENAMED_METADATA_PREFIX + text
    return text or "default"
