"""xraylayer: distributed tracing for AWS Lambda Python functions with no code change.

``from xraylayer import capture, annotate, metadata`` is the public API (see ``api``). They are
loaded on first use, so that ``import xraylayer``, which the layer itself does in every
function at start, costs next to nothing.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "annotate", "capture", "metadata"]

_API = frozenset({"annotate", "capture", "metadata"})


def __getattr__(name: str) -> object:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
