"""Every environment variable the layer reads: its name, type, default and what it is for.

One constant per variable, one resolver (`resolve`), and `settings()`: the values for this
process, read once. A bad value never stops the function: it logs one warning and the default
applies. `reference()` lists every variable for the README's table; docs/configuration.md is
written from `VARIABLES`, by group, by tools/configuration_reference.py.

This module runs at interpreter start (sitecustomize reads the switches), so it imports `os`
and the instrumentations' names, nothing else: no dataclasses, no typing, no math;
diagnostics only for a warning.
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


# Groups, in the order the docs list them (docs/configuration.md, tools/configuration_reference.py).
SWITCH = "switch"  # the layer's own switches, read in the function's process
EXTENSION = "extension"  # read by the extension process: where and when spans go
OPENTELEMETRY = "opentelemetry"  # OpenTelemetry's names, with their specified meaning
LAMBDA = "lambda"  # set by Lambda, read by the layer (docs start "Set by Lambda")
INTERNAL = "internal"  # hand-offs of /opt/xray-instrument (docs start "Internal")
GROUPS = (SWITCH, EXTENSION, OPENTELEMETRY, LAMBDA, INTERNAL)


class Variable:
    """One environment variable: its name, type (`kind` for the docs, `parse` for its text),
    default, one line of documentation, its `group` (one of GROUPS) and, for OpenTelemetry's
    variables, `otel_difference`: how the layer departs from the specification (blank: it
    does not)."""

    __slots__ = ("default", "doc", "group", "kind", "name", "otel_difference", "parse")

    def __init__(
        self,
        name: str,
        kind: str,
        parse: "Callable[[str], object]",
        default: object,
        doc: str,
        *,
        group: str,
        otel_difference: str = "",
    ) -> None:
        self.name = name
        self.kind = kind
        self.parse = parse
        self.default = default
        self.doc = doc
        self.group = group
        self.otel_difference = otel_difference

    def __repr__(self) -> str:
        return f"Variable({self.name!r})"


def _instrumentation_spellings() -> dict[str, str]:
    """Each instrumentation by its target module (`http.client`) or its own (`http_client`)."""
    spellings = {target: target for target in HOOKS}
    for target, hook in HOOKS.items():
        spellings[patcher_of(hook)[0].rpartition(".")[2]] = target
    return spellings


# --- The layer's switches: read in the function's process -------------------------------------

ENABLED = Variable(
    "XRAYLAYER_ENABLED",
    "boolean",
    _boolean,
    True,
    "false turns the layer off: the wrapper changes nothing and the function runs untraced.",
    group=SWITCH,
)
POWERTOOLS_SERVICE_NAME = Variable(
    "POWERTOOLS_SERVICE_NAME",
    "string",
    _text,
    None,
    "The service name when OTEL_SERVICE_NAME is unset, as Powertools for AWS Lambda reads it "
    "(over OTLP, a `service.name` in OTEL_RESOURCE_ATTRIBUTES comes first).",
    group=SWITCH,
)
CAPTURE_QUERY_STRING = Variable(
    "XRAYLAYER_CAPTURE_QUERY_STRING",
    "boolean",
    _boolean,
    False,
    "true keeps the query string in recorded URLs (it is removed by default: it may hold secrets).",
    group=SWITCH,
)
MESSAGE_CONTEXT = Variable(
    "XRAYLAYER_MESSAGE_CONTEXT",
    "one of auto, link, parent",
    _one_of("auto", "link", "parent"),
    "auto",
    "A single SQS/SNS message's trace context: a link, or the invocation's parent; auto: a "
    "link when Lambda sampled the invocation, the parent otherwise. A batch is always links.",
    group=SWITCH,
)
MESSAGE_TRACEPARENT = Variable(
    "XRAYLAYER_MESSAGE_TRACEPARENT",
    "boolean",
    _boolean,
    False,
    "true also puts a W3C `traceparent` message attribute on SQS/SNS sends that have room "
    "for it (at most 10 attributes; needs tracecontext in OTEL_PROPAGATORS).",
    group=SWITCH,
)
DISABLED_INSTRUMENTATIONS = Variable(
    "XRAYLAYER_DISABLED_INSTRUMENTATIONS",
    "list of " + ", ".join(HOOKS),
    _name_set(_instrumentation_spellings()),
    frozenset(),
    "Libraries left unpatched, comma-separated (e.g. `urllib3,http.client`; `http_client` and "
    "`threads` work too).",
    group=SWITCH,
)
IMPORT_PROFILE_MS = Variable(
    "XRAYLAYER_IMPORT_PROFILE_MS",
    "number (ms)",
    _milliseconds,
    5.0,
    "On a cold start, imports slower than this become spans under `Init`; 0 turns it off.",
    group=SWITCH,
)
LOG_LEVEL = Variable(
    "XRAYLAYER_LOG_LEVEL",
    "one of debug, info, warning, error, off",
    _one_of("debug", "info", "warning", "error", "off"),
    "warning",
    "The least severe of the layer's own `xraylayer:` log lines that are written, in both "
    "processes; the extension's lines about its flush policy, exporters, sampler and tail keep, "
    "and its counts at shutdown, are written at any level.",
    group=SWITCH,
)
NEXT_WRAPPER = Variable(
    "XRAYLAYER_NEXT_WRAPPER",
    "path",
    _text,
    None,
    "Another exec wrapper (a path) that /opt/xray-instrument runs after doing its part; one "
    "that is not an executable file is skipped, with a message.",
    group=SWITCH,
)

# --- Where spans go: read by the extension process, which parses each in its own module (the
# type says what that module takes); listed here so that the docs have every variable. ---------

EXPORTERS = Variable(
    "XRAYLAYER_EXPORTERS",
    "list of xray-daemon, xray-api, otlp, otlp-udp, file, none",
    _text,
    "xray-daemon",
    "Where spans go, comma-separated; unset: xray-daemon, plus otlp when an OTLP endpoint is "
    "set; none: nowhere.",
    group=EXTENSION,
)
FLUSH = Variable(
    "XRAYLAYER_FLUSH",
    "end, adaptive, periodic,<ms> or shutdown",
    _text,
    "adaptive",
    "When the extension exports: after each invocation (end), batched in the background while "
    "invocations are frequent (adaptive), at most every <ms> (periodic), or only at shutdown.",
    group=EXTENSION,
)
TAIL_KEEP = Variable(
    "XRAYLAYER_TAIL_KEEP",
    "boolean",
    _text,
    True,
    "Also export, to the full-trace exporters, invocations the sampler left out that timed out, "
    "faulted, were throttled or answered with an error.",
    group=EXTENSION,
)
TAIL_KEEP_SLOW_MS = Variable(
    "XRAYLAYER_TAIL_KEEP_SLOW_MS",
    "number (ms)",
    _text,
    0.0,
    "Tail keep also keeps invocations longer than this; 0 turns the slow rule off.",
    group=EXTENSION,
)
FILE = Variable(
    "XRAYLAYER_FILE",
    "path",
    _text,
    "/tmp/xraylayer-traces.jsonl",
    "Where the `file` exporter appends X-Ray documents, one JSON object per line.",
    group=EXTENSION,
)
ACCOUNTING = Variable(
    "XRAYLAYER_ACCOUNTING",
    "path",
    _text,
    None,
    "A JSON file the extension rewrites after each flush: spans received, exported and dropped "
    "(with the reasons), per exporter.",
    group=EXTENSION,
)
INTAKE = Variable(
    "XRAYLAYER_INTAKE",
    "path",
    _text,
    "/tmp/xraylayer-intake.sock",
    "The unix socket through which the function hands its spans to the extension (both read "
    "it); unset, it is in $TMPDIR when that is set.",
    group=EXTENSION,
)

# --- OpenTelemetry's variables: the meaning the specification gives them, except as noted ------

OTEL_SDK_DISABLED = Variable(
    "OTEL_SDK_DISABLED",
    "boolean",
    _boolean,
    False,
    "true turns the layer off, as XRAYLAYER_ENABLED=false does.",
    group=OPENTELEMETRY,
    otel_difference="It switches off the whole layer; 1, yes and on also mean true.",
)
OTEL_SERVICE_NAME = Variable(
    "OTEL_SERVICE_NAME",
    "string",
    _text,
    None,
    "The service name: the `Service` annotation of every invocation, and OTLP's `service.name`.",
    group=OPENTELEMETRY,
    otel_difference="Unset, POWERTOOLS_SERVICE_NAME and then the function's name stand in, "
    "before `unknown_service`.",
)
PROPAGATORS = Variable(
    "OTEL_PROPAGATORS",
    "list of xray, tracecontext, none",
    _names({"xray": "xray", "xray-lambda": "xray", "tracecontext": "tracecontext"}, none="none"),
    ("xray", "tracecontext"),
    "The trace headers outgoing HTTP calls carry: X-Amzn-Trace-Id (xray), traceparent "
    "(tracecontext). Messages sent to SQS, SNS, EventBridge and Step Functions carry the X-Ray "
    "context only with xray; AWS SDK requests carry X-Amzn-Trace-Id whatever this says.",
    group=OPENTELEMETRY,
    otel_difference="The default is xray,tracecontext; xray-lambda means xray. Any other name "
    "(baggage, b3, ...) makes the whole value ignored, with a warning.",
)
TRACES_SAMPLER = Variable(
    "OTEL_TRACES_SAMPLER",
    "always_on, always_off, traceidratio, parentbased_*",
    _text,
    "always_on",
    "Which traces the full-trace exporters (otlp, otlp-udp, xray-api, file) take; xray-daemon "
    "follows Lambda's sampling decision.",
    group=OPENTELEMETRY,
    otel_difference="The default is always_on, not parentbased_always_on: Lambda marks every "
    "request Sampled=0 when its tracing is off. The parent is Lambda's decision. xray and "
    "jaeger_remote are not supported.",
)
TRACES_SAMPLER_ARG = Variable(
    "OTEL_TRACES_SAMPLER_ARG",
    "number 0 to 1",
    _text,
    1.0,
    "The share of traces the traceidratio samplers keep, chosen by trace id, so every process "
    "of a trace decides alike.",
    group=OPENTELEMETRY,
)
OTLP_ENDPOINT = Variable(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "URL",
    _text,
    "http://localhost:4318",
    "The OTLP/HTTP receiver's base URL; `v1/traces` is appended.",
    group=OPENTELEMETRY,
    otel_difference="Setting it turns the otlp exporter on, next to xray-daemon. Always "
    "OTLP/HTTP with a JSON body: OTEL_EXPORTER_OTLP_PROTOCOL is not read.",
)
OTLP_TRACES_ENDPOINT = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "URL",
    _text,
    None,
    "The full OTLP/HTTP traces URL, used as is; it wins over OTEL_EXPORTER_OTLP_ENDPOINT.",
    group=OPENTELEMETRY,
    otel_difference="As OTEL_EXPORTER_OTLP_ENDPOINT: setting it turns otlp on; JSON only.",
)
OTLP_HEADERS = Variable(
    "OTEL_EXPORTER_OTLP_HEADERS",
    "key=value,...",
    _text,
    None,
    "Headers on every OTLP request (percent-encoded values): where a vendor's API key goes.",
    group=OPENTELEMETRY,
    otel_difference="Content-Type, Content-Encoding and Content-Length are the exporter's own: "
    "skipped, with a warning.",
)
OTLP_TRACES_HEADERS = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "key=value,...",
    _text,
    None,
    "Headers on OTLP trace requests; each wins over the same header in OTEL_EXPORTER_OTLP_HEADERS.",
    group=OPENTELEMETRY,
)
RESOURCE_ATTRIBUTES = Variable(
    "OTEL_RESOURCE_ATTRIBUTES",
    "key=value,...",
    _text,
    None,
    "Attributes of the resource the OTLP exporters send (percent-encoded values), over the "
    "ones the extension detects; its `service.name` stands in when OTEL_SERVICE_NAME is unset.",
    group=OPENTELEMETRY,
    otel_difference="OTLP only: X-Ray documents and the `Service` annotation do not use it.",
)
OTLP_COMPRESSION = Variable(
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "gzip or none",
    _text,
    "none",
    "gzip compresses OTLP request bodies (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION wins).",
    group=OPENTELEMETRY,
)
OTLP_TIMEOUT = Variable(
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "number (ms)",
    _text,
    10000.0,
    "The longest one OTLP request may take (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT wins).",
    group=OPENTELEMETRY,
    otel_difference="A request also ends at its flush's deadline, if that comes first (a "
    "flush after a response takes at most 1 s).",
)

OTLP_TRACES_COMPRESSION = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "gzip or none",
    _text,
    None,
    "Compression of OTLP trace requests; it wins over OTEL_EXPORTER_OTLP_COMPRESSION.",
    group=OPENTELEMETRY,
)
OTLP_TRACES_TIMEOUT = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "number (ms)",
    _text,
    None,
    "The longest one OTLP trace request may take; it wins over OTEL_EXPORTER_OTLP_TIMEOUT.",
    group=OPENTELEMETRY,
    otel_difference=OTLP_TIMEOUT.otel_difference,
)

# --- Set by Lambda: read, never set, by the layer -------------------------------------------

FUNCTION_NAME = Variable(
    "AWS_LAMBDA_FUNCTION_NAME",
    "string",
    _text,
    None,
    "Set by Lambda: the service name when neither OTEL_SERVICE_NAME nor "
    "POWERTOOLS_SERVICE_NAME is set; OTLP's `faas.name`.",
    group=LAMBDA,
)
INITIALIZATION_TYPE = Variable(
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "string",
    _text,
    "on-demand",
    "Set by Lambda: on-demand, provisioned-concurrency or snap-start; only the first invocation "
    "after an on-demand init is a `ColdStart`.",
    group=LAMBDA,
)
DAEMON_ADDRESS = Variable(
    "AWS_XRAY_DAEMON_ADDRESS",
    "host:port",
    _text,  # parsed where it is used: xray_udp.parse_address
    None,
    "Set by Lambda: where the X-Ray daemon listens (UDP); the function tells the extension, "
    "which does not see it. The X-Ray SDK's `tcp:host:port udp:host:port` form works too.",
    group=LAMBDA,
)
LAMBDA_TRACE_HEADER = Variable(
    "_X_AMZN_TRACE_ID",
    "X-Ray trace header",
    _text,
    None,
    "Set by Lambda's runtime for each invocation: its trace (Root, Parent, Sampled), which the "
    "invocation's subsegment continues.",
    group=LAMBDA,
)
HANDLER = Variable(
    "_HANDLER",
    "module.function",
    _text,
    None,
    "Set by Lambda: your handler. /opt/xray-instrument puts the layer's in its place, which "
    "loads yours and gives _HANDLER its value back.",
    group=LAMBDA,
)
REGION = Variable(
    "AWS_REGION",
    "string",
    _text,
    None,
    "Set by Lambda: the region, recorded as `cloud.region`; where the xray-api exporter sends.",
    group=LAMBDA,
)
FUNCTION_VERSION = Variable(
    "AWS_LAMBDA_FUNCTION_VERSION",
    "string",
    _text,
    None,
    "Set by Lambda: the version that runs, OTLP's `faas.version`.",
    group=LAMBDA,
)
FUNCTION_MEMORY_SIZE = Variable(
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "number (MB)",
    _text,
    None,
    "Set by Lambda: the memory size, OTLP's `faas.max_memory` (in bytes).",
    group=LAMBDA,
)
RUNTIME_API = Variable(
    "AWS_LAMBDA_RUNTIME_API",
    "host:port",
    _text,
    None,
    "Set by Lambda: the Runtime and Extensions API, which the extension talks to; HTTP "
    "tracing leaves calls to it alone.",
    group=LAMBDA,
)
MAX_CONCURRENCY = Variable(
    "AWS_LAMBDA_MAX_CONCURRENCY",
    "number",
    _text,
    None,
    "Set by Lambda when one process serves several requests at once; an AWS call made outside "
    "every span is then not put under the invocation _X_AMZN_TRACE_ID names.",
    group=LAMBDA,
)

# --- Internal: set by /opt/xray-instrument for the layer's own code ------------------------

ORIGINAL_HANDLER = Variable(
    "XRAYLAYER_ORIGINAL_HANDLER",
    "string",
    _text,
    None,
    "Internal: the function's own _HANDLER, which the layer's handler loads and calls.",
    group=INTERNAL,
)
ADDED_PYTHONPATH = Variable(
    "XRAYLAYER_ADDED_PYTHONPATH",
    "paths",
    _text,
    None,
    "Internal: what the wrapper added to PYTHONPATH, taken back at interpreter start.",
    group=INTERNAL,
)
ORIGINAL_PYTHONPATH = Variable(
    "XRAYLAYER_ORIGINAL_PYTHONPATH",
    "paths",
    _text,
    None,
    "Internal: the function's own PYTHONPATH, when it had one, given back at interpreter start.",
    group=INTERNAL,
)

VARIABLES: tuple[Variable, ...] = (
    ENABLED,
    POWERTOOLS_SERVICE_NAME,
    CAPTURE_QUERY_STRING,
    MESSAGE_CONTEXT,
    MESSAGE_TRACEPARENT,
    DISABLED_INSTRUMENTATIONS,
    IMPORT_PROFILE_MS,
    LOG_LEVEL,
    NEXT_WRAPPER,
    EXPORTERS,
    FLUSH,
    TAIL_KEEP,
    TAIL_KEEP_SLOW_MS,
    FILE,
    ACCOUNTING,
    INTAKE,
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    PROPAGATORS,
    TRACES_SAMPLER,
    TRACES_SAMPLER_ARG,
    OTLP_ENDPOINT,
    OTLP_TRACES_ENDPOINT,
    RESOURCE_ATTRIBUTES,
    OTLP_HEADERS,
    OTLP_TRACES_HEADERS,
    OTLP_COMPRESSION,
    OTLP_TRACES_COMPRESSION,
    OTLP_TIMEOUT,
    OTLP_TRACES_TIMEOUT,
    FUNCTION_NAME,
    INITIALIZATION_TYPE,
    DAEMON_ADDRESS,
    LAMBDA_TRACE_HEADER,
    HANDLER,
    REGION,
    FUNCTION_VERSION,
    FUNCTION_MEMORY_SIZE,
    RUNTIME_API,
    MAX_CONCURRENCY,
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
