"""cold_start: which invocation is cold, the kind of init, its duration."""

from __future__ import annotations

import pytest
from xraylayer import cold_start

T0 = 1_795_514_400.0


@pytest.mark.parametrize(
    ("declared", "gap_s", "expected"),
    [
        ("on-demand", 0.001, "on-demand"),
        ("on-demand", 9.9, "on-demand"),
        ("on-demand", 60.0, "proactive-initialization"),
        ("provisioned-concurrency", 600.0, "provisioned-concurrency"),
        ("snap-start", 0.001, "snap-start"),
        (None, 0.001, "on-demand"),
        ("", 0.001, "on-demand"),
    ],
)
def test_the_init_type_is_declared_unless_the_first_invoke_came_long_after(
    declared: str | None, gap_s: float, expected: str
) -> None:
    assert cold_start.initialization_type(declared, T0, T0 + gap_s) == expected


def test_without_a_known_init_end_the_declared_type_stands() -> None:
    assert cold_start.initialization_type("on-demand", None, T0 + 3600) == "on-demand"


@pytest.mark.parametrize(
    ("number", "init_type", "cold"),
    [
        (1, "on-demand", True),
        (2, "on-demand", False),
        (1, "provisioned-concurrency", False),
        (1, "snap-start", False),
        (1, "proactive-initialization", False),
    ],
)
def test_only_the_first_invocation_after_an_on_demand_init_is_cold(
    number: int, init_type: str, cold: bool
) -> None:
    assert cold_start.is_cold_start(number, init_type) is cold


def test_init_duration_runs_from_process_start_to_init_end() -> None:
    assert cold_start.init_duration_ms(T0, T0 + 0.25) == pytest.approx(250.0)
    assert cold_start.init_duration_ms(None, T0) is None
    assert cold_start.init_duration_ms(T0, None) is None
    assert cold_start.init_duration_ms(T0, T0 - 1) is None  # a clock step: unknown, not negative
