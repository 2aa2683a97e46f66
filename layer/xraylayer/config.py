"""Every environment variable the layer reads: its name, type, default and what it is for.

One constant per variable, one resolver (`resolve`), and `settings()`: the values for this
process, read once. A bad value never stops the function: it logs one warning and the default
applies. `reference()` lists every variable for the README's table.

This module runs at interpreter start (sitecustomize reads the switches), so it imports `os`
and nothing else: no dataclasses, no typing, no math; diagnostics only for a warning.
"""

import os

from .instrument import HOOKS, patcher_of

# Type names only (no `from __future__ import annotations` either: that import costs 0.1 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_INFINITY = float("inf")


# Parsers: the value of a variable's text (never blank), or ValueError saying what was expected.
def _text(text: str) -> str:
    return text


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false")


def _milliseconds(text: str) -> float:
    value = float(text)  # ValueError for anything that is not a number
    if not 0 <= value < _INFINITY:  # NaN fails every comparison
        raise ValueError("expected a number of milliseconds, 0 or more")
    return value


def _address(text: str) -> str:
    """`host:port`, or the X-Ray SDK's `tcp:host:port udp:host:port` (the UDP one is used)."""
    parts = text.split()
    if len(parts) > 1:
        udp = [part[4:] for part in parts if part.startswith("udp:")]
        if len(udp) != 1:
            raise ValueError("expected host:port or tcp:host:port udp:host:port")
        text = udp[0]
    host, colon, port = text.rpartition(":")
    if not colon or not host or not (port.isascii() and port.isdigit()):
        raise ValueError("expected host:port")
    if not 0 < int(port) < 65536:
        raise ValueError("port must be 1 to 65535")
    return f"{host}:{int(port)}"


def _one_of(*choices: str) -> "Callable[[str], str]":
    def parse(text: str) -> str:
        lowered = text.lower()
        if lowered not in choices:
            raise ValueError("expected one of " + ", ".join(choices))
        return lowered

    return parse


def _names(aliases: dict[str, str], none: str | None = None) -> "Callable[[str], tuple]":
    """A comma-separated list of known names, each once, in order; `aliases` maps every
    accepted spelling to its name; `none` alone means no names at all."""

    def parse(text: str) -> tuple[str, ...]:
        spellings = [part.strip().lower() for part in text.split(",") if part.strip()]
        if none is not None and none in spellings:
            if len(spellings) > 1:
                raise ValueError(f"{none} cannot be combined with other values")
            return ()
        unknown = [spelling for spelling in spellings if spelling not in aliases]
        if unknown:
            known = ", ".join(sorted(aliases))
            raise ValueError(f"unknown {', '.join(unknown)} (known: {known})")
        return tuple(dict.fromkeys(aliases[spelling] for spelling in spellings))

    return parse


def _name_set(aliases: dict[str, str]) -> "Callable[[str], frozenset]":
    parse_list = _names(aliases)

    def parse(text: str) -> frozenset[str]:
        return frozenset(parse_list(text))

    return parse


def show(value: object) -> str:
    """A value as the docs (and the warnings) write it; blank for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


class Variable:
    """One environment variable: its name, type (`kind` for the docs, `parse` for its text),
    default and one line of documentation."""

    __slots__ = ("default", "doc", "kind", "name", "parse")

    def __init__(
        self,
        name: str,
        kind: str,
        parse: "Callable[[str], object]",
        default: object,
        doc: str,
    ) -> None:
        self.name = name
        self.kind = kind
        self.parse = parse
        self.default = default
        self.doc = doc

    def __repr__(self) -> str:
        return f"Variable({self.name!r})"


def _instrumentation_spellings() -> dict[str, str]:
    """Each instrumentation by its target module (`http.client`) or its own (`http_client`)."""
    spellings = {target: target for target in HOOKS}
    for target, hook in HOOKS.items():
        spellings[patcher_of(hook)[0].rpartition(".")[2]] = target
    return spellings


ENABLED = Variable(
    "XRAYLAYER_ENABLED",
    "boolean",
    _boolean,
    True,
    "false turns the layer off: the wrapper changes nothing and the function runs untraced.",
)
OTEL_SDK_DISABLED = Variable(
    "OTEL_SDK_DISABLED",
    "boolean",
    _boolean,
    False,
    "OpenTelemetry's switch: true turns the layer off, as XRAYLAYER_ENABLED=false does.",
)
OTEL_SERVICE_NAME = Variable(
    "OTEL_SERVICE_NAME",
    "string",
    _text,
    None,
    "The service name (the `Service` annotation, OTLP service.name); wins over the two below.",
)
POWERTOOLS_SERVICE_NAME = Variable(
    "POWERTOOLS_SERVICE_NAME",
    "string",
    _text,
    None,
    "The service name when OTEL_SERVICE_NAME is unset, as Powertools for AWS Lambda uses it.",
)
FUNCTION_NAME = Variable(
    "AWS_LAMBDA_FUNCTION_NAME",
    "string",
    _text,
    None,
    "Set by Lambda; the service name when neither of the two above is set.",
)
PROPAGATORS = Variable(
    "OTEL_PROPAGATORS",
    "list of xray, tracecontext, none",
    _names({"xray": "xray", "xray-lambda": "xray", "tracecontext": "tracecontext"}, none="none"),
    ("xray", "tracecontext"),
    "Trace headers put on outgoing calls: X-Amzn-Trace-Id (xray), traceparent (tracecontext).",
)
CAPTURE_QUERY_STRING = Variable(
    "XRAYLAYER_CAPTURE_QUERY_STRING",
    "boolean",
    _boolean,
    False,
    "true keeps the query string in recorded URLs (it is removed by default: it may hold secrets).",
)
DISABLED_INSTRUMENTATIONS = Variable(
    "XRAYLAYER_DISABLED_INSTRUMENTATIONS",
    "list of " + ", ".join(HOOKS),
    _name_set(_instrumentation_spellings()),
    frozenset(),
    "Libraries left unpatched, comma-separated (e.g. `urllib3,http.client`).",
)
IMPORT_PROFILE_MS = Variable(
    "XRAYLAYER_IMPORT_PROFILE_MS",
    "number (ms)",
    _milliseconds,
    5.0,
    "On a cold start, imports slower than this become spans under `Init`; 0 turns it off.",
)
LOG_LEVEL = Variable(
    "XRAYLAYER_LOG_LEVEL",
    "one of debug, info, warning, error, off",
    _one_of("debug", "info", "warning", "error", "off"),
    "warning",
    "The least severe of the layer's own `xraylayer:` log lines that are written.",
)
DAEMON_ADDRESS = Variable(
    "AWS_XRAY_DAEMON_ADDRESS",
    "host:port",
    _address,
    None,
    "Set by Lambda when tracing is on: where the X-Ray daemon listens (UDP).",
)
MESSAGE_CONTEXT = Variable(
    "XRAYLAYER_MESSAGE_CONTEXT",
    "one of auto, link, parent",
    _one_of("auto", "link", "parent"),
    "auto",
    "A single SQS/SNS message's trace context: a link, or the invocation's parent; auto: a "
    "link when Lambda sampled the invocation, the parent otherwise. A batch is always links.",
)
MESSAGE_TRACEPARENT = Variable(
    "XRAYLAYER_MESSAGE_TRACEPARENT",
    "boolean",
    _boolean,
    False,
    "true also puts a W3C `traceparent` message attribute on SQS/SNS sends that have room "
    "for it (at most 10 attributes; needs tracecontext in OTEL_PROPAGATORS).",
)
NEXT_WRAPPER = Variable(
    "XRAYLAYER_NEXT_WRAPPER",
    "path",
    _text,
    None,
    "Another exec wrapper (a path) that /opt/xray-instrument runs after doing its part.",
)
INTAKE = Variable(
    "XRAYLAYER_INTAKE",
    "path",
    _text,
    "/tmp/xraylayer-intake.sock",
    "The unix socket where the layer's extension takes the function's spans (both sides read it).",
)
INITIALIZATION_TYPE = Variable(
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "string",
    _text,
    "on-demand",
    "Set by Lambda: on-demand, provisioned-concurrency or snap-start (the ColdStart rules).",
)

# Read by the extension process, which parses each in the module named (the type says what it
# takes); listed here so that the docs have one table of every variable.
EXPORTERS = Variable(
    "XRAYLAYER_EXPORTERS",
    "list of xray-daemon, xray-api, otlp, otlp-udp, file, none",
    _text,
    None,
    "Where spans go (exporters.py); unset: xray-daemon, plus otlp when an OTLP endpoint is set.",
)
FLUSH = Variable(
    "XRAYLAYER_FLUSH",
    "end, adaptive, periodic,<ms> or shutdown",
    _text,
    "adaptive",
    "When the extension exports (flush_policy.py): after each invocation, or batched when busy.",
)
FILE = Variable(
    "XRAYLAYER_FILE",
    "path",
    _text,
    "/tmp/xraylayer-traces.jsonl",
    "Where the `file` exporter appends X-Ray documents, one JSON object per line.",
)
ACCOUNTING = Variable(
    "XRAYLAYER_ACCOUNTING",
    "path",
    _text,
    None,
    "A JSON file the extension rewrites after each export: spans received, exported, dropped.",
)
TRACES_SAMPLER = Variable(
    "OTEL_TRACES_SAMPLER",
    "always_on, always_off, traceidratio, parentbased_*",
    _text,
    "always_on",
    "Which traces the full-trace exporters (OTLP, X-Ray API, file) take; X-Ray follows Lambda.",
)
TRACES_SAMPLER_ARG = Variable(
    "OTEL_TRACES_SAMPLER_ARG",
    "number 0 to 1",
    _text,
    1.0,
    "The share of traces the traceidratio samplers keep, chosen by trace id.",
)
TAIL_KEEP = Variable(
    "XRAYLAYER_TAIL_KEEP",
    "boolean",
    _text,
    True,
    "Also export unsampled invocations that timed out, faulted, errored or were throttled.",
)
TAIL_KEEP_SLOW_MS = Variable(
    "XRAYLAYER_TAIL_KEEP_SLOW_MS",
    "number (ms)",
    _text,
    0.0,
    "Tail keep also keeps invocations longer than this; 0 turns the slow rule off.",
)
OTLP_ENDPOINT = Variable(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "URL",
    _text,
    None,
    "The OTLP/HTTP collector's base URL (`/v1/traces` is appended); setting it turns otlp on.",
)
OTLP_TRACES_ENDPOINT = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "URL",
    _text,
    None,
    "The full OTLP/HTTP traces URL, used as is; wins over the one above.",
)
OTLP_HEADERS = Variable(
    "OTEL_EXPORTER_OTLP_HEADERS",
    "key=value,...",
    _text,
    None,
    "Headers on every OTLP request (percent-encoded values); _TRACES_HEADERS wins per header.",
)
OTLP_TRACES_HEADERS = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "key=value,...",
    _text,
    None,
    "Headers on OTLP trace requests, over those of the variable above.",
)
OTLP_COMPRESSION = Variable(
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "gzip or none",
    _text,
    "none",
    "Compression of OTLP request bodies (_TRACES_COMPRESSION wins).",
)
OTLP_TIMEOUT = Variable(
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "number (ms)",
    _text,
    10000.0,
    "The longest one OTLP request may take (_TRACES_TIMEOUT wins); a flush is bounded anyway.",
)

# Set by /opt/xray-instrument for the layer's own code; listed so that every variable is here.
ORIGINAL_HANDLER = Variable(
    "XRAYLAYER_ORIGINAL_HANDLER",
    "string",
    _text,
    None,
    "Internal: the function's own _HANDLER, which the layer's handler loads and calls.",
)
ADDED_PYTHONPATH = Variable(
    "XRAYLAYER_ADDED_PYTHONPATH",
    "paths",
    _text,
    None,
    "Internal: what the wrapper added to PYTHONPATH, taken back at interpreter start.",
)
ORIGINAL_PYTHONPATH = Variable(
    "XRAYLAYER_ORIGINAL_PYTHONPATH",
    "paths",
    _text,
    None,
    "Internal: the function's own PYTHONPATH, when it had one, given back at interpreter start.",
)

VARIABLES: tuple[Variable, ...] = (
    ENABLED,
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    POWERTOOLS_SERVICE_NAME,
    FUNCTION_NAME,
    PROPAGATORS,
    CAPTURE_QUERY_STRING,
    MESSAGE_CONTEXT,
    MESSAGE_TRACEPARENT,
    DISABLED_INSTRUMENTATIONS,
    IMPORT_PROFILE_MS,
    LOG_LEVEL,
    DAEMON_ADDRESS,
    NEXT_WRAPPER,
    INTAKE,
    INITIALIZATION_TYPE,
    EXPORTERS,
    FLUSH,
    FILE,
    ACCOUNTING,
    TRACES_SAMPLER,
    TRACES_SAMPLER_ARG,
    TAIL_KEEP,
    TAIL_KEEP_SLOW_MS,
    OTLP_ENDPOINT,
    OTLP_TRACES_ENDPOINT,
    OTLP_HEADERS,
    OTLP_TRACES_HEADERS,
    OTLP_COMPRESSION,
    OTLP_TIMEOUT,
    ORIGINAL_HANDLER,
    ADDED_PYTHONPATH,
    ORIGINAL_PYTHONPATH,
)


def resolve(variable: Variable, environ: "Mapping[str, str]") -> object:
    """The variable's value in `environ`: unset or blank gives the default, and so does a bad
    value, after one warning that names the variable, the value and what was expected."""
    raw = environ.get(variable.name)
    if raw is None or not raw.strip():
        return variable.default
    try:
        return variable.parse(raw.strip())
    except ValueError as problem:
        _warn(variable, raw, problem)
        return variable.default


def _warn(variable: Variable, raw: str, problem: ValueError) -> None:
    from . import diagnostics  # only now: it costs imports at interpreter start

    default = show(variable.default) or "unset"
    diagnostics.log(
        "warning",
        f"{variable.name}={raw!r} ignored ({problem}); using the default ({default})",
        once=f"config {variable.name}={raw}",
    )


class Settings:
    """The layer's configuration in one process; the variables above say what each field is."""

    __slots__ = (
        "capture_query_string",
        "daemon_address",
        "disabled_instrumentations",
        "enabled",
        "import_profile_threshold_ms",
        "initialization_type",
        "log_level",
        "message_context",
        "message_traceparent",
        "next_wrapper",
        "propagators",
        "service_name",
    )
    enabled: bool
    service_name: str
    propagators: tuple[str, ...]
    capture_query_string: bool
    disabled_instrumentations: frozenset[str]
    import_profile_threshold_ms: float
    log_level: str
    daemon_address: str | None
    next_wrapper: str | None
    initialization_type: str
    message_context: str
    message_traceparent: bool

    def __init__(self, environ: "Mapping[str, str]") -> None:
        def value(variable: Variable) -> object:
            return resolve(variable, environ)

        self.enabled = bool(value(ENABLED)) and not value(OTEL_SDK_DISABLED)
        self.service_name = str(
            value(OTEL_SERVICE_NAME)
            or value(POWERTOOLS_SERVICE_NAME)
            or value(FUNCTION_NAME)
            or "unknown_service"
        )
        self.propagators = value(PROPAGATORS)
        self.capture_query_string = value(CAPTURE_QUERY_STRING)
        self.disabled_instrumentations = value(DISABLED_INSTRUMENTATIONS)
        self.import_profile_threshold_ms = value(IMPORT_PROFILE_MS)
        self.log_level = value(LOG_LEVEL)
        self.daemon_address = value(DAEMON_ADDRESS)
        self.next_wrapper = value(NEXT_WRAPPER)
        self.initialization_type = value(INITIALIZATION_TYPE)
        self.message_context = value(MESSAGE_CONTEXT)
        self.message_traceparent = value(MESSAGE_TRACEPARENT)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Settings({fields})"


_read: dict[str, Settings] = {}  # this process's settings, once read; reload() reads again


def settings() -> Settings:
    """This process's settings, read from the environment on first use."""
    return _read.get("settings") or reload()


def reload(environ: "Mapping[str, str] | None" = None) -> Settings:
    """Read the settings again (from `environ`, default the process environment)."""
    _read["settings"] = Settings(os.environ if environ is None else environ)
    return _read["settings"]


def reference() -> list[tuple[str, str, str, str]]:
    """(name, type, default, doc) of every variable, in the order the docs list them."""
    return [
        (variable.name, variable.kind, show(variable.default), variable.doc)
        for variable in VARIABLES
    ]
