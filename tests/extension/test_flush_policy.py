"""XRAYLAYER_FLUSH: every value, every bad value and its message, the numbers' relations, and
the modules' import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from xraylayer_extension import flush_policy
from xraylayer_extension.flush_policy import (
    ADAPTIVE,
    BACKGROUND_INTERVAL_S,
    DEFAULT_POLICY,
    END,
    FREQUENT_INTERVAL_S,
    MAX_PENDING_BYTES,
    MAX_PENDING_SPANS,
    MAX_STALENESS_S,
    PERIODIC,
    RECENT_INVOCATIONS,
    SHUTDOWN,
    FlushPolicy,
    FlushPolicyError,
    flush_policy_from,
    parse_flush_policy,
)

EXTENSION_DIR = Path(flush_policy.__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "mode", "interval_s"),
    [
        ("end", END, None),
        ("adaptive", ADAPTIVE, BACKGROUND_INTERVAL_S),
        ("shutdown", SHUTDOWN, None),
        ("periodic,5000", PERIODIC, 5.0),
        ("periodic,1", PERIODIC, 0.001),
        ("periodic,86400000", PERIODIC, 86_400.0),
        ("periodic", PERIODIC, BACKGROUND_INTERVAL_S),
        ("END", END, None),
        ("  Adaptive\n", ADAPTIVE, BACKGROUND_INTERVAL_S),
        (" Periodic , 250 ", PERIODIC, 0.25),
        ("periodic,007", PERIODIC, 0.007),
    ],
)
def test_every_value_parses(text: str, mode: str, interval_s: float | None) -> None:
    policy = parse_flush_policy(text)
    assert (policy.mode, policy.interval_s) == (mode, interval_s)


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"])
def test_unset_or_blank_is_the_adaptive_default(text: str | None) -> None:
    assert parse_flush_policy(text) == DEFAULT_POLICY == FlushPolicy(ADAPTIVE)
    assert DEFAULT_POLICY.mode == ADAPTIVE


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("never", "expected end, adaptive, periodic,<ms> or shutdown"),
        ("ends", "expected end, adaptive"),
        ("continuously,20000", "is not a flush policy"),
        ("periodically,20000", "is not a flush policy"),
        (",5000", "is not a flush policy"),
        ("end,100", "end takes no value after a comma"),
        ("adaptive,", "adaptive takes no value after a comma"),
        ("shutdown,5", "shutdown takes no value after a comma"),
        ("periodic,", "whole number of milliseconds"),
        ("periodic,0", "from 1 to 86400000"),
        ("periodic,-5", "whole number of milliseconds"),
        ("periodic,1.5", "whole number of milliseconds"),
        ("periodic,5s", "whole number of milliseconds"),
        ("periodic,1e3", "whole number of milliseconds"),
        ("periodic,86400001", "from 1 to 86400000"),
        ("periodic,\u0661\u0662", "whole number of milliseconds"),  # Arabic-Indic digits
        ("periodic,5,6", "whole number of milliseconds"),
        ("periodic 5000", "is not a flush policy"),
    ],
)
def test_bad_values_say_what_was_wrong(text: str, says: str) -> None:
    with pytest.raises(FlushPolicyError) as raised:
        parse_flush_policy(text)
    message = str(raised.value)
    assert says in message
    assert message.startswith(f"XRAYLAYER_FLUSH={text!r}")
    assert isinstance(raised.value, ValueError)


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    with pytest.raises(FlushPolicyError) as raised:
        parse_flush_policy("periodic," + "9" * 5000)
    message = str(raised.value)
    assert message.startswith("XRAYLAYER_FLUSH='periodic," + "9" * 48 + "'...: ")
    assert "such as periodic,10000" in message
    assert len(message) < 300


def test_environment_reading_gives_the_policy_and_no_warning() -> None:
    assert flush_policy_from({}) == (DEFAULT_POLICY, None)
    assert flush_policy_from({"XRAYLAYER_FLUSH": "end"}) == (FlushPolicy(END), None)
    assert flush_policy_from({"XRAYLAYER_FLUSH": "periodic,2000"}) == (
        FlushPolicy(PERIODIC, 2.0),
        None,
    )


def test_bad_environment_value_gives_the_default_and_one_line_to_log() -> None:
    policy, warning = flush_policy_from({"XRAYLAYER_FLUSH": "sometimes"})
    assert policy == DEFAULT_POLICY
    assert warning == (
        "xraylayer: XRAYLAYER_FLUSH='sometimes' is not a flush policy: expected end, adaptive, "
        "periodic,<ms> or shutdown; using XRAYLAYER_FLUSH=adaptive"
    )
    assert "\n" not in warning


@pytest.mark.parametrize(
    "policy",
    [
        FlushPolicy(END),
        FlushPolicy(ADAPTIVE),
        FlushPolicy(SHUTDOWN),
        FlushPolicy(PERIODIC),
        FlushPolicy(PERIODIC, 0.001),
        FlushPolicy(PERIODIC, 1234.567),
    ],
)
def test_a_policy_spells_itself_as_the_variable_does(policy: FlushPolicy) -> None:
    assert parse_flush_policy(str(policy)) == policy
    assert repr(policy) == f"FlushPolicy({str(policy)!r})"


def test_policies_compare_and_hash_by_value() -> None:
    assert FlushPolicy(PERIODIC, 5.0) == FlushPolicy(PERIODIC, 5.0)
    assert FlushPolicy(PERIODIC, 5.0) != FlushPolicy(PERIODIC, 6.0)
    assert FlushPolicy(END) != FlushPolicy(SHUTDOWN)
    assert FlushPolicy(END) != "end"
    assert len({FlushPolicy(END), FlushPolicy(END), FlushPolicy(ADAPTIVE)}) == 2


@pytest.mark.parametrize("interval_s", [0.0, -1.0, float("nan")])
def test_a_periodic_policy_needs_a_positive_interval(interval_s: float) -> None:
    with pytest.raises(FlushPolicyError, match="above 0"):
        FlushPolicy(PERIODIC, interval_s)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(FlushPolicyError, match="unknown flush mode 'never'"):
        FlushPolicy("never")


def test_only_periodic_and_adaptive_have_an_interval() -> None:
    assert FlushPolicy(END, 5.0).interval_s is None
    assert FlushPolicy(SHUTDOWN, 5.0).interval_s is None
    assert FlushPolicy(ADAPTIVE, 5.0).interval_s == BACKGROUND_INTERVAL_S


def test_staleness_bound_of_each_policy() -> None:
    assert FlushPolicy(END).max_staleness_s == MAX_STALENESS_S
    assert FlushPolicy(ADAPTIVE).max_staleness_s == MAX_STALENESS_S
    assert FlushPolicy(PERIODIC, 5.0).max_staleness_s == MAX_STALENESS_S
    assert FlushPolicy(PERIODIC, 300.0).max_staleness_s == 300.0
    assert FlushPolicy(SHUTDOWN).max_staleness_s == float("inf")


def test_the_numbers_fit_together() -> None:
    # A deferred span (age ~ one short invocation) plus one frequent gap stays under the bound.
    assert 2 * FREQUENT_INTERVAL_S <= MAX_STALENESS_S
    # Under frequent traffic, spans wait for ripeness, then at most one more gap.
    assert BACKGROUND_INTERVAL_S < FREQUENT_INTERVAL_S
    assert RECENT_INVOCATIONS >= 2  # a mean gap needs two starts
    assert MAX_PENDING_SPANS > 0
    assert 0 < MAX_PENDING_BYTES <= 128 * 1024 * 1024 // 100  # under 1% of 128 MB


def test_every_number_has_its_reason_written_next_to_it() -> None:
    source = Path(flush_policy.__file__).read_text()
    for name in (
        "RECENT_INVOCATIONS",
        "FREQUENT_INTERVAL_S",
        "BACKGROUND_INTERVAL_S",
        "MAX_STALENESS_S",
        "MAX_PENDING_SPANS",
        "MAX_PENDING_BYTES",
    ):
        after = source.split(f"\n{name} = ", 1)[1].split("\n", 2)
        assert after[1].startswith('"""'), f"{name} has no docstring"


def test_importing_both_modules_pulls_in_nothing_heavy() -> None:
    """They are imported on the extension's start path: no typing, dataclasses, enum or re."""
    code = (
        "import sys; before = set(sys.modules); "
        f"sys.path.insert(0, {str(EXTENSION_DIR)!r}); "
        "import xraylayer_extension.flush_decision; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    )
    new = set(result.stdout.split()) - {"__future__"}
    assert new == {
        "xraylayer_extension",
        "xraylayer_extension.flush_decision",
        "xraylayer_extension.flush_policy",
    }
