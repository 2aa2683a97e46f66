"""xray-instrument: what the exec wrapper hands the runtime, run under each POSIX shell here.

A stub stands in for the interpreter: it prints its arguments and the variables the wrapper may
touch, so each test sees exactly the command line and environment the runtime would get.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WRAPPER = Path(__file__).resolve().parents[2] / "bootstrap_wrapper" / "xray-instrument"
WATCHED = (
    "PYTHONPATH",
    "_HANDLER",
    "XRAYLAYER_ORIGINAL_HANDLER",
    "XRAYLAYER_ADDED_PYTHONPATH",
    "XRAYLAYER_ORIGINAL_PYTHONPATH",
    "STARTED_BY",
)
STUB = """#!/bin/sh
if [ "$1" = -I ]; then echo 3.13; exit 0; fi  # asked for its version
for name in {names}; do
    eval "set_=\\${{$name+set}} value=\\${{$name-}}"
    [ "$set_" = set ] && printf '%s=%s\\n' "$name" "$value"
done
for arg in "$@"; do printf 'arg=%s\\n' "$arg"; done
"""
SHELLS = [shell for shell in ("/bin/sh", "dash", "bash") if shutil.which(shell)]


@pytest.fixture
def opt(tmp_path: Path) -> Path:
    """A folder standing in for /opt with the wrapper in it, and two stub interpreters."""
    folder = tmp_path / "opt"
    folder.mkdir()
    shutil.copy(WRAPPER, folder / "xray-instrument")
    bin_dir = tmp_path / "lang" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python3.12", "python3"):
        (bin_dir / name).write_text(STUB.format(names=" ".join(WATCHED)))
        (bin_dir / name).chmod(0o755)
    return folder


def interpreter(opt: Path, name: str = "python3.12") -> str:
    return str(opt.parent / "lang" / "bin" / name)


def run(
    opt: Path,
    env: dict[str, str],
    *args: str,
    shell: str = "/bin/sh",
    wrapper: str | None = None,
    cwd: Path | None = None,
) -> tuple[dict[str, str], list[str], str]:
    """(the variables the interpreter got, its arguments, the wrapper's stderr)."""
    command = [shell, wrapper or str(opt / "xray-instrument"), *args]
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    variables, arguments = {}, []
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "arg":
            arguments.append(value)
        else:
            variables[key] = value
    return variables, arguments, done.stderr


LAMBDA = {"_HANDLER": "app.handler"}  # what Lambda gives the runtime (PATH left out on purpose)


@pytest.mark.parametrize("shell", SHELLS)
def test_without_a_pythonpath_it_adds_boot_the_runtimes_layer_paths_and_the_code(
    opt: Path, shell: str
) -> None:
    variables, arguments, stderr = run(
        opt, LAMBDA, interpreter(opt), "/var/runtime/bootstrap.py", "two words", shell=shell
    )
    expected = ":".join(
        [
            f"{opt}/xraylayer/boot",
            f"{opt}/python/lib/python3.12/site-packages",
            f"{opt}/python",
            f"{opt}/xraylayer/python",
        ]
    )
    assert variables == {
        "PYTHONPATH": expected,
        "XRAYLAYER_ADDED_PYTHONPATH": expected,
        "_HANDLER": "xraylayer.bootstrap.handler",
        "XRAYLAYER_ORIGINAL_HANDLER": "app.handler",
    }
    assert arguments == ["/var/runtime/bootstrap.py", "two words"]
    assert stderr == ""


@pytest.mark.parametrize(("original", "middle"), [("/a:/b", ":/a:/b"), ("", "")])
def test_a_pythonpath_of_the_function_is_kept_and_the_runtime_paths_not_added(
    opt: Path, original: str, middle: str
) -> None:
    variables, _, _ = run(opt, {**LAMBDA, "PYTHONPATH": original}, interpreter(opt), "x.py")
    boot, code = f"{opt}/xraylayer/boot", f"{opt}/xraylayer/python"
    assert variables["PYTHONPATH"] == f"{boot}{middle}:{code}"
    assert variables["XRAYLAYER_ADDED_PYTHONPATH"] == f"{boot}:{code}"
    assert variables["XRAYLAYER_ORIGINAL_PYTHONPATH"] == original


def test_an_interpreter_without_its_version_in_the_name_is_asked(opt: Path) -> None:
    variables, _, _ = run(opt, LAMBDA, interpreter(opt, "python3"), "x.py")
    assert f"{opt}/python/lib/python3.13/site-packages" in variables["PYTHONPATH"].split(":")


@pytest.mark.parametrize(
    "switch",
    [
        {"XRAYLAYER_ENABLED": "false"},
        {"XRAYLAYER_ENABLED": "FALSE"},
        {"XRAYLAYER_ENABLED": "0"},
        {"XRAYLAYER_ENABLED": "off"},
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_SDK_DISABLED": "True"},
    ],
)
def test_switched_off_it_changes_nothing_and_still_starts_the_runtime(
    opt: Path, switch: dict[str, str]
) -> None:
    variables, arguments, stderr = run(opt, {**LAMBDA, **switch}, interpreter(opt), "x.py")
    assert variables == {"_HANDLER": "app.handler"}
    assert arguments == ["x.py"] and stderr == ""


def test_an_unclear_switch_leaves_it_on(opt: Path) -> None:
    variables, _, _ = run(opt, {**LAMBDA, "XRAYLAYER_ENABLED": "maybe"}, interpreter(opt), "x")
    assert variables["_HANDLER"] == "xraylayer.bootstrap.handler"


def write_next_wrapper(folder: Path, mode: int = 0o755) -> Path:
    script = folder / "next-wrapper"
    script.write_text('#!/bin/sh\nSTARTED_BY=next-wrapper\nexport STARTED_BY\nexec "$@"\n')
    script.chmod(mode)
    return script


@pytest.mark.parametrize("shell", SHELLS)
def test_a_next_wrapper_runs_with_the_prepared_environment(opt: Path, shell: str) -> None:
    env = {**LAMBDA, "XRAYLAYER_NEXT_WRAPPER": str(write_next_wrapper(opt))}
    variables, arguments, _ = run(opt, env, interpreter(opt), "x.py", shell=shell)
    assert variables["STARTED_BY"] == "next-wrapper"
    assert variables["_HANDLER"] == "xraylayer.bootstrap.handler"
    assert arguments == ["x.py"]


def test_the_next_wrapper_runs_even_with_the_layer_switched_off(opt: Path) -> None:
    env = {**LAMBDA, "XRAYLAYER_ENABLED": "false"}
    env["XRAYLAYER_NEXT_WRAPPER"] = str(write_next_wrapper(opt))
    variables, _, _ = run(opt, env, interpreter(opt), "x.py")
    assert variables == {"_HANDLER": "app.handler", "STARTED_BY": "next-wrapper"}


@pytest.mark.parametrize("problem", ["missing", "not executable"])
def test_a_next_wrapper_that_cannot_run_is_reported_and_skipped(opt: Path, problem: str) -> None:
    path = opt / "missing-wrapper"
    if problem == "not executable":
        path = write_next_wrapper(opt, mode=0o644)
    env = {**LAMBDA, "XRAYLAYER_NEXT_WRAPPER": str(path)}
    variables, arguments, stderr = run(opt, env, interpreter(opt), "x.py")
    assert "STARTED_BY" not in variables and arguments == ["x.py"]
    assert stderr == (
        f"xray-instrument: XRAYLAYER_NEXT_WRAPPER={path} is not an executable file; "
        "starting the runtime without it\n"
    )


def test_started_twice_it_changes_nothing_more_and_never_loops(opt: Path) -> None:
    first, _, _ = run(opt, LAMBDA, interpreter(opt), "x.py")
    env = {**first, "XRAYLAYER_NEXT_WRAPPER": str(opt / "xray-instrument")}
    second, arguments, _ = run(opt, env, interpreter(opt), "x.py")
    assert second == first and arguments == ["x.py"]


def test_started_by_a_relative_path_it_still_writes_absolute_paths(opt: Path) -> None:
    variables, _, _ = run(
        opt, LAMBDA, interpreter(opt), "x.py", wrapper="./xray-instrument", cwd=opt
    )
    entries = variables["PYTHONPATH"].split(":")
    assert all(os.path.isabs(entry) for entry in entries)
    assert entries[0] == f"{opt}/./xraylayer/boot"


def test_without_a_command_it_says_how_it_is_used(opt: Path) -> None:
    done = subprocess.run(
        ["/bin/sh", str(opt / "xray-instrument")],
        env={},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("xray-instrument: usage: xray-instrument COMMAND")


def test_it_needs_no_command_from_path_and_stays_executable(opt: Path) -> None:
    """Every cold start runs it: shell built-ins only (the tests above run with no PATH)."""
    assert "PATH" not in LAMBDA
    assert os.access(WRAPPER, os.X_OK)
    assert WRAPPER.read_text().startswith("#!/bin/sh\n")
