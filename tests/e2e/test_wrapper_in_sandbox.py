"""The built layer's wrapper in the local Lambda sandbox: the function's world stays its own.

With `AWS_LAMBDA_EXEC_WRAPPER=/opt/xray-instrument` the function must see the same import
paths (the layer's code and private dependencies appended last), the same PYTHONPATH and
_HANDLER, its other layers under python/ and python/lib/python3.X/site-packages (with their
.pth files), as without the layer. Switched off, the layer changes nothing at all.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from xraylayer_local import Sandbox

FUNCTIONS = Path(__file__).parent / "functions"
PYTHON = "3.11"
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}
OURS = ["<opt>/xraylayer/python"]  # the layer's code only: its dependencies stay off the path

USER_SITECUSTOMIZE = """
import os
with open(os.environ["SITECUSTOMIZE_LOG"], "a") as log:
    log.write("ran\\n")
"""


@pytest.fixture(scope="module")
def user_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's layer: a module in each import folder, a .pth file and a sitecustomize."""
    layer = tmp_path_factory.mktemp("user_layer")
    site = layer / "python" / "lib" / f"python{PYTHON}" / "site-packages"
    (site / "pth_dir").mkdir(parents=True)
    (site / "userlib_sp.py").write_text("WHERE = 'site-packages'\n")
    (site / "extra.pth").write_text("pth_dir\n")
    (site / "pth_dir" / "pth_added.py").write_text("WHERE = 'pth'\n")
    (layer / "python" / "userlib_py.py").write_text("WHERE = 'python'\n")
    (layer / "python" / "sitecustomize.py").write_text(USER_SITECUSTOMIZE)
    return layer


def look(layers: list[Path], env: dict[str, str], **options: Any) -> dict[str, Any]:
    """What layout_probe reports from inside the function, sandbox paths made comparable."""
    with Sandbox(
        FUNCTIONS, "layout_probe.handler", layers=layers, env=env, python=PYTHON, **options
    ) as sandbox:
        result = sandbox.invoke({})
        assert result.status == "success", result.error
        log = [line for source, line in sandbox.logs if source == "runtime"]  # not the extension's
        seen = {**result.response, "log": log}
        workdir, opt = str(sandbox.opt_dir.parent), str(sandbox.opt_dir)

    def plain(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(opt, "<opt>").replace(workdir, "<sandbox>")
        if isinstance(value, list):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return plain(seen)


@pytest.fixture(scope="module")
def without_layer(user_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    log = tmp_path_factory.mktemp("log") / "sitecustomize.log"
    return look([user_layer], {"SITECUSTOMIZE_LOG": str(log)})


@pytest.fixture(scope="module")
def with_layer(
    built_layer: Path, user_layer: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    log = tmp_path_factory.mktemp("log") / "sitecustomize.log"
    return look([built_layer, user_layer], {**WRAPPER, "SITECUSTOMIZE_LOG": str(log)})


def test_the_function_is_traced(with_layer: dict, without_layer: dict) -> None:
    assert with_layer["traced"] is True
    assert without_layer["traced"] is False


def test_a_user_layer_imports_from_both_folders_and_its_pth_file(
    with_layer: dict, without_layer: dict
) -> None:
    assert (
        with_layer["imported"]
        == without_layer["imported"]
        == {
            "userlib_sp": f"<opt>/python/lib/python{PYTHON}/site-packages/userlib_sp.py",
            "userlib_py": "<opt>/python/userlib_py.py",
            "pth_added": f"<opt>/python/lib/python{PYTHON}/site-packages/pth_dir/pth_added.py",
        }
    )


def test_the_import_paths_are_the_functions_own_with_the_layers_code_last(
    with_layer: dict, without_layer: dict
) -> None:
    path = with_layer["path"]
    assert [entry for entry in path if entry not in OURS] == without_layer["path"]
    position = path.index(OURS[0])
    assert path[position : position + len(OURS)] == OURS  # after the function's own packages
    # Only what the runtime's own .pth / site setup appends comes after them.
    assert all(entry.startswith("<opt>/python") for entry in path[position + len(OURS) :])


def test_the_layers_private_dependencies_are_not_importable_by_the_function(
    with_layer: dict, without_layer: dict
) -> None:
    assert with_layer["importable"] == without_layer["importable"]
    assert with_layer["importable"]["wrapt"] is False


def test_pythonpath_and_handler_read_as_without_the_layer(
    with_layer: dict, without_layer: dict
) -> None:
    assert with_layer["pythonpath"] == without_layer["pythonpath"] == "<sandbox>/runtime"
    assert with_layer["handler"] == without_layer["handler"] == "layout_probe.handler"


def test_the_layer_leaves_no_variable_of_its_own_behind(
    with_layer: dict, without_layer: dict
) -> None:
    added = set(with_layer["variables"]) - set(without_layer["variables"])
    assert added == {"AWS_LAMBDA_EXEC_WRAPPER"}
    assert set(without_layer["variables"]) <= set(with_layer["variables"])


def test_a_users_sitecustomize_in_a_layer_runs_once(with_layer: dict, without_layer: dict) -> None:
    """Lambda finds no sitecustomize in /opt/python at start-up (PYTHONPATH is unset then);
    the wrapper's PYTHONPATH puts it in reach, so with the layer it runs: once."""
    assert with_layer["sitecustomize_runs"] == 1
    assert without_layer["sitecustomize_runs"] == 0


@pytest.mark.parametrize(
    "switch",
    [{"XRAYLAYER_ENABLED": "false"}, {"OTEL_SDK_DISABLED": "true"}],
    ids=["XRAYLAYER_ENABLED=false", "OTEL_SDK_DISABLED=true"],
)
def test_switched_off_the_layer_changes_nothing(
    built_layer: Path, user_layer: Path, without_layer: dict, switch: dict[str, str]
) -> None:
    seen = look([built_layer, user_layer], {**WRAPPER, **switch})
    assert seen["traced"] is False
    for aspect in ("path", "pythonpath", "handler", "imported"):
        assert seen[aspect] == without_layer[aspect], aspect
    added = set(seen["variables"]) - set(without_layer["variables"])
    assert added == {"AWS_LAMBDA_EXEC_WRAPPER", *switch}


NEXT_WRAPPER = """#!/bin/sh
OTHER_WRAPPER=ran
export OTHER_WRAPPER
exec "$@"
"""


def test_a_next_wrapper_runs_after_ours(
    built_layer: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    vendor = tmp_path_factory.mktemp("vendor_layer")
    (vendor / "other-wrapper").write_text(NEXT_WRAPPER)
    (vendor / "other-wrapper").chmod(0o755)
    env = {**WRAPPER, "XRAYLAYER_NEXT_WRAPPER": "/opt/other-wrapper"}
    seen = look([built_layer, vendor], env)
    assert seen["other_wrapper"] == "ran"
    assert seen["traced"] is True
    assert seen["handler"] == "layout_probe.handler"


def test_a_layer_whose_code_cannot_load_leaves_the_function_running_untraced(
    built_layer: Path, user_layer: Path, without_layer: dict, tmp_path: Path
) -> None:
    broken = tmp_path / "broken_layer"
    with zipfile.ZipFile(built_layer) as archive:
        archive.extractall(broken)
    (broken / "xray-instrument").chmod(0o755)
    (broken / "extensions" / "xraylayer").chmod(0o755)
    shutil.rmtree(broken / "xraylayer" / "python" / "xraylayer")
    seen = look([broken, user_layer], WRAPPER)
    for aspect in ("traced", "path", "pythonpath", "handler", "imported"):
        assert seen[aspect] == without_layer[aspect], aspect
    (line,) = [line for line in seen["log"] if line.startswith("xraylayer:")]
    assert line.startswith("xraylayer: ERROR setting up the instrumentation failed")
