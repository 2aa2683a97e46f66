"""OTEL_TRACES_SAMPLER / _ARG: every value and bad value, the decisions against the
OpenTelemetry SDK's own samplers (hypothesis over trace ids, ratios and Lambda's flag), the
default that keeps OTLP on with X-Ray tracing off, and the module's import cost."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import sampling as sdk
from xraylayer.trace_header import from_w3c_trace_id
from xraylayer_extension import trace_sampler
from xraylayer_extension.trace_sampler import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ARG_ENV,
    DEFAULT_SAMPLER,
    RATIO_SAMPLERS,
    SAMPLER_ENV,
    SAMPLERS,
    TRACE_ID_RATIO,
    TraceSampler,
    TraceSamplerError,
    parse_ratio,
    parse_sampler_name,
    sampler_from,
)

EXTENSION_DIR = Path(trace_sampler.__file__).resolve().parents[1]
LAYER_DIR = Path(sys.modules["xraylayer"].__file__).resolve().parents[1]
TWO_64 = 1 << 64
FLAGS = (True, False, None)  # Lambda sampled, did not sample, made no decision


def sdk_sampler(name: str, ratio: float) -> sdk.Sampler:
    """The OpenTelemetry SDK's sampler of that name, from its public classes."""
    return {
        ALWAYS_ON: sdk.ALWAYS_ON,
        ALWAYS_OFF: sdk.ALWAYS_OFF,
        TRACE_ID_RATIO: sdk.TraceIdRatioBased(ratio),
        "parentbased_always_on": sdk.ParentBased(sdk.ALWAYS_ON),
        "parentbased_always_off": sdk.ParentBased(sdk.ALWAYS_OFF),
        "parentbased_traceidratio": sdk.ParentBasedTraceIdRatio(ratio),
    }[name]


def sdk_keeps(sampler: sdk.Sampler, trace_id: int, lambda_sampled: bool | None) -> bool:
    """The SDK's decision for a span whose remote parent carries Lambda's flag (no parent when
    Lambda made no decision)."""
    context = Context()
    if lambda_sampled is not None:
        flags = trace.TraceFlags(trace.TraceFlags.SAMPLED if lambda_sampled else 0)
        parent = trace.SpanContext(trace_id, 0x53995C3F42CD8AD8, is_remote=True, trace_flags=flags)
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent), context)
    result = sampler.should_sample(context, trace_id, "invocation")
    return result.decision.is_sampled()


def ours(name: str, ratio: float) -> TraceSampler:
    return TraceSampler(name, ratio if name in RATIO_SAMPLERS else None)


trace_ids = st.integers(min_value=1, max_value=(1 << 128) - 1)  # all zeros is no trace id
ratios = st.floats(min_value=0.0, max_value=1.0)
names = st.sampled_from(SAMPLERS)
lambda_flags = st.sampled_from(FLAGS)


# --- decisions: the same as the OpenTelemetry SDK's ---------------------------------------------
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, ratio=ratios, trace_id=trace_ids, lambda_sampled=lambda_flags)
def test_every_decision_is_the_sdk_samplers(
    name: str, ratio: float, trace_id: int, lambda_sampled: bool | None
) -> None:
    expected = sdk_keeps(sdk_sampler(name, ratio), trace_id, lambda_sampled)
    sampler = ours(name, ratio)
    assert sampler.keeps(f"{trace_id:032x}", lambda_sampled) is expected
    assert sampler.keeps(from_w3c_trace_id(f"{trace_id:032x}"), lambda_sampled) is expected
    assert sampler.keeps(f"{trace_id:032X}", lambda_sampled) is expected


@settings(max_examples=2000, deadline=None)
@given(
    ratio=ratios,
    random_bits=st.integers(min_value=0, max_value=TWO_64 - 1),
    high_bits=st.integers(min_value=0, max_value=TWO_64 - 1),
)
def test_the_ratio_looks_at_the_low_64_bits_only(
    ratio: float, random_bits: int, high_bits: int
) -> None:
    """X-Ray puts the time in the first 32 bits: they must not sway the decision."""
    assume(high_bits or random_bits)
    sampler = TraceSampler(TRACE_ID_RATIO, ratio)
    decision = sampler.keeps(f"{random_bits:032x}", None)
    assert sampler.keeps(f"{high_bits:016x}{random_bits:016x}", None) is decision
    assert decision is (random_bits < round(ratio * TWO_64))


@pytest.mark.parametrize("ratio", [0.5, 0.25, 0.1, 1e-6, 0.999999])
def test_the_ratio_boundary_is_exactly_the_sdks(ratio: float) -> None:
    bound = sdk.TraceIdRatioBased(ratio).bound
    sampler = TraceSampler(TRACE_ID_RATIO, ratio)
    assert sampler.keeps(f"{bound - 1:032x}", None)
    assert not sampler.keeps(f"{bound:032x}", None)


@given(trace_id=trace_ids, low=ratios, high=ratios)
def test_a_trace_kept_at_a_ratio_is_kept_at_every_higher_one(
    trace_id: int, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    if TraceSampler(TRACE_ID_RATIO, low).keeps(f"{trace_id:032x}", None):
        assert TraceSampler(TRACE_ID_RATIO, high).keeps(f"{trace_id:032x}", None)


def test_a_ratio_keeps_about_its_share_of_random_traces() -> None:
    sampler = TraceSampler(TRACE_ID_RATIO, 0.25)
    kept = sum(sampler.keeps(os.urandom(16).hex(), None) for _ in range(20_000))
    assert 4_500 < kept < 5_500  # 5,000 expected; the standard deviation is about 61


def test_ratios_0_and_1_are_always_off_and_always_on() -> None:
    for trace_id in ("0" * 31 + "1", "f" * 32, "1-58406520-a006649127e371903a2de979"):
        for flag in FLAGS:
            assert TraceSampler(TRACE_ID_RATIO, 1.0).keeps(trace_id, flag)
            assert not TraceSampler(TRACE_ID_RATIO, 0.0).keeps(trace_id, flag)


@pytest.mark.parametrize("lambda_sampled", FLAGS)
def test_the_default_keeps_what_lambda_did_not_sample(lambda_sampled: bool | None) -> None:
    """The OpenTelemetry layers' trap: tracing off, `Sampled=0`, nothing over OTLP."""
    assert TraceSampler(ALWAYS_ON) == DEFAULT_SAMPLER
    assert DEFAULT_SAMPLER.keeps("5759e988bd862e3fe1be46a994272793", lambda_sampled)


@pytest.mark.parametrize("name", [n for n in SAMPLERS if n.startswith("parentbased_")])
@given(trace_id=trace_ids, ratio=ratios)
def test_parent_based_samplers_follow_lambda_when_it_decided(
    name: str, trace_id: int, ratio: float
) -> None:
    sampler = ours(name, ratio)
    assert sampler.parent_based
    assert sampler.keeps(f"{trace_id:032x}", True)
    assert not sampler.keeps(f"{trace_id:032x}", False)
    root = ours(name.removeprefix("parentbased_"), ratio)
    assert sampler.keeps(f"{trace_id:032x}", None) is root.keeps(f"{trace_id:032x}", None)


@pytest.mark.parametrize(
    "trace_id",
    [
        "",
        "5759e988bd862e3fe1be46a99427279",  # 31 digits
        "5759e988bd862e3fe1be46a9942727933",  # 33
        "5759e988bd862e3fe1be46a99427279g",
        "5759e988 bd862e3fe1be46a994272793",
        "+759e988bd862e3fe1be46a994272793",
        "_759e988bd862e3fe1be46a994272793",
        "1-5759e988-bd862e3fe1be46a99427279",
        "2-5759e988-bd862e3fe1be46a994272793",
        "1-5759e988bd862e3fe1be46a994272793",
        "\u0661" * 32,  # Arabic-Indic digits: int() would read them
    ],
)
@pytest.mark.parametrize("lambda_sampled", [False, None])
def test_an_id_of_neither_form_is_kept_unless_nothing_would_be(
    trace_id: str, lambda_sampled: bool | None
) -> None:
    assert TraceSampler(ALWAYS_ON).keeps(trace_id, lambda_sampled)
    assert TraceSampler(TRACE_ID_RATIO, 1e-9).keeps(trace_id, lambda_sampled)
    assert not TraceSampler(ALWAYS_OFF).keeps(trace_id, lambda_sampled)
    assert not TraceSampler(TRACE_ID_RATIO, 0.0).keeps(trace_id, lambda_sampled)
    assert not TraceSampler("parentbased_always_on").keeps(trace_id, False)


# --- the variables ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "name"),
    [
        *((name, name) for name in SAMPLERS),
        ("ALWAYS_ON", ALWAYS_ON),
        ("  ParentBased_TraceIdRatio\n", "parentbased_traceidratio"),
        (None, ALWAYS_ON),
        ("", ALWAYS_ON),
        (" \t", ALWAYS_ON),
    ],
)
def test_every_sampler_name_parses(text: str | None, name: str) -> None:
    assert parse_sampler_name(text) == name


@pytest.mark.parametrize("text", ["xray", "jaeger_remote", "parentbased_jaeger_remote", "XRay"])
def test_samplers_that_need_a_rules_service_are_not_supported(text: str) -> None:
    with pytest.raises(TraceSamplerError) as raised:
        parse_sampler_name(text)
    assert str(raised.value) == (
        f"OTEL_TRACES_SAMPLER={text!r} is not supported by xraylayer "
        "(it needs a sampling-rules service)"
    )


@pytest.mark.parametrize(
    "text",
    ["always", "on", "parentbased", "traceidratio,0.5", "always-on", "parentbased always_on"],
)
def test_an_unknown_sampler_says_what_was_expected(text: str) -> None:
    with pytest.raises(TraceSamplerError) as raised:
        parse_sampler_name(text)
    assert str(raised.value) == (
        f"OTEL_TRACES_SAMPLER={text!r} is not a sampler: expected always_on, always_off, "
        "traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
    )


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        (None, 1.0),
        ("", 1.0),
        ("  ", 1.0),
        ("0", 0.0),
        ("1", 1.0),
        ("0.25", 0.25),
        (" 0.5\n", 0.5),
        ("1e-3", 0.001),
        (".1", 0.1),
        ("1.0", 1.0),
        ("-0", 0.0),
    ],
)
def test_every_ratio_parses(text: str | None, ratio: float) -> None:
    assert parse_ratio(text) == ratio


@pytest.mark.parametrize(
    "text", ["2", "-0.1", "1.0000001", "nan", "inf", "-inf", "50%", "0,5", "half", "1e999", "0x1"]
)
def test_a_bad_ratio_says_what_was_expected(text: str) -> None:
    with pytest.raises(TraceSamplerError) as raised:
        parse_ratio(text)
    assert str(raised.value) == (
        f"OTEL_TRACES_SAMPLER_ARG={text!r} is not a sampling ratio: expected a number from 0 "
        "to 1, such as 0.25"
    )


def test_the_environment_gives_the_sampler_and_no_warning() -> None:
    assert sampler_from({}) == (TraceSampler(ALWAYS_ON), None)
    assert sampler_from({SAMPLER_ENV: "always_off", ARG_ENV: "0.5"}) == (
        TraceSampler(ALWAYS_OFF),
        None,
    )  # the argument belongs to the ratio samplers only
    assert sampler_from({SAMPLER_ENV: "traceidratio", ARG_ENV: "0.1"}) == (
        TraceSampler(TRACE_ID_RATIO, 0.1),
        None,
    )
    assert sampler_from({SAMPLER_ENV: "parentbased_traceidratio"}) == (
        TraceSampler("parentbased_traceidratio", 1.0),
        None,
    )
    assert sampler_from({ARG_ENV: "0.1"}) == (DEFAULT_SAMPLER, None)


def test_a_bad_sampler_gives_the_default_and_one_line_to_log() -> None:
    sampler, warning = sampler_from({SAMPLER_ENV: "xray", ARG_ENV: "not even a number"})
    assert sampler == DEFAULT_SAMPLER
    assert warning == (
        "xraylayer: OTEL_TRACES_SAMPLER='xray' is not supported by xraylayer (it needs a "
        "sampling-rules service); using sampler always_on"
    )


def test_a_bad_ratio_keeps_the_sampler_with_ratio_1_and_one_line_to_log() -> None:
    sampler, warning = sampler_from({SAMPLER_ENV: "parentbased_traceidratio", ARG_ENV: "5"})
    assert sampler == TraceSampler("parentbased_traceidratio", 1.0)
    assert warning == (
        "xraylayer: OTEL_TRACES_SAMPLER_ARG='5' is not a sampling ratio: expected a number "
        "from 0 to 1, such as 0.25; using sampler parentbased_traceidratio 1.0"
    )


@given(name=st.text(max_size=40), arg=st.text(max_size=40))
def test_no_environment_breaks_anything(name: str, arg: str) -> None:
    sampler, warning = sampler_from({SAMPLER_ENV: name, ARG_ENV: arg})
    assert sampler.name in SAMPLERS
    assert 0.0 <= sampler.ratio <= 1.0
    if warning is not None:
        assert warning.startswith("xraylayer: ")
        assert "\n" not in warning


@settings(max_examples=500, deadline=None)
@given(
    name=st.sampled_from(RATIO_SAMPLERS).map(str.upper) | st.sampled_from(RATIO_SAMPLERS),
    arg=st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.floats(min_value=0.0, max_value=1.0).map(str)
    | st.text(alphabet="0123456789.-+e_ naif", max_size=8),
)
def test_the_ratio_read_from_the_environment_is_the_sdks(name: str, arg: str) -> None:
    """Same ratio as the SDK's own reading of OTEL_TRACES_SAMPLER_ARG (1.0 where it is bad),
    shown by the decisions on both sides of our bound: they differ for any other bound."""
    with mock.patch.dict(os.environ, {SAMPLER_ENV: name, ARG_ENV: arg}):
        expected = sdk._get_from_env_or_default()
    sampler, _ = sampler_from({SAMPLER_ENV: name, ARG_ENV: arg})
    bound = round(sampler.ratio * TWO_64)
    for trace_id in {max(bound - 1, 1), min(max(bound, 1), TWO_64 - 1)}:
        assert sampler.keeps(f"{trace_id:032x}", None) is sdk_keeps(expected, trace_id, None)


# --- the object ---------------------------------------------------------------------------------
def test_only_ratio_samplers_take_a_ratio_and_only_from_0_to_1() -> None:
    with pytest.raises(TraceSamplerError, match="always_on takes no ratio"):
        TraceSampler(ALWAYS_ON, 0.5)
    for ratio in (-0.1, 1.1, math.nan, math.inf):
        with pytest.raises(TraceSamplerError, match="from 0 to 1"):
            TraceSampler(TRACE_ID_RATIO, ratio)
    with pytest.raises(TraceSamplerError, match="unknown sampler 'xray'"):
        TraceSampler("xray")
    assert TraceSampler(TRACE_ID_RATIO).ratio == 1.0
    assert TraceSampler(ALWAYS_OFF).ratio == TraceSampler("parentbased_always_off").ratio == 0.0
    assert TraceSampler(ALWAYS_ON).ratio == 1.0
    assert isinstance(TraceSampler(TRACE_ID_RATIO, 1).ratio, float)


def test_a_sampler_cannot_change() -> None:
    sampler = TraceSampler(TRACE_ID_RATIO, 0.5)
    with pytest.raises(AttributeError):
        sampler.ratio = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del sampler.name
    assert sampler == TraceSampler(TRACE_ID_RATIO, 0.5)


def test_samplers_compare_and_hash_by_value() -> None:
    assert TraceSampler(TRACE_ID_RATIO, 0.5) == TraceSampler(TRACE_ID_RATIO, 0.5)
    assert TraceSampler(TRACE_ID_RATIO, 0.5) != TraceSampler(TRACE_ID_RATIO, 0.25)
    assert TraceSampler(TRACE_ID_RATIO, 1.0) != TraceSampler(ALWAYS_ON)
    assert TraceSampler(ALWAYS_ON) != ALWAYS_ON
    assert len({TraceSampler(ALWAYS_ON), TraceSampler(ALWAYS_ON), DEFAULT_SAMPLER}) == 1


@pytest.mark.parametrize(
    ("sampler", "described", "represented"),
    [
        (TraceSampler(ALWAYS_ON), "sampler always_on", "TraceSampler('always_on')"),
        (
            TraceSampler("parentbased_always_off"),
            "sampler parentbased_always_off",
            "TraceSampler('parentbased_always_off')",
        ),
        (
            TraceSampler(TRACE_ID_RATIO, 0.25),
            "sampler traceidratio 0.25",
            "TraceSampler('traceidratio', 0.25)",
        ),
        (
            TraceSampler("parentbased_traceidratio", 1e-05),
            "sampler parentbased_traceidratio 1e-05",
            "TraceSampler('parentbased_traceidratio', 1e-05)",
        ),
    ],
)
def test_a_sampler_describes_itself(
    sampler: TraceSampler, described: str, represented: str
) -> None:
    assert sampler.describe() == described
    assert repr(sampler) == represented


def test_importing_the_module_pulls_in_nothing_heavy() -> None:
    """Imported on the extension's start path: no typing, dataclasses, enum or re."""
    code = (
        "import os, sys; before = set(sys.modules); "
        f"sys.path[:0] = [{str(EXTENSION_DIR)!r}, {str(LAYER_DIR)!r}]; "
        "import xraylayer_extension.trace_sampler; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    )
    new = set(result.stdout.split()) - {"__future__"}
    assert new == {
        "xraylayer",
        "xraylayer.trace_header",
        "xraylayer_extension",
        "xraylayer_extension.trace_sampler",
    }
