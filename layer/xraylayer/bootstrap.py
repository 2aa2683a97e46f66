"""The runtime's handler while the layer is on: `_HANDLER=xraylayer.bootstrap.handler`.

The file name is part of the contract. awslambdaric reports an error's stack trace without its
leading frames from files whose path contains `/bootstrap.py` (its own). Every frame between
the runtime and the user's code is in this file, so they go too, and the caller sees the same
stackTrace, byte for byte, as without the layer.

Why `handler` comes from the module's `__getattr__` rather than from code run at import: the
runtime imports this module, then looks `handler` up, and it is in that lookup that the user's
handler is loaded, with the runtime's own loader (`awslambdaric.bootstrap._get_handler`). So a
bad module, a missing function, a syntax error, a malformed name or a built-in conflict fails
with the runtime's own error type and message, and an exception raised while the user's module
is imported has only /bootstrap.py frames above the import, as without the layer.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from xraylayer.invocation import Invocations

ORIGINAL_HANDLER = "XRAYLAYER_ORIGINAL_HANDLER"  # set by /opt/xray-instrument
LAYER_FRAMES = 1  # frames the traced handler adds to every invocation's stack


def __getattr__(name: str) -> object:
    """`handler`: the user's handler, traced (loaded once, on the runtime's first lookup)."""
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    original = os.environ.get(ORIGINAL_HANDLER, "")
    invocations = _tracing()
    user_handler = _load_user_handler(original)
    if invocations is not None:
        invocations.init_done()
    _restore_handler_variable(original)
    traced = _traced(user_handler, invocations)
    globals()["handler"] = traced
    return traced


def _load_user_handler(original: str) -> "Callable":
    """The runtime's loader's result for the original `_HANDLER`, its errors unchanged.

    One exception needs a disguise: an AttributeError the user's module raises on import would
    read, coming out of this lookup, as "this module has no `handler`", which the runtime turns
    into a HandlerNotFound about xraylayer.bootstrap. It travels under its own class name and
    message, with its own traceback, in a class that is no AttributeError.
    """
    runtime = sys.modules.get("awslambdaric.bootstrap")
    get_handler = getattr(runtime, "_get_handler", None) or _get_handler
    try:
        return get_handler(original)
    except AttributeError as error:
        raise _lookalike(error).with_traceback(error.__traceback__) from None


def _traced(user_handler: "Callable", invocations: "Invocations | None") -> "Callable":
    """The function the runtime calls per invocation; the user's own when tracing is off."""
    if invocations is None:
        return user_handler

    def handler(event: object, context: object) -> object:
        running = invocations.start(event, context)
        try:
            result = user_handler(event, context)
        except BaseException as error:
            _hide_layer_frames(error)
            invocations.fail(running, error)
            raise
        invocations.succeed(running, result)
        return result

    # This handler is one frame more between the runtime and the user's code: give it back,
    # so that recursion reaches the same depth (and fails at the same one) as without the layer.
    sys.setrecursionlimit(sys.getrecursionlimit() + LAYER_FRAMES)
    return handler


def _hide_layer_frames(error: BaseException) -> None:
    """The caller's stackTrace and the function's log show no frame of the layer's patches."""
    try:
        from xraylayer.tracebacks import without_layer_frames

        without_layer_frames(error)
    except Exception as problem:
        _internal_error("hiding the layer's frames from a traceback", problem)


def _tracing() -> "Invocations | None":
    """The invocation tracer, its spans going to the extension's hand-off when there is one;
    None when the layer is off or cannot trace (then the user's handler runs untraced)."""
    try:
        from xraylayer import config, import_hooks
        from xraylayer.invocation import Invocations

        if not config.settings().enabled:
            return None
        finder = import_hooks.installed()
        return Invocations(profile=finder.profile if finder else None, handoff=_handoff())
    except Exception as error:
        _internal_error("setting up the invocation tracing", error)
        return None


def _handoff() -> object:
    """The extension hand-off, made the sink of every finished span (None without it)."""
    try:
        from xraylayer import handoff
    except ModuleNotFoundError as error:
        if error.name == "xraylayer.handoff":
            return None
        raise
    return handoff.install()


def _restore_handler_variable(original: str) -> None:
    """Give `_HANDLER` back its value: code that reads it sees what it would without us."""
    if ORIGINAL_HANDLER in os.environ:
        os.environ["_HANDLER"] = original
        del os.environ[ORIGINAL_HANDLER]


def _lookalike(error: BaseException) -> Exception:
    """An exception with `error`'s class name, module and message that is not of its class."""
    kind = type(error)
    twin = type(kind.__name__, (Exception,), {"__module__": kind.__module__})
    twin.__qualname__ = kind.__qualname__
    return twin(*error.args)


def _internal_error(where: str, error: BaseException) -> None:
    try:
        from xraylayer import diagnostics

        diagnostics.internal_error(where, error)
    except Exception:
        sys.stderr.write(f"xraylayer: ERROR {where} failed and was skipped: {error!r}\n")


# The runtime's loader, for a runtime client without `_get_handler`: the same checks, errors
# and messages (awslambdaric 4.x), with its FaultException when that can be found.
def _get_handler(handler: str) -> object:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as error:
        raise _fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {error}") from error
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise _fault(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_name} as a handler module",
            )
        import importlib

        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise _fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise _fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {error}",
            trace,
        ) from error
    try:
        return getattr(module, function_name)
    except AttributeError as error:
        raise _fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from error


class _FaultException(Exception):
    """Stands in for awslambdaric's FaultException where there is none."""

    def __init__(self, exception_type: str, msg: str, trace: object = None) -> None:
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def _fault(exception_type: str, message: str, trace: object = None) -> Exception:
    runtime = sys.modules.get("awslambdaric.lambda_runtime_exception")
    fault = getattr(runtime, "FaultException", None) or _FaultException
    return fault(exception_type, message, trace)
