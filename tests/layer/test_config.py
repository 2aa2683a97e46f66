"""config: every variable's valid values, and a bad value gives the default plus one warning."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from xraylayer import config, diagnostics


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees its own warnings (diagnostics logs each one once per process)."""
    monkeypatch.setattr(diagnostics, "_seen", set())
    monkeypatch.delenv("XRAYLAYER_LOG_LEVEL", raising=False)
    yield
    config.reload()


def warnings(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("xraylayer:")]


def read(environ: dict[str, str]) -> config.Settings:
    return config.reload(environ)


# (variable, settings field, text, value it gives)
VALID = [
    ("XRAYLAYER_ENABLED", "enabled", "false", False),
    ("XRAYLAYER_ENABLED", "enabled", "FALSE", False),
    ("XRAYLAYER_ENABLED", "enabled", "0", False),
    ("XRAYLAYER_ENABLED", "enabled", "True", True),
    ("OTEL_SDK_DISABLED", "enabled", "true", False),
    ("OTEL_SDK_DISABLED", "enabled", "false", True),
    ("OTEL_SERVICE_NAME", "service_name", "orders", "orders"),
    ("POWERTOOLS_SERVICE_NAME", "service_name", "payments", "payments"),
    ("AWS_LAMBDA_FUNCTION_NAME", "service_name", "fn", "fn"),
    ("OTEL_PROPAGATORS", "propagators", "tracecontext", ("tracecontext",)),
    ("OTEL_PROPAGATORS", "propagators", "xray", ("xray",)),
    ("OTEL_PROPAGATORS", "propagators", " TraceContext , xray ", ("tracecontext", "xray")),
    ("OTEL_PROPAGATORS", "propagators", "xray-lambda,xray", ("xray",)),
    ("OTEL_PROPAGATORS", "propagators", "none", ()),
    ("XRAYLAYER_CAPTURE_QUERY_STRING", "capture_query_string", "true", True),
    ("XRAYLAYER_CAPTURE_QUERY_STRING", "capture_query_string", "off", False),
    (
        "XRAYLAYER_DISABLED_INSTRUMENTATIONS",
        "disabled_instrumentations",
        "urllib3, http_client",
        frozenset({"urllib3", "http.client"}),
    ),
    (
        "XRAYLAYER_DISABLED_INSTRUMENTATIONS",
        "disabled_instrumentations",
        "botocore,threads",
        frozenset({"botocore", "concurrent.futures.thread"}),
    ),
    ("XRAYLAYER_IMPORT_PROFILE_MS", "import_profile_threshold_ms", "0", 0.0),
    ("XRAYLAYER_IMPORT_PROFILE_MS", "import_profile_threshold_ms", "12.5", 12.5),
    ("XRAYLAYER_LOG_LEVEL", "log_level", "DEBUG", "debug"),
    ("XRAYLAYER_LOG_LEVEL", "log_level", "off", "off"),
    ("XRAYLAYER_NEXT_WRAPPER", "next_wrapper", "/opt/bootstrap", "/opt/bootstrap"),
    (
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "initialization_type",
        "provisioned-concurrency",
        "provisioned-concurrency",
    ),
]


@pytest.mark.parametrize(("name", "field", "text", "value"), VALID)
def test_a_valid_value_is_used_without_a_word(
    name: str, field: str, text: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert getattr(read({name: text}), field) == value
    assert warnings(capsys) == []


# (variable, settings field, bad text)
INVALID = [
    ("XRAYLAYER_ENABLED", "enabled", "maybe"),
    ("OTEL_SDK_DISABLED", "enabled", "disabled"),
    ("OTEL_PROPAGATORS", "propagators", "b3"),
    ("OTEL_PROPAGATORS", "propagators", "tracecontext,baggage"),
    ("OTEL_PROPAGATORS", "propagators", "none,xray"),
    ("XRAYLAYER_CAPTURE_QUERY_STRING", "capture_query_string", "yes please"),
    ("XRAYLAYER_DISABLED_INSTRUMENTATIONS", "disabled_instrumentations", "boto,requests"),
    ("XRAYLAYER_IMPORT_PROFILE_MS", "import_profile_threshold_ms", "fast"),
    ("XRAYLAYER_IMPORT_PROFILE_MS", "import_profile_threshold_ms", "-1"),
    ("XRAYLAYER_IMPORT_PROFILE_MS", "import_profile_threshold_ms", "nan"),
    ("XRAYLAYER_IMPORT_PROFILE_MS", "import_profile_threshold_ms", "inf"),
    ("XRAYLAYER_LOG_LEVEL", "log_level", "verbose"),
]


@pytest.mark.parametrize(("name", "field", "text"), INVALID)
def test_a_bad_value_gives_the_default_and_one_warning(
    name: str, field: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    default = getattr(read({}), field)
    assert getattr(read({name: text}), field) == default
    assert getattr(read({name: text}), field) == default  # read again: no second warning
    (line,) = warnings(capsys)
    assert line.startswith(f"xraylayer: WARNING {name}={text!r} ignored (")
    assert "using the default" in line


def test_unset_and_blank_values_give_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    blank = {variable.name: "  " for variable in config.VARIABLES}
    for settings in (read({}), read(blank)):
        assert settings.enabled is True
        assert settings.service_name == "unknown_service"
        assert settings.propagators == ("xray", "tracecontext")
        assert settings.capture_query_string is False
        assert settings.disabled_instrumentations == frozenset()
        assert settings.import_profile_threshold_ms == 5.0
        assert settings.log_level == "warning"
        assert settings.next_wrapper is None
        assert settings.initialization_type == "on-demand"
    assert warnings(capsys) == []


def test_the_service_name_is_the_first_of_otel_powertools_function_name() -> None:
    names = {
        "OTEL_SERVICE_NAME": "otel",
        "POWERTOOLS_SERVICE_NAME": "powertools",
        "AWS_LAMBDA_FUNCTION_NAME": "function",
    }
    assert read(names).service_name == "otel"
    del names["OTEL_SERVICE_NAME"]
    assert read(names).service_name == "powertools"
    del names["POWERTOOLS_SERVICE_NAME"]
    assert read(names).service_name == "function"


def test_either_switch_turns_the_layer_off() -> None:
    assert read({"XRAYLAYER_ENABLED": "true", "OTEL_SDK_DISABLED": "true"}).enabled is False
    assert read({"XRAYLAYER_ENABLED": "false", "OTEL_SDK_DISABLED": "false"}).enabled is False


def test_settings_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "first")
    config.reload()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "second")
    assert config.settings().service_name == "first"
    assert config.reload().service_name == "second"


def test_the_reference_lists_every_variable_once_with_type_default_and_doc() -> None:
    rows = config.reference()
    names = [name for name, _, _, _ in rows]
    assert len(names) == len(set(names)) == len(config.VARIABLES)
    for name, kind, default, doc in rows:
        assert name.isupper() and kind and doc.endswith("."), name
        assert "\n" not in doc
        assert isinstance(default, str)
    shown = {name: default for name, _, default, _ in rows}
    assert shown["OTEL_PROPAGATORS"] == "xray,tracecontext"
    assert shown["XRAYLAYER_IMPORT_PROFILE_MS"] == "5"
    assert shown["XRAYLAYER_ENABLED"] == "true"


def test_every_constant_of_the_module_is_in_the_list() -> None:
    constants = [value for value in vars(config).values() if isinstance(value, config.Variable)]
    assert sorted(v.name for v in constants) == sorted(v.name for v in config.VARIABLES)


REPO = Path(__file__).resolve().parents[2]


def test_the_internal_names_match_the_wrapper_and_its_readers() -> None:
    from xraylayer import bootstrap

    wrapper = (REPO / "bootstrap_wrapper" / "xray-instrument").read_text()
    # Loaded under another name, sitecustomize only defines its functions and constants.
    spec = importlib.util.spec_from_file_location(
        "layer_sitecustomize", REPO / "bootstrap_wrapper" / "sitecustomize.py"
    )
    assert spec is not None and spec.loader is not None
    ours = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ours)
    assert config.ORIGINAL_HANDLER.name == bootstrap.ORIGINAL_HANDLER
    assert config.ADDED_PYTHONPATH.name == ours.ADDED
    assert config.ORIGINAL_PYTHONPATH.name == ours.ORIGINAL
    for variable in (
        config.ORIGINAL_HANDLER,
        config.ADDED_PYTHONPATH,
        config.ORIGINAL_PYTHONPATH,
        config.NEXT_WRAPPER,
        config.ENABLED,
        config.OTEL_SDK_DISABLED,
    ):
        assert variable.name in wrapper


def test_the_module_imports_nothing_costly() -> None:
    """It runs at interpreter start: no math (a shared library), no __future__, no typing."""
    probe = (
        "import sys; before = set(sys.modules); import xraylayer.config; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(REPO / "layer")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["xraylayer", "xraylayer.config", "xraylayer.instrument"]
