"""sitecustomize: what the interpreter looks like once the layer's start-up code has run.

The real wrapper starts the sandbox's clean runtime interpreter on a probe script (standing in
for /var/runtime/bootstrap.py), from a folder laid out as the layer zip is; the probe prints
what a function would see. Without the layer the same probe runs without the wrapper.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from xraylayer.instrument import HOOKS
from xraylayer_local.runtimes import provision

REPO = Path(__file__).resolve().parents[2]
PYTHON = "3.11"
PROBE = """
import json, os, subprocess, sys
from xraylayer import import_hooks
from xraylayer.instrument import HOOKS
finder = import_hooks.installed()
child = subprocess.run([sys.executable, "-c", "import sys; print('xraylayer' in sys.modules)"],
                       capture_output=True, text=True).stdout.strip()
print(json.dumps({
    "path": sys.path,
    "env": {k: v for k, v in os.environ.items() if k == "PYTHONPATH" or k.startswith("XRAYLAYER")},
    "hooks": sorted(finder.hooks) if finder else None,
    "process_start": finder.profile.process_start if finder else None,
    "sitecustomize": getattr(sys.modules.get("sitecustomize"), "__file__", None),
    "child_has_layer": child,
}))
"""


def load_sitecustomize() -> ModuleType:
    """The module's functions, without running it (it runs only as `sitecustomize`)."""
    path = REPO / "bootstrap_wrapper" / "sitecustomize.py"
    spec = importlib.util.spec_from_file_location("layer_sitecustomize", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sitecustomize = load_sitecustomize()


@pytest.fixture
def opt(tmp_path: Path) -> Path:
    """/opt with the layer's wrapper, sitecustomize, code (the sources) and dependency folders."""
    folder = tmp_path / "opt"
    (folder / "xraylayer" / "boot").mkdir(parents=True)
    shutil.copy(REPO / "bootstrap_wrapper" / "xray-instrument", folder / "xray-instrument")
    shutil.copy(REPO / "bootstrap_wrapper" / "sitecustomize.py", folder / "xraylayer" / "boot")
    (folder / "xraylayer" / "python").mkdir()
    (folder / "xraylayer" / "python" / "xraylayer").symlink_to(REPO / "layer" / "xraylayer")
    for deps in ("any", "cp311"):
        (folder / "xraylayer" / "deps" / deps).mkdir(parents=True)
    (folder / "python").mkdir()
    return folder


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    script = tmp_path / "runtime" / "bootstrap.py"
    script.parent.mkdir()
    script.write_text(PROBE)
    return script


def start(
    opt: Path, probe: Path, env: dict[str, str] | None = None, *, wrapped: bool = True
) -> tuple[dict, str]:
    """Run the probe as the runtime would start it; (what it printed, stderr)."""
    python = str(provision(PYTHON).python)
    command = (
        [str(opt / "xray-instrument"), python, str(probe)] if wrapped else [python, str(probe)]
    )
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "_HANDLER": "app.handler"}
    if not wrapped:  # the probe itself imports xraylayer: give it the code, as a layer would
        base["PYTHONPATH"] = str(opt / "xraylayer" / "python")
    done = subprocess.run(
        command,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def ours(opt: Path) -> list[str]:
    """What the layer adds to the function's sys.path: its code, never its dependencies."""
    return [str(opt / "xraylayer" / "python")]


def test_the_function_starts_with_its_own_paths_and_the_layers_code_last(
    opt: Path, probe: Path
) -> None:
    plain, _ = start(opt, probe, wrapped=False)
    layered, stderr = start(opt, probe)
    without_code = [entry for entry in plain["path"] if entry != str(opt / "xraylayer" / "python")]
    assert layered["path"] == without_code + ours(opt)
    assert layered["env"] == {"XRAYLAYER_ORIGINAL_HANDLER": "app.handler"}  # PYTHONPATH unset
    assert stderr == ""


def test_a_pythonpath_of_the_function_is_given_back_as_it_was(opt: Path, probe: Path) -> None:
    own = {"PYTHONPATH": f"/x:{opt}/python"}
    layered, _ = start(opt, probe, own)
    assert layered["env"]["PYTHONPATH"] == own["PYTHONPATH"]
    assert layered["path"][1:3] == ["/x", f"{opt}/python"]  # right after the script's folder
    assert layered["path"][-1:] == ours(opt)
    assert str(opt / "xraylayer" / "boot") not in layered["path"]


def test_the_hooks_are_in_place_and_the_process_start_noted(opt: Path, probe: Path) -> None:
    import time

    before = time.time()
    layered, _ = start(opt, probe)
    assert layered["hooks"] == sorted(HOOKS)
    assert before <= layered["process_start"] <= time.time()


def test_disabled_instrumentations_get_no_hook(opt: Path, probe: Path) -> None:
    env = {"XRAYLAYER_DISABLED_INSTRUMENTATIONS": "urllib3,http_client"}
    layered, _ = start(opt, probe, env)
    assert "urllib3" not in layered["hooks"] and "http.client" not in layered["hooks"]


def test_a_python_subprocess_of_the_function_does_not_run_the_layer(opt: Path, probe: Path) -> None:
    layered, _ = start(opt, probe)
    assert layered["child_has_layer"] == "False"


USER_SITECUSTOMIZE = """
import os
import userlib_py  # a sibling in the same layer folder
with open(os.environ["SITECUSTOMIZE_LOG"], "a") as log:
    log.write("ran\\n")
"""


def test_a_users_sitecustomize_in_a_layer_runs_once(opt: Path, probe: Path, tmp_path: Path) -> None:
    (opt / "python" / "sitecustomize.py").write_text(USER_SITECUSTOMIZE)
    (opt / "python" / "userlib_py.py").write_text("")
    log = tmp_path / "log"
    layered, stderr = start(opt, probe, {"SITECUSTOMIZE_LOG": str(log)})
    assert log.read_text() == "ran\n"
    assert layered["sitecustomize"] == str(opt / "python" / "sitecustomize.py")
    assert stderr == ""


def test_an_error_in_the_users_sitecustomize_reads_as_without_the_layer(
    opt: Path, probe: Path
) -> None:
    (opt / "python" / "sitecustomize.py").write_text("import os\nos.environ['NOT_SET_HERE']\n")
    layered, stderr = start(opt, probe)
    # Without the layer, the same file found on the path at start-up:
    plain = subprocess.run(
        [str(provision(PYTHON).python), "-c", "pass"],
        env={"PYTHONPATH": str(opt / "python")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert stderr == plain.stderr
    assert stderr == (
        "Error in sitecustomize; set PYTHONVERBOSE for traceback:\nKeyError: 'NOT_SET_HERE'\n"
    )
    assert layered["env"] == {"XRAYLAYER_ORIGINAL_HANDLER": "app.handler"}  # paths given back


SHOW_HANDLER = """
import json, os, sys
print(json.dumps({
    "_HANDLER": os.environ.get("_HANDLER"),
    "PYTHONPATH": os.environ.get("PYTHONPATH"),
    "ours": [entry for entry in sys.path if "/xraylayer/" in entry + "/"],
}))
"""


def test_a_broken_layer_costs_one_line_and_the_tracing_only(opt: Path, probe: Path) -> None:
    (opt / "xraylayer" / "python" / "xraylayer").unlink()
    (opt / "xraylayer" / "python" / "xraylayer").symlink_to(opt / "nowhere")
    python = str(provision(PYTHON).python)
    done = subprocess.run(
        [str(opt / "xray-instrument"), python, "-c", SHOW_HANDLER],
        env={"_HANDLER": "app.handler"},
        capture_output=True,
        text=True,
        check=True,
    )
    # The runtime is handed the function's own handler, and no path of the layer.
    assert json.loads(done.stdout) == {"_HANDLER": "app.handler", "PYTHONPATH": None, "ours": []}
    (line,) = done.stderr.splitlines()
    assert line.startswith("xraylayer: ERROR setting up the instrumentation failed")


def test_switched_off_where_only_the_settings_see_it_the_layer_steps_aside(
    opt: Path,
) -> None:
    """ " false" (a stray space) is not false to the wrapper, but it is to the settings."""
    python = str(provision(PYTHON).python)
    done = subprocess.run(
        [str(opt / "xray-instrument"), python, "-c", SHOW_HANDLER],
        env={"_HANDLER": "app.handler", "XRAYLAYER_ENABLED": " false"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == {"_HANDLER": "app.handler", "PYTHONPATH": None, "ours": []}
    assert done.stderr == ""


def test_switched_off_late_it_installs_nothing_but_keeps_the_code_reachable(
    opt: Path, probe: Path
) -> None:
    """OTEL_SDK_DISABLED=TRUE is off for the wrapper too; here the wrapper's work is done by
    hand, as another wrapper might, to see sitecustomize on its own."""
    boot, code = str(opt / "xraylayer" / "boot"), str(opt / "xraylayer" / "python")
    python = str(provision(PYTHON).python)
    done = subprocess.run(
        [python, str(probe)],
        env={
            "PYTHONPATH": f"{boot}:{code}",
            "XRAYLAYER_ADDED_PYTHONPATH": f"{boot}:{code}",
            "OTEL_SDK_DISABLED": "true",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["hooks"] is None
    assert seen["path"][-1] == code
    assert not any("deps" in entry for entry in seen["path"])


@pytest.mark.parametrize(
    ("current", "added", "original", "expected"),
    [
        # The wrapper found no PYTHONPATH: all of its entries go, and so does the variable.
        ("/b:/o/sp:/o/py:/c", "/b:/o/sp:/o/py:/c", None, (None, ["/b", "/o/sp", "/o/py", "/c"])),
        # The function had one: it gets it back verbatim.
        ("/b:/x::/y:/c", "/b:/c", "/x::/y", ("/x::/y", ["/b", "/c"])),
        ("/b:/c", "/b:/c", "", ("", ["/b", "/c"])),
        # A later wrapper added to it: PYTHONPATH stays, and so do the runtime's stand-ins.
        ("/n:/b:/o/sp:/o/py:/c", "/b:/o/sp:/o/py:/c", None, ("/n:/o/sp:/o/py", ["/b", "/c"])),
    ],
)
def test_restored_pythonpath(
    current: str, added: str, original: str | None, expected: tuple
) -> None:
    assert sitecustomize.restored_pythonpath(current, added, original, ("/b", "/c")) == expected


def test_layer_paths_are_the_code_alone_never_the_private_dependencies() -> None:
    assert sitecustomize.layer_paths("/opt/xraylayer/boot") == ["/opt/xraylayer/python"]
