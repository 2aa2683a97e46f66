"""import_profile: which imports are kept, and how they nest."""

from __future__ import annotations

import time

from xraylayer.import_profile import ImportProfile, slow_imports


class _Spec:
    """What the finder hands over: any object standing for one module being imported."""


def test_imports_at_or_above_the_threshold_are_kept_with_their_times() -> None:
    profile = ImportProfile(process_start=100.0, threshold_ms=5)
    slow, quick = _Spec(), _Spec()
    profile.started(slow)
    profile.started(quick)
    profile.finished(quick, "quick")
    time.sleep(0.006)
    profile.finished(slow, "slow")
    ((name, start, end, thread),) = profile.records
    assert name == "slow" and end - start >= 0.005 and thread
    assert profile.process_start == 100.0 and profile.active


def test_an_end_without_a_start_is_ignored() -> None:
    profile = ImportProfile(0.0, threshold_ms=0.001)
    profile.finished(_Spec(), "never started")
    assert profile.records == []


def test_a_threshold_of_zero_turns_the_profile_off_and_stop_ends_it() -> None:
    assert ImportProfile(0.0, threshold_ms=0).active is False
    profile = ImportProfile(0.0, threshold_ms=5)
    profile.stop()
    assert profile.active is False


def test_slow_imports_nest_by_interval_within_a_thread() -> None:
    records = [
        ("leaf", 1.2, 1.3, 7),  # recorded first: an import ends before the one around it
        ("child", 1.1, 1.4, 7),
        ("other-thread", 1.15, 1.35, 8),
        ("root", 1.0, 2.0, 7),
        ("sibling", 1.5, 1.6, 7),
        ("second-root", 3.0, 3.5, 7),
    ]
    tree = slow_imports(records)
    names = [name for name, _, _, _ in tree]
    parents = {name: (tree[parent][0] if parent is not None else None) for name, *_, parent in tree}
    assert names == ["root", "child", "other-thread", "leaf", "sibling", "second-root"]
    assert parents == {
        "root": None,
        "child": "root",
        "leaf": "child",
        "other-thread": None,
        "sibling": "root",
        "second-root": None,
    }


def test_no_records_no_spans() -> None:
    assert slow_imports([]) == []
