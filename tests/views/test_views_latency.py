"""Response-time distribution: nearest-rank percentiles, round bins, cold apart from warm."""

from __future__ import annotations

import itertools

import pytest
from views_fixtures import orders_demo
from xraylayer_local.views.invocations import Invocation, find_invocations
from xraylayer_local.views.latency import (
    MIN_BINS,
    Percentiles,
    distributions,
    histogram,
    percentile,
    percentiles,
)
from xraylayer_local.views.model import Flags, join
from xraylayer_local.views.scale import nice_step, ticks


def _invocation(function: str, duration: float | None, *, cold: bool = False, init=None):
    return Invocation(function, None, "t", 0.0, duration, init, cold, Flags())


def test_nearest_rank_percentiles_are_observed_values():
    values = [float(v) for v in range(1, 11)]
    assert [percentile(values, q) for q in (50, 90, 99, 100)] == [5.0, 9.0, 10.0, 10.0]
    assert percentiles([7.0]) == Percentiles(7.0, 7.0, 7.0)
    assert percentiles([]) is None
    hundred = [float(v) for v in range(1, 101)]
    assert percentiles(hundred) == Percentiles(50.0, 90.0, 99.0)


@pytest.mark.parametrize(
    ("span", "target", "step"),
    [(100, 10, 10), (47, 10, 5), (13, 10, 2), (0.7, 10, 0.1), (0, 10, 1), (1e-12, 10, 0.001)],
)
def test_round_steps(span, target, step):
    assert nice_step(span, target) == pytest.approx(step)


def test_ticks_reach_the_end_at_a_round_step():
    assert ticks(432.0) == [0, 100, 200, 300, 400, 500]
    assert ticks(30.0) == [0, 10, 20, 30]


def test_histogram_bins_are_contiguous_round_and_count_every_value():
    values = [12.0, 13.5, 14.0, 19.9, 31.0]
    bins = histogram(values)
    assert sum(b.count for b in bins) == len(values)
    assert all(a.high_ms == b.low_ms for a, b in itertools.pairwise(bins))
    assert bins[0].high_ms - bins[0].low_ms == 2.0
    assert bins[0].low_ms <= 12.0 < bins[0].high_ms and bins[-1].low_ms <= 31.0 < bins[-1].high_ms


def test_a_value_on_a_bound_goes_into_the_bin_it_starts_despite_float_noise():
    bins = histogram([0.2, 0.6, 1.4])
    [holding] = [b for b in bins if b.low_ms == pytest.approx(0.6)]
    assert holding.count == 1


def test_one_value_gets_context_bins_never_below_zero():
    bins = histogram([504.2])
    assert len(bins) == MIN_BINS and sum(b.count for b in bins) == 1
    assert bins[0].low_ms >= 0 and any(b.low_ms <= 504.2 < b.high_ms and b.count for b in bins)
    assert histogram([0.5])[0].low_ms >= 0
    assert histogram([]) == ()


def test_cold_starts_are_a_population_apart_with_their_init():
    invocations = [
        _invocation("f", 10.0),
        _invocation("f", 12.0),
        _invocation("f", 20.0, cold=True, init=300.0),
        _invocation("f", None),
        _invocation("g", 5.0),
    ]
    f, g = distributions(invocations)
    assert f.function == "f" and g.function == "g"
    assert f.warm.values == (10.0, 12.0)
    assert f.cold.values == (320.0,)  # what the caller waited: init + invocation
    assert f.init == Percentiles(300.0, 300.0, 300.0)
    assert f.untimed == 1
    assert g.cold.count == 0 and g.cold.percentiles is None and g.cold.bins == ()


def test_the_demo_distribution():
    [orders, receipts] = distributions(find_invocations(join(orders_demo())))
    assert (orders.warm.count, orders.cold.count) == (2, 1)
    assert orders.cold.percentiles.p50 == pytest.approx(430.0, abs=0.01)
    assert (receipts.warm.count, receipts.cold.count) == (0, 1)
