"""import_hooks: patches run right after their target executes, nothing else changes.

Each test runs a fresh interpreter (a finder in sys.meta_path is process-wide), with the
fixture modules of hook_fixtures/ importable, and reads back what the script printed as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from xraylayer import import_hooks
from xraylayer.instrument import HOOKS, patcher_of, patching

LAYER = Path(__file__).resolve().parents[2] / "layer"
FIXTURES = Path(__file__).parent / "hook_fixtures"

SETUP = """
import json, sys, traceback
from xraylayer import import_hooks, import_profile
profile = import_profile.ImportProfile(0.0, {threshold_ms})
finder = import_hooks.install({hooks!r}, profile) if {install} else None
"""


def run(
    body: str, *, hooks: dict[str, str] | None = None, install: bool = True, threshold_ms: float = 0
) -> tuple[dict, str]:
    """Run `body` after SETUP in a fresh interpreter; (its printed JSON, its stderr)."""
    setup = SETUP.format(hooks=hooks or {}, install=install, threshold_ms=threshold_ms)
    script = textwrap.dedent(setup) + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(LAYER), str(FIXTURES)])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


TARGET_HOOK = {"hooked_target": "recording_patch"}


def test_the_patch_runs_once_right_after_the_target_has_executed() -> None:
    result, stderr = run(
        """
        before = "recording_patch" in sys.modules
        import hooked_target
        import hooked_target
        import recording_patch
        print(json.dumps({"before": before, "calls": recording_patch.CALLS}))
        """,
        hooks=TARGET_HOOK,
    )
    assert result == {"before": False, "calls": [["hooked_target", True]]}
    assert stderr == ""


def test_nothing_is_patched_or_imported_until_the_function_imports_the_target() -> None:
    result, _ = run(
        """
        import quick_module
        print(json.dumps({"loaded": sorted(m for m in sys.modules if m in
            ("hooked_target", "recording_patch"))}))
        """,
        hooks=TARGET_HOOK,
    )
    assert result == {"loaded": []}


def test_a_target_imported_before_the_hooks_is_patched_right_away() -> None:
    result, _ = run(
        """
        import recording_patch
        print(json.dumps({"calls": recording_patch.CALLS}))
        """,
        hooks={"json": "recording_patch"},  # json: imported by the script before install
    )
    assert result == {"calls": [["json", False]]}


def test_an_entry_can_name_the_function_that_patches() -> None:
    result, _ = run(
        """
        import hooked_target, recording_patch
        print(json.dumps({"calls": recording_patch.CALLS}))
        """,
        hooks={"hooked_target": "recording_patch:other"},
    )
    assert result == {"calls": [["other", "hooked_target"]]}


def test_a_failing_patch_is_logged_once_and_the_module_imports_normally() -> None:
    result, stderr = run(
        """
        import hooked_target
        print(json.dumps({"value": hooked_target.VALUE}))
        """,
        hooks={"hooked_target": "failing_patch"},
    )
    assert result == {"value": 1}
    (line,) = stderr.splitlines()
    assert line.startswith("xraylayer: ERROR instrumenting hooked_target failed")
    assert "RuntimeError: instrumentation bug" in line


def test_a_missing_instrumentation_module_is_logged_and_the_module_imports() -> None:
    result, stderr = run(
        """
        import hooked_target
        print(json.dumps({"value": hooked_target.VALUE}))
        """,
        hooks={"hooked_target": "no_such_instrumentation"},
    )
    assert result == {"value": 1}
    assert "ModuleNotFoundError" in stderr


def test_the_module_keeps_its_own_spec_class_and_loader() -> None:
    result, _ = run(
        """
        import importlib.machinery, hooked_target, slow_child
        print(json.dumps({name: [type(m.__spec__) is importlib.machinery.ModuleSpec,
                                 type(m.__loader__).__name__, m.__spec__.loader is m.__loader__,
                                 m.__spec__._initializing]
                          for name, m in (("hooked", hooked_target), ("profiled", slow_child))}))
        """,
        hooks=TARGET_HOOK,
        threshold_ms=1,
    )
    assert result == {
        "hooked": [True, "SourceFileLoader", True, False],
        "profiled": [True, "SourceFileLoader", True, False],
    }


FAILING_IMPORTS = """
out = {}
for name in ("raising_module", "hooked_target_that_does_not_exist", "hooked_target.nope"):
    try:
        __import__(name)
    except BaseException:
        out[name] = traceback.format_exc()
print(json.dumps(out))
"""


def test_a_failing_import_reports_exactly_as_without_the_hooks() -> None:
    hooks = {"raising_module": "recording_patch", **TARGET_HOOK}
    plain, _ = run(FAILING_IMPORTS, install=False)
    hooked, stderr = run(FAILING_IMPORTS, hooks=hooks, threshold_ms=0.001)
    assert hooked == plain
    assert "KeyError: 'XRAYLAYER_TEST_SETTING_THAT_IS_NEVER_SET'" in plain["raising_module"]
    assert stderr == ""


def test_importlib_apis_keep_working() -> None:
    result, _ = run(
        """
        import importlib, importlib.util
        spec = importlib.util.find_spec("hooked_target")
        import hooked_target
        importlib.reload(hooked_target)
        import recording_patch
        print(json.dumps({"found": spec is not None, "value": hooked_target.VALUE,
                          "calls": len(recording_patch.CALLS)}))
        """,
        hooks=TARGET_HOOK,
    )
    assert result == {"found": True, "value": 1, "calls": 1}


def test_the_profile_keeps_slow_imports_with_their_nesting_until_init_ends() -> None:
    result, _ = run(
        """
        import os, tempfile
        import quick_module, slow_parent
        profile.stop()
        later = tempfile.mkdtemp()  # a slow import after init is not recorded
        with open(os.path.join(later, "slow_later.py"), "w") as module:
            module.write("import time; time.sleep(0.03)")
        sys.path.insert(0, later)
        import slow_later
        print(json.dumps({"imports": import_profile.slow_imports(profile.records)}))
        """,
        threshold_ms=20,
    )
    names = [(name, parent) for name, _, _, parent in result["imports"]]
    assert names == [("slow_parent", None), ("slow_child", 0)]
    (_, start, end, _), (_, child_start, child_end, _) = result["imports"]
    assert start <= child_start < child_end <= end
    assert end - start >= 0.07


def test_only_one_finder_is_ever_installed() -> None:
    result, _ = run(
        """
        second = import_hooks.install({"quick_module": "recording_patch"})
        print(json.dumps({"same": second is finder,
                          "finders": sum(isinstance(f, import_hooks.PostImportFinder)
                                         for f in sys.meta_path)}))
        """,
        hooks=TARGET_HOOK,
    )
    assert result == {"same": True, "finders": 1}


def test_disabled_instrumentations_have_no_hook() -> None:
    hooks = import_hooks.active_hooks(HOOKS, frozenset({"urllib3", "http.client"}))
    assert "urllib3" not in hooks and "http.client" not in hooks
    assert hooks["botocore"] == HOOKS["botocore"]


def test_every_registered_instrumentation_names_a_module_of_the_layer() -> None:
    for target, hook in HOOKS.items():
        module, function = patcher_of(hook)
        assert module.startswith("xraylayer."), target
        assert (LAYER / (module.replace(".", "/") + ".py")).is_file(), module
        assert function.isidentifier()


def test_unpatched_puts_the_originals_back_for_a_block_and_refuses_what_is_not_patched():
    class Library:
        def call(self) -> str:
            return "original"

    original = Library.__dict__["call"]
    patching.wrap_method(Library, "call", lambda wrapped: lambda self: "traced")
    with patching.Unpatched([(Library, "call")]):
        assert Library.__dict__["call"] is original and Library().call() == "original"
    assert Library().call() == "traced"
    with pytest.raises(ValueError, match=r"Library\.other is not patched"):
        patching.Unpatched([(Library, "other")])
