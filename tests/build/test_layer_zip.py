"""The layer zips build.sh writes: layout, byte-code, architectures, imports, reproducibility.

What Lambda mounts at /opt is all a function ever sees of the layer, so these tests read the
zips themselves (or unpack one), never the build folder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from xraylayer_local.runtimes import SUPPORTED_VERSIONS, find_interpreter

REPO = Path(__file__).resolve().parents[2]
TAGS = {version: f"cp{version.replace('.', '')}" for version in SUPPORTED_VERSIONS}
EXECUTABLES = ("xray-instrument", "extensions/xraylayer")
LAYER = "xraylayer"
# Where the zip's own code and shared dependencies live: byte-code for every supported Python.
ALL_VERSIONS_FOLDERS = (f"{LAYER}/boot/", f"{LAYER}/python/", f"{LAYER}/deps/any/")
# The runtime dependencies the issue names; each must ship its .dist-info for every Python.
DISTRIBUTIONS = (
    "wrapt",
    "requests",
    "opentelemetry_api",
    "opentelemetry_sdk",
    "opentelemetry_propagator_aws_xray",
)
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
MACHINE_NAME = {"x86_64": "x86_64", "arm64": "aarch64"}
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
PYC_UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked
IMPORTED = (
    "xraylayer",
    "xraylayer_extension",
    "wrapt",
    "wrapt._wrappers",
    "requests",
    "opentelemetry.trace",
    "opentelemetry.sdk.trace",
    "opentelemetry.propagators.aws",
    "opentelemetry.propagate",
)
IMPORT_TIMEOUT_S = 60

# Run in the unpacked layer by each Python: the layer's folders go at the END of sys.path, as
# the in-function code will put them. Reports, for every module loaded from the layer, whether
# its cached .pyc is one this Python accepts without the source, and the code's file name.
IMPORT_CHECK = r"""
import importlib, importlib.metadata, importlib.util, json, marshal, sys
root, tag, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
layer = root + "/xraylayer"
sys.path += [layer + "/python", layer + "/deps/any", layer + "/deps/" + tag]
for name in names:
    importlib.import_module(name)
modules = {}
for name, module in sorted(sys.modules.items()):
    file = getattr(module, "__file__", None)
    spec = getattr(module, "__spec__", None)
    if not file or not file.startswith(root + "/") or spec is None or spec.name != name:
        continue  # not from the layer, or an alias (requests.packages.*)
    entry = {"file": file}
    if file.endswith(".py"):
        try:
            with open(importlib.util.cache_from_source(file), "rb") as pyc:
                data = pyc.read()
        except OSError:
            data = b""
        entry["magic_ok"] = data[:4] == importlib.util.MAGIC_NUMBER
        entry["flags"] = int.from_bytes(data[4:8], "little") if len(data) >= 8 else None
        # Read from the .pyc itself: the import system rewrites co_filename of what it loads.
        entry["co_filename"] = marshal.loads(data[16:]).co_filename if entry["magic_ok"] else None
    modules[name] = entry
propagators = importlib.metadata.entry_points(group="opentelemetry_propagator")
print(json.dumps({
    "modules": modules,
    "propagators": sorted(entry_point.name for entry_point in propagators),
    "sdk_version": importlib.metadata.version("opentelemetry-sdk"),
}))
"""


def _names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as layer:
        return layer.namelist()


def _children(names: list[str], folder: str) -> set[str]:
    """The names of the entries directly inside folder ("" for the zip's top level)."""
    return {
        name[len(folder) :].split("/", 1)[0]
        for name in names
        if name.startswith(folder) and name != folder
    }


def _tree_state(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_zip_has_the_opt_layout(layer_zips: dict[str, Path], arch: str) -> None:
    names = _names(layer_zips[arch])
    assert _children(names, "") == {"xray-instrument", "extensions", LAYER}
    assert _children(names, "extensions/") == {"xraylayer"}
    assert _children(names, f"{LAYER}/") == {"boot", "python", "deps"}
    assert _children(names, f"{LAYER}/boot/") == {"sitecustomize.py", "__pycache__"}
    assert _children(names, f"{LAYER}/python/") == {"xraylayer", "xraylayer_extension"}
    assert _children(names, f"{LAYER}/deps/") == {"any", *TAGS.values()}
    for required in (
        f"{LAYER}/python/xraylayer/__init__.py",
        f"{LAYER}/python/xraylayer_extension/__init__.py",
        f"{LAYER}/python/xraylayer_extension/main_loop.py",
    ):
        assert required in names
    for folder in ["any", *TAGS.values()]:
        shipped = _children(names, f"{LAYER}/deps/{folder}/")
        assert "bin" not in shipped, f"console scripts shipped in deps/{folder}"


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_every_dependency_ships_its_metadata_for_every_python(
    layer_zips: dict[str, Path], arch: str
) -> None:
    names = _names(layer_zips[arch])
    for tag in TAGS.values():
        visible = _children(names, f"{LAYER}/deps/any/") | _children(names, f"{LAYER}/deps/{tag}/")
        for distribution in DISTRIBUTIONS:
            infos = [n for n in visible if n.startswith(f"{distribution}-") and ".dist-info" in n]
            assert len(infos) == 1, f"{tag} sees {infos} for {distribution}"
    assert any(
        name.startswith(f"{LAYER}/deps/any/opentelemetry_api-")
        and name.endswith(".dist-info/entry_points.txt")
        for name in names
    ), "opentelemetry finds its providers through entry points: they must ship"


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_entries_are_normalised(layer_zips: dict[str, Path], arch: str) -> None:
    with zipfile.ZipFile(layer_zips[arch]) as layer:
        infos = layer.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    for info in infos:
        mode = info.external_attr >> 16
        assert info.date_time == FIXED_DATE_TIME, info.filename
        assert info.extra == b"", info.filename
        if info.is_dir():
            assert mode == stat.S_IFDIR | 0o755, info.filename
        elif info.filename in EXECUTABLES:
            assert mode == stat.S_IFREG | 0o755, f"{info.filename} must be executable"
            assert info.compress_type == zipfile.ZIP_DEFLATED
        else:
            assert mode in (stat.S_IFREG | 0o644, stat.S_IFREG | 0o755), info.filename
            assert info.compress_type == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_compiled_modules_are_for_the_zips_architecture(
    layer_zips: dict[str, Path], arch: str
) -> None:
    machine = MACHINE_NAME[arch]
    other = next(name for key, name in MACHINE_NAME.items() if key != arch)
    with zipfile.ZipFile(layer_zips[arch]) as layer:
        shared_objects = {
            name: layer.read(name)[:20] for name in layer.namelist() if name.endswith(".so")
        }
    for name, header in shared_objects.items():
        assert header[:4] == b"\x7fELF", name
        byteorder = "little" if header[5] == 1 else "big"
        assert int.from_bytes(header[18:20], byteorder) == ELF_MACHINE[arch], name
        assert other not in name, name
    for version, tag in TAGS.items():
        suffix = f".cpython-{tag[2:]}-{machine}-linux-gnu.so"
        wrappers = f"{LAYER}/deps/{tag}/wrapt/_wrappers{suffix}"
        assert wrappers in shared_objects, f"no wrapt C extension for Python {version} on {arch}"


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_byte_code_ships_for_every_supported_python(layer_zips: dict[str, Path], arch: str) -> None:
    with zipfile.ZipFile(layer_zips[arch]) as layer:
        names = set(layer.namelist())
        flags = {
            name: int.from_bytes(layer.read(name)[4:8], "little")
            for name in names
            if name.endswith(".pyc")
        }
    for tag in TAGS.values():
        assert f"{LAYER}/python/xraylayer/__pycache__/__init__.cpython-{tag[2:]}.pyc" in names
        assert f"{LAYER}/boot/__pycache__/sitecustomize.cpython-{tag[2:]}.pyc" in names
    missing = []
    for name in sorted(names):
        if not name.endswith(".py"):
            continue
        source = PurePosixPath(name)
        # Under deps/cpXY/ only that Python imports the code; elsewhere every supported one does.
        own_tag = [source.parts[2]]
        tags = list(TAGS.values()) if name.startswith(ALL_VERSIONS_FOLDERS) else own_tag
        for tag in tags:
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-{tag[2:]}.pyc"
            if str(pyc) not in names:
                missing.append(str(pyc))
    assert not missing, f"{len(missing)} .pyc missing, for example {missing[:5]}"
    for name in flags:
        if name.startswith(f"{LAYER}/deps/cp"):
            tag = PurePosixPath(name).parts[2]
            assert f".cpython-{tag[2:]}.pyc" in name, f"{name}: byte-code for another Python"
    stale_prone = [name for name, flag in flags.items() if flag != PYC_UNCHECKED_HASH]
    assert not stale_prone, f"not unchecked-hash .pyc: {stale_prone[:5]}"


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_no_build_machine_path_is_shipped(layer_zips: dict[str, Path], arch: str) -> None:
    needle = str(REPO).encode()
    with zipfile.ZipFile(layer_zips[arch]) as layer:
        leaking = [name for name in layer.namelist() if needle in layer.read(name)]
    assert not leaking, f"{needle!r} found in {leaking[:5]}"


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_layer_imports_from_shipped_byte_code(unpacked_x86_64: Path, version: str) -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("runs the x86_64 zip's compiled modules")
    before = _tree_state(unpacked_x86_64)
    result = subprocess.run(
        [
            str(find_interpreter(version)),
            "-I",
            "-S",
            "-c",
            IMPORT_CHECK,
            str(unpacked_x86_64),
            TAGS[version],
            json.dumps(IMPORTED),
        ],
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_S,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    modules = report["modules"]
    assert set(IMPORTED) <= set(modules), f"imported from elsewhere: {set(IMPORTED) - set(modules)}"
    assert modules["wrapt._wrappers"]["file"].endswith(".so")
    for name, entry in modules.items():
        if "co_filename" not in entry:
            continue
        opt_path = "/opt" + entry["file"][len(str(unpacked_x86_64)) :]
        assert entry["magic_ok"], f"{name}: no .pyc for Python {version}"
        assert entry["flags"] == PYC_UNCHECKED_HASH, f"{name}: .pyc is not unchecked-hash"
        assert entry["co_filename"] == opt_path, f"{name}: compiled as {entry['co_filename']}"
    assert {"tracecontext", "baggage", "xray"} <= set(report["propagators"])
    assert report["sdk_version"]
    assert _tree_state(unpacked_x86_64) == before, "Python wrote byte-code: a .pyc was not used"


def test_zip_tool_output_ignores_mtimes_and_modes(tmp_path: Path) -> None:
    trees = []
    for name, (script_mode, file_mode, mtime) in {
        "a": (0o775, 0o664, 1_700_000_000),
        "b": (0o700, 0o600, 1_000_000_000),
    }.items():
        tree = tmp_path / name
        (tree / "pkg").mkdir(parents=True)
        (tree / "run").write_text("#!/bin/sh\n")
        (tree / "pkg" / "mod.py").write_text("X = 1\n")
        (tree / "run").chmod(script_mode)
        (tree / "pkg" / "mod.py").chmod(file_mode)
        for path in (tree / "run", tree / "pkg" / "mod.py", tree / "pkg"):
            os.utime(path, (mtime, mtime))
        subprocess.run(
            [sys.executable, str(REPO / "tools" / "reproducible_zip.py"), str(tree), f"{tree}.zip"],
            check=True,
            capture_output=True,
        )
        trees.append(Path(f"{tree}.zip"))
    assert trees[0].read_bytes() == trees[1].read_bytes()
    with zipfile.ZipFile(trees[0]) as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert modes == {
        "pkg/": stat.S_IFDIR | 0o755,
        "pkg/mod.py": stat.S_IFREG | 0o644,
        "run": stat.S_IFREG | 0o755,
    }


def _differing_members(first: Path, second: Path) -> list[str]:
    with zipfile.ZipFile(first) as one, zipfile.ZipFile(second) as other:
        in_one, in_other = set(one.namelist()), set(other.namelist())
        return sorted(in_one ^ in_other) + [
            name
            for name in sorted(in_one & in_other)
            if one.read(name) != other.read(name)
            or one.getinfo(name).external_attr != other.getinfo(name).external_attr
        ]


@pytest.mark.slow
def test_building_twice_gives_identical_bytes(
    build_into: Callable[[Path], dict[str, Path]], tmp_path: Path
) -> None:
    first = build_into(tmp_path / "first")
    second = build_into(tmp_path / "second")
    for arch, archive in first.items():
        if archive.read_bytes() != second[arch].read_bytes():
            pytest.fail(f"{arch} zips differ: {_differing_members(archive, second[arch])[:10]}")
