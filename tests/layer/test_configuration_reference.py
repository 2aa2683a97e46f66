"""docs/configuration.md says what the code does: its generated part is today's, every variable
the code reads is in it and every variable in it is read, and the defaults it prints for the
extension's variables are the ones the extension applies when they are unset."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from xraylayer import config, diagnostics

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layer" / "xraylayer"
EXTENSION = REPO / "extension" / "xraylayer_extension"
WRAPPER_DIR = REPO / "bootstrap_wrapper"
WRAPPER = WRAPPER_DIR / "xray-instrument"  # /opt/xray-instrument, a POSIX shell script

# The names this test holds the code to: every one the code reads must be documented.
PREFIXES = ("XRAYLAYER_", "OTEL_", "AWS_XRAY_", "POWERTOOLS_", "AWS_LAMBDA_")
# What an environment variable's name looks like in a string literal or a shell script.
NAME = re.compile(r"_?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")

# Names the code builds rather than writes out (otlp_http: f"OTEL_EXPORTER_OTLP_{suffix}"):
# each formatted prefix, and the suffixes the module puts after it (literals in that module).
BUILT = {
    "OTEL_EXPORTER_OTLP_": ("COMPRESSION", "TIMEOUT"),
    "OTEL_EXPORTER_OTLP_TRACES_": ("COMPRESSION", "TIMEOUT"),
}

# Read by the code but not in config.VARIABLES (none today); each entry says why.
NOT_YET_LISTED: dict[str, str] = {}


def _load_tool() -> ModuleType:
    path = REPO / "tools" / "configuration_reference.py"
    spec = importlib.util.spec_from_file_location("configuration_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _load_tool()


# --- the page is today's ---------------------------------------------------------------------


def test_the_page_is_what_the_configuration_module_says() -> None:
    diff = TOOL.stale_diff(TOOL.PAGE)
    assert diff == "", f"{diff}\nrun: python tools/configuration_reference.py"


def test_check_finds_a_stale_page_and_a_rewrite_fixes_it(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    fresh = TOOL.PAGE.read_text()
    page.write_text(fresh.replace("| `XRAYLAYER_ENABLED` | boolean | `true` |", "| x | y | z |"))
    assert TOOL.main(["--check", "--page", str(page)]) == 1
    assert TOOL.main(["--page", str(page)]) == 0
    assert page.read_text() == fresh
    assert TOOL.main(["--check", "--page", str(page)]) == 0


def test_a_page_without_the_markers_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    page.write_text("# Configuration\n")
    assert TOOL.main(["--page", str(page)]) == 2
    assert page.read_text() == "# Configuration\n"


def test_every_row_has_as_many_cells_as_its_header() -> None:
    """A `|` in a description must not add a column."""
    widths = []
    for line in TOOL.reference().splitlines():
        if line.startswith("| variable |"):
            widths.append(_cells(line))
        elif line.startswith("| `"):
            assert _cells(line) == widths[-1], line


def _cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row)) - 2


def test_groups_agree_with_the_doc_prefixes_the_readme_test_relies_on() -> None:
    for variable in config.VARIABLES:
        name, group = variable.name, variable.group
        assert group in config.GROUPS, name
        assert (group == config.LAMBDA) == variable.doc.startswith("Set by Lambda"), name
        assert (group == config.INTERNAL) == variable.doc.startswith("Internal"), name
        assert (group == config.OPENTELEMETRY) == name.startswith("OTEL_"), name
        assert not variable.otel_difference or group == config.OPENTELEMETRY, name


# --- every variable read is documented, every documented one is read ------------------------


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes: a name mentioned in prose is not read."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _python_names(path: Path) -> tuple[set[str], set[str], set[str]]:
    """In one module: the string literals that are whole variable names, the formatted
    prefixes (`f"OTEL_EXPORTER_OTLP_{suffix}"`), and every string literal."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = _docstrings(tree)
    names, prefixes, literals = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and len(node.values) > 1:
            head, then = node.values[0], node.values[1]
            if (
                isinstance(head, ast.Constant)
                and isinstance(then, ast.FormattedValue)
                and head.value.startswith(PREFIXES)
                and head.value.endswith("_")
            ):
                prefixes.add(head.value)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            literals.add(node.value)
            if id(node) not in docstrings and NAME.fullmatch(node.value) and "_" in node.value:
                names.add(node.value)
    return names, prefixes, literals


def _shell_names(path: Path) -> set[str]:
    """The names a shell script uses, comments left out."""
    code = re.sub(r"(?m)(^|\s)#.*$", "", path.read_text())
    return {word for word in NAME.findall(code) if "_" in word}


def _read_by_settings() -> set[str]:
    """What config.Settings, the layer's own reader, asks the environment for."""

    class Recording(dict):
        def __init__(self) -> None:
            super().__init__()
            self.asked: set[str] = set()

        def get(self, key: str, default: object = None) -> object:
            self.asked.add(key)
            return default

    environ = Recording()
    config.Settings(environ)
    return environ.asked


def _read_by_the_code() -> dict[str, set[str]]:
    """Every variable name the code reads, with where: each module of the layer (but the
    configuration module, whose literals declare rather than read), the extension and
    sitecustomize; the exec wrapper; config.Settings."""
    where: dict[str, set[str]] = {}

    def note(name: str, place: str) -> None:
        where.setdefault(name, set()).add(place)

    for root in (LAYER, EXTENSION, WRAPPER_DIR):
        for path in sorted(root.rglob("*.py")):
            if path == LAYER / "config.py":
                continue
            place = str(path.relative_to(REPO))
            names, prefixes, literals = _python_names(path)
            for name in names:
                note(name, place)
            for prefix in prefixes:
                assert prefix in BUILT, f"{place} builds names from {prefix!r}: list it in BUILT"
                for suffix in BUILT[prefix]:
                    assert suffix in literals, f"{place} never passes {suffix!r} to {prefix!r}"
                    note(prefix + suffix, place)
    for name in _shell_names(WRAPPER):
        note(name, str(WRAPPER.relative_to(REPO)))
    for name in _read_by_settings():
        note(name, "config.Settings")
    return where


def test_every_variable_the_code_reads_is_documented_and_every_documented_one_is_read() -> None:
    read = _read_by_the_code()
    documented = {variable.name for variable in config.VARIABLES}
    undocumented = {
        name: sorted(places)
        for name, places in read.items()
        if name.startswith(PREFIXES) and name not in documented and name not in NOT_YET_LISTED
    }
    unread = sorted(documented - set(read))
    assert not undocumented, f"read by the code, missing from config.VARIABLES: {undocumented}"
    assert not unread, f"in config.VARIABLES, read nowhere: {unread}"


def test_the_exceptions_are_still_needed() -> None:
    read = _read_by_the_code()
    listed = {variable.name for variable in config.VARIABLES}
    assert not set(NOT_YET_LISTED) & listed, "listed in config now: remove from NOT_YET_LISTED"
    assert set(NOT_YET_LISTED) <= set(read), "no longer read: remove from NOT_YET_LISTED"


# --- the documented defaults are the extension's --------------------------------------------

# Read by the extension, with no default of the layer's to compare (the group Set by Lambda
# aside: Lambda sets those).
NO_DEFAULT_TO_COMPARE = {
    "XRAYLAYER_ACCOUNTING": "unset: no file is written",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "unset: OTEL_EXPORTER_OTLP_ENDPOINT's, compared there",
    "OTEL_SERVICE_NAME": "test_the_service_name_is_the_same_in_x_ray_and_over_otlp",
    "POWERTOOLS_SERVICE_NAME": "test_the_service_name_is_the_same_in_x_ray_and_over_otlp",
    "OTEL_RESOURCE_ATTRIBUTES": "unset: the detected attributes alone",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "unset: OTEL_EXPORTER_OTLP_COMPRESSION's",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "unset: OTEL_EXPORTER_OTLP_TIMEOUT's",
}


def _extension_defaults() -> dict[str, object]:
    """What the extension applies with none of its variables set, in config's terms."""
    from xraylayer import intake_address
    from xraylayer_extension import (
        exporters,
        flush_policy,
        jsonl_file,
        otlp_http,
        tail_keep,
        trace_sampler,
    )

    empty: dict[str, str] = {}
    otlp = otlp_http.settings(empty)
    keep, _ = tail_keep.tail_keep_from(empty)
    ratio_sampler, _ = trace_sampler.sampler_from({trace_sampler.SAMPLER_ENV: "traceidratio"})
    return {
        config.EXPORTERS.name: ",".join(exporters.chosen(empty)[0]),
        config.FLUSH.name: str(flush_policy.flush_policy_from(empty)[0]),
        config.TAIL_KEEP.name: keep.enabled,
        config.TAIL_KEEP_SLOW_MS.name: keep.slow_ms,
        config.FILE.name: jsonl_file.JsonLinesFileExporter(environ=empty).path,
        config.INTAKE.name: intake_address.intake_path(empty),
        config.TRACES_SAMPLER.name: trace_sampler.sampler_from(empty)[0].name,
        config.TRACES_SAMPLER_ARG.name: ratio_sampler.ratio,
        config.OTLP_ENDPOINT.name: otlp.endpoint.removesuffix("/" + otlp_http.TRACES_PATH),
        config.OTLP_HEADERS.name: otlp.headers or None,
        config.OTLP_TRACES_HEADERS.name: otlp.headers or None,
        config.OTLP_COMPRESSION.name: "gzip" if otlp.gzip else "none",
        config.OTLP_TIMEOUT.name: otlp.timeout * 1000,
    }


def test_the_documented_defaults_are_the_ones_the_extension_applies() -> None:
    """The doc prints `show(default)` (the first test holds the page to it)."""
    applied = _extension_defaults()
    by_name = {variable.name: variable for variable in config.VARIABLES}
    wrong = {
        name: f"the docs say {config.show(by_name[name].default)!r}, "
        f"the extension uses {config.show(value)!r}"
        for name, value in applied.items()
        if config.show(by_name[name].default) != config.show(value)
    }
    assert not wrong, wrong


def test_every_variable_the_extension_reads_has_its_default_compared() -> None:
    in_extension = {
        name
        for name, places in _read_by_the_code().items()
        if any(place.startswith("extension/") for place in places)
    }
    lambdas = {v.name for v in config.VARIABLES if v.group == config.LAMBDA}
    documented = {v.name for v in config.VARIABLES}
    unchecked = (in_extension & documented) - lambdas - set(_extension_defaults())
    assert unchecked <= set(NO_DEFAULT_TO_COMPARE), sorted(unchecked - set(NO_DEFAULT_TO_COMPARE))


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"AWS_LAMBDA_FUNCTION_NAME": "orders-api"},
        {"AWS_LAMBDA_FUNCTION_NAME": "orders-api", "POWERTOOLS_SERVICE_NAME": "orders"},
        {"POWERTOOLS_SERVICE_NAME": "orders", "OTEL_SERVICE_NAME": "checkout"},
    ],
)
def test_the_service_name_is_the_same_in_x_ray_and_over_otlp(environ: dict[str, str]) -> None:
    """The layer's `Service` annotation and the extension's OTLP `service.name` follow the
    same documented order (OTEL_RESOURCE_ATTRIBUTES aside: OTLP only)."""
    from xraylayer_extension import otlp_json

    annotation = config.Settings(environ).service_name
    assert otlp_json.resource_attributes(environ)["service.name"] == annotation


def test_the_log_level_default_is_the_one_diagnostics_applies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """diagnostics parses XRAYLAYER_LOG_LEVEL itself, not through config."""
    assert config.LOG_LEVEL.default == "warning"
    monkeypatch.delenv(config.LOG_LEVEL.name, raising=False)
    diagnostics.log("info", "below the default level")
    diagnostics.log("warning", "at the default level")
    assert capsys.readouterr().err.splitlines() == ["xraylayer: WARNING at the default level"]
