"""The trace sampler of the full-trace exporters: `OTEL_TRACES_SAMPLER` and its argument.

The X-Ray daemon exporter follows Lambda's decision (the `Sampled` flag of the trace header).
The full-trace exporters (OTLP/HTTP, OTLP over UDP, the PutTraceSegments API, the JSON-lines
file) can also take an invocation Lambda did not sample; `TraceSampler.keeps` says which.

Why the default is `always_on`, not OpenTelemetry's `parentbased_always_on`: in Lambda the
"parent" decision is X-Ray's, made for X-Ray's cost. With tracing off (PassThrough, Lambda's
default), Lambda still hands every invocation a header with `Sampled=0`, so a parent-based
sampler silently exports nothing over OTLP: the best-known trap of the OpenTelemetry Lambda
layers (aws-otel-lambda #14, opentelemetry-lambda #1782, their fix: `always_on`).

The samplers follow the OpenTelemetry specification, with Lambda's flag as the remote parent's:

==========================  ====================================================================
`always_on`                 every trace (the default).
`always_off`                no trace.
`traceidratio`              an `OTEL_TRACES_SAMPLER_ARG` share of traces (0 to 1, default 1),
                            chosen by trace id, so every process decides the same for a trace.
`parentbased_always_on`     Lambda's decision; `always_on` for an invocation without one.
`parentbased_always_off`    Lambda's decision; `always_off` for an invocation without one.
`parentbased_traceidratio`  Lambda's decision; `traceidratio` for an invocation without one.
==========================  ====================================================================

`xray`, `jaeger_remote` and `parentbased_jaeger_remote` need a sampling-rules service and are not
supported here: like any other unknown value they get a warning and the default.

The ratio test is the OpenTelemetry Python SDK's `TraceIdRatioBased`: the low 64 bits of the
trace id (its last 16 hex digits: random in both forms, where an X-Ray id starts with the time)
are below `round(ratio * 2**64)`. It is deterministic, so every process that reads the same
trace id and ratio decides the same, and a trace kept at one ratio is kept at every higher one:
all the specification requires. Services running another language's SDK may decide otherwise
for the same ratio: the specification leaves the exact test to each SDK.

Pure: the caller passes the environment in and logs the warning line it gets back.
"""

from __future__ import annotations

from xraylayer.trace_header import is_trace_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

SAMPLER_ENV = "OTEL_TRACES_SAMPLER"
ARG_ENV = "OTEL_TRACES_SAMPLER_ARG"

ALWAYS_ON = "always_on"
ALWAYS_OFF = "always_off"
TRACE_ID_RATIO = "traceidratio"
PARENT_BASED = "parentbased_"
SAMPLERS = (
    ALWAYS_ON,
    ALWAYS_OFF,
    TRACE_ID_RATIO,
    PARENT_BASED + ALWAYS_ON,
    PARENT_BASED + ALWAYS_OFF,
    PARENT_BASED + TRACE_ID_RATIO,
)
RATIO_SAMPLERS = (TRACE_ID_RATIO, PARENT_BASED + TRACE_ID_RATIO)
UNSUPPORTED = ("xray", "jaeger_remote", "parentbased_jaeger_remote")

_ID_SPACE = 1 << 64  # the ratio is applied to the low 64 bits of the trace id
_HEX = "0123456789abcdefABCDEF"


class TraceSamplerError(ValueError):
    """A sampler name or ratio that cannot be used; the message quotes it and says why."""


class TraceSampler:
    """One sampler: its `name` (one of `SAMPLERS`) and `ratio`, the share of the traces its
    root sampler keeps (1.0 for always_on, 0.0 for always_off). Immutable, compared by value."""

    __slots__ = ("_bound", "name", "ratio")
    name: str
    ratio: float

    def __init__(self, name: str, ratio: float | None = None) -> None:
        """`ratio` belongs to the traceidratio samplers (default 1.0, the specification's);
        the others have theirs fixed by their name."""
        if name not in SAMPLERS:
            raise TraceSamplerError(f"unknown sampler {name!r}")
        if name not in RATIO_SAMPLERS:
            if ratio is not None:
                raise TraceSamplerError(f"{name} takes no ratio")
            ratio = 0.0 if name.endswith(ALWAYS_OFF) else 1.0
        elif ratio is None:
            ratio = 1.0
        elif not 0.0 <= ratio <= 1.0:  # also refuses NaN
            raise TraceSamplerError(f"the ratio must be from 0 to 1, not {ratio!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "ratio", float(ratio))
        object.__setattr__(self, "_bound", round(ratio * _ID_SPACE))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TraceSampler is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("TraceSampler is immutable")

    @property
    def parent_based(self) -> bool:
        """Whether Lambda's decision, when it made one, is the answer."""
        return self.name.startswith(PARENT_BASED)

    def keeps(self, trace_id: str, lambda_sampled: bool | None) -> bool:
        """Whether the full-trace exporters get the trace `trace_id` (32 hex digits or the
        X-Ray form `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`), which Lambda sampled (True), did not
        sample (False) or made no decision about (None: no trace header, so no parent).

        An id of neither form is kept unless the root sampler keeps nothing: sampling must not
        hide spans the exporters would otherwise count as invalid."""
        if self.parent_based and lambda_sampled is not None:
            return lambda_sampled
        random_bits = _random_bits(trace_id)
        if random_bits is None:
            return self._bound > 0
        return random_bits < self._bound

    def describe(self) -> str:
        """The sampler for the extension's start and summary lines: `sampler always_on`,
        `sampler parentbased_traceidratio 0.25`."""
        if self.name in RATIO_SAMPLERS:
            return f"sampler {self.name} {self.ratio!r}"
        return f"sampler {self.name}"

    def __repr__(self) -> str:
        if self.name in RATIO_SAMPLERS:
            return f"TraceSampler({self.name!r}, {self.ratio!r})"
        return f"TraceSampler({self.name!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TraceSampler):
            return NotImplemented
        return self.name == other.name and self.ratio == other.ratio

    def __hash__(self) -> int:
        return hash((self.name, self.ratio))


DEFAULT_SAMPLER = TraceSampler(ALWAYS_ON)


def _random_bits(trace_id: str) -> int | None:
    """The low 64 bits of a 32-hex or X-Ray trace id (its last 16 hex digits); None for any
    other text."""
    if (len(trace_id) == 32 and not trace_id.strip(_HEX)) or is_trace_id(trace_id):
        return int(trace_id[-16:], 16)
    return None


def parse_sampler_name(text: str | None) -> str:
    """The sampler `text` names (case and surrounding spaces do not matter); unset or blank
    means the default, always_on. Raises TraceSamplerError saying what was expected."""
    if text is None or not text.strip():
        return DEFAULT_SAMPLER.name
    name = text.strip().lower()
    if name in SAMPLERS:
        return name
    if name in UNSUPPORTED:
        raise TraceSamplerError(
            f"{SAMPLER_ENV}={text!r} is not supported by xraylayer "
            "(it needs a sampling-rules service)"
        )
    raise TraceSamplerError(
        f"{SAMPLER_ENV}={text!r} is not a sampler: expected " + ", ".join(SAMPLERS)
    )


def parse_ratio(text: str | None) -> float:
    """The ratio `OTEL_TRACES_SAMPLER_ARG` gives a traceidratio sampler; unset or blank
    means 1.0. Raises TraceSamplerError for anything but a number from 0 to 1."""
    if text is None or not text.strip():
        return 1.0
    try:
        ratio = float(text.strip())
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:  # also refuses NaN
        raise TraceSamplerError(
            f"{ARG_ENV}={text!r} is not a sampling ratio: expected a number from 0 to 1, "
            "such as 0.25"
        )
    return ratio


def sampler_from(environ: Mapping[str, str]) -> tuple[TraceSampler, str | None]:
    """The sampler `environ` asks for, and None; or, for a bad value, what is used instead
    (the default sampler, or the named one with ratio 1.0) and the one line to log (prefixed
    `xraylayer:`), so the extension never fails over it. The ratio is read only for the
    traceidratio samplers, as the specification says."""
    try:
        name = parse_sampler_name(environ.get(SAMPLER_ENV))
    except TraceSamplerError as error:
        return DEFAULT_SAMPLER, f"xraylayer: {error}; using {DEFAULT_SAMPLER.describe()}"
    if name not in RATIO_SAMPLERS:
        return TraceSampler(name), None
    try:
        return TraceSampler(name, parse_ratio(environ.get(ARG_ENV))), None
    except TraceSamplerError as error:
        sampler = TraceSampler(name)
        return sampler, f"xraylayer: {error}; using {sampler.describe()}"
