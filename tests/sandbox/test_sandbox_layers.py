"""Layers (lambda-platform.md §4.4): merged into /opt in order, importable from /opt/python*."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from sandbox_harness import LAYER, PYTHON, USER_LAYER
from xraylayer_local.sandbox import Sandbox


def test_a_user_layer_under_python_lib_site_packages_imports(make_harness) -> None:
    harness = make_harness("layered.handler", layers=(LAYER, USER_LAYER), python=PYTHON)
    result = harness.invoke()
    assert result.status == "success", result.error
    site_packages = f"python/lib/python{PYTHON}/site-packages/userlib_sp.py"
    assert result.response["site_packages"].endswith(site_packages)
    assert result.response["python"].endswith("python/userlib_py.py")


def test_later_layers_win(tmp_path: Path) -> None:
    for name in ("first", "second"):
        (tmp_path / name / "python").mkdir(parents=True)
        (tmp_path / name / "python" / "shadowed.py").write_text(f"WHO = {name!r}\n")
    function = tmp_path / "function"
    function.mkdir()
    (function / "app.py").write_text(
        "import shadowed\n\n\ndef handler(event, context):\n    return shadowed.WHO\n"
    )
    layers = [tmp_path / "first", tmp_path / "second"]
    with Sandbox(function, "app.handler", layers=layers, python=PYTHON) as sandbox:
        assert sandbox.invoke({}).response == "second"


def _zip_folder(folder: Path, dest: Path) -> Path:
    """A layer zip as `zip -r` makes it: Unix permission bits kept in each entry."""
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted(folder.rglob("*")):
            info = zipfile.ZipInfo(str(path.relative_to(folder)))
            info.external_attr = (stat.S_IMODE(path.stat().st_mode) | stat.S_IFREG) << 16
            if path.is_file():
                archive.writestr(info, path.read_bytes())
    return dest


def test_a_zipped_layer_keeps_its_executables(make_harness, tmp_path: Path) -> None:
    layer_zip = _zip_folder(LAYER, tmp_path / "layer.zip")
    harness = make_harness("basic.echo_env", layers=(layer_zip,))
    result = harness.invoke()
    assert result.status == "success", result.error
    assert result.response["env"]["WRAPPED_BY"] == "test-wrapper"
    assert harness.probe.records("registered")
    assert os.access(harness.sandbox.opt_dir / "extensions" / "probe", os.X_OK)
