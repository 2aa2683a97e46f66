"""Only the layer's frames leave a traceback: the user's stay, in order, in every exception
chained to it (the caller's stackTrace is then the one it gets without the layer)."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from types import ModuleType

import pytest
from xraylayer.spans import Span
from xraylayer.tracebacks import layer_folders, without_layer_frames

PATCH = """
def patched(call):
    return call()  # the layer's frame: a patch around the user's call
"""


@pytest.fixture
def layer_module(tmp_path: Path) -> tuple[ModuleType, tuple[str, ...]]:
    folder = tmp_path / "xraylayer"
    folder.mkdir()
    (folder / "patch.py").write_text(PATCH)
    module = ModuleType("fake_patch")
    code = compile(PATCH, str(folder / "patch.py"), "exec")
    exec(code, module.__dict__)
    return module, (str(folder) + "/",)


def user_code() -> None:
    raise ValueError("from the user's code")


def function_names(error: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(error.__traceback__)]


def caught(call: object) -> BaseException:
    try:
        call()  # type: ignore[operator]
    except BaseException as error:
        return error
    raise AssertionError("nothing raised")


def test_the_layers_frame_goes_and_the_users_stay_in_order(layer_module) -> None:
    module, folders = layer_module
    error = caught(lambda: module.patched(user_code))
    assert "patched" in function_names(error)
    without_layer_frames(error, folders)
    assert function_names(error) == ["caught", "<lambda>", "user_code"]


def test_chained_exceptions_and_group_members_are_cleaned_too(layer_module) -> None:
    module, folders = layer_module

    def wraps_it() -> None:
        try:
            module.patched(user_code)
        except ValueError as inner:
            raise RuntimeError("outer") from inner

    error = caught(wraps_it)
    without_layer_frames(error, folders)
    assert "patched" not in function_names(error.__cause__)
    assert function_names(error.__cause__)[-1] == "user_code"
    if sys.version_info >= (3, 11):
        member = caught(lambda: module.patched(user_code))
        group = ExceptionGroup("several", [member])  # noqa: F821 (3.11+)
        without_layer_frames(group, folders)
        assert "patched" not in function_names(member)


def test_a_traceback_of_layer_frames_only_becomes_none(layer_module) -> None:
    module, folders = layer_module
    error = caught(lambda: module.patched(user_code))
    without_layer_frames(error, (*folders, str(Path(__file__).parent) + "/"))
    assert error.__traceback__ is None


def test_the_layers_folders_are_its_package_and_in_the_built_layer_its_deps(
    tmp_path: Path,
) -> None:
    package = tmp_path / "python" / "xraylayer"
    package.mkdir(parents=True)
    assert layer_folders(str(package)) == (f"{package}/",)
    (tmp_path / "deps").mkdir()
    assert layer_folders(str(package)) == (f"{package}/", f"{tmp_path / 'deps'}/")


def test_an_exception_whose_str_raises_is_recorded_with_pythons_placeholder() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("__str__ failed")

    span = Span("work", "1" * 32, None)
    record = span.record_exception(caught(lambda: (_ for _ in ()).throw(Unprintable())))
    assert record["message"] == "<exception str() failed>"
    assert record["type"] == "Unprintable" and span.fault
