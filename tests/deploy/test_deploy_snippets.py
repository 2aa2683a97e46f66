"""docs/deploy.md, the page users copy from: its Terraform and Serverless snippets parse and
attach the layer completely, its SAM and CDK snippets are excerpts of the example files the other
tests lint and synthesize (so the page cannot drift from them), and its tables name what the
code has."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from hcl2.utils import SerializationOptions
from xraylayer_extension.exporters import NAMES as EXPORTERS
from xraylayer_local.publish import ARCHITECTURES, DEFAULT_PREFIX, RUNTIMES

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "deploy.md"
SAM_TEMPLATE = REPO / "examples" / "deploy" / "sam" / "template.yaml"
CDK_APP = REPO / "examples" / "deploy" / "cdk" / "app.js"
WRAPPER = "/opt/xray-instrument"
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
HCL_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def section(title: str) -> str:
    """The text of the page's `## title` section."""
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    found = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert title in found, f"no '## {title}' in {DOC}: {list(found)}"
    return found[title]


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of one language in ``text``."""
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def the_block(title: str, language: str) -> str:
    """The one code block of ``language`` in section ``title``."""
    (block,) = code_blocks(section(title), language)
    return block


def is_excerpt(snippet: str, source: str, elision: str) -> bool:
    """Whether ``snippet`` is made of runs of ``source``'s lines, in order, the runs separated by
    ``elision`` lines (``# ...``). A run may be dedented as a whole; blank lines do not count."""
    lines = [line.rstrip() for line in source.splitlines() if line.strip()]
    runs: list[list[str]] = [[]]
    for line in snippet.splitlines():
        if line.strip() == elision:
            runs.append([])
        elif line.strip():
            runs[-1].append(line.rstrip())
    start = 0
    for run in filter(None, runs):
        start = _find_run(run, lines, start)
        if start < 0:
            return False
    return True


def _find_run(run: list[str], lines: list[str], start: int) -> int:
    """The index after the first place at or after ``start`` where ``run`` is ``lines``, all
    indented by the same amount; -1 if there is none."""
    for at in range(start, len(lines) - len(run) + 1):
        indent = len(lines[at]) - len(lines[at].lstrip()) - (len(run[0]) - len(run[0].lstrip()))
        if indent >= 0 and all(
            lines[at + offset] == " " * indent + line for offset, line in enumerate(run)
        ):
            return at + len(run)
    return -1


def terraform() -> dict[str, Any]:
    """The page's Terraform configuration, parsed."""
    return hcl2.loads(the_block("Terraform", "hcl"), serialization_options=HCL_OPTIONS)


def named(configuration: dict[str, Any], kind: str, block_type: str) -> dict[str, Any]:
    """``resource`` or ``data`` blocks of one type, by name."""
    found: dict[str, Any] = {}
    for entry in configuration.get(kind, []):
        found.update(entry.get(block_type, {}))
    return found


def variables(configuration: dict[str, Any]) -> dict[str, Any]:
    """The declared variables, by name."""
    return {name: body for entry in configuration["variable"] for name, body in entry.items()}


def reference(expression: str, prefix: str) -> str:
    """The name in ``${prefix.NAME...}`` (an HCL reference as python-hcl2 writes it)."""
    match = re.fullmatch(rf"\$\{{{re.escape(prefix)}\.([A-Za-z0-9_-]+)(\.[a-z_]+)?\}}", expression)
    assert match, f"{expression!r} is not a reference to {prefix}"
    return match.group(1)


def test_the_terraform_function_is_traced_by_the_layer() -> None:
    configuration = terraform()
    (function,) = named(configuration, "resource", "aws_lambda_function").values()
    assert function["tracing_config"] == [{"mode": "Active"}]
    assert function["environment"][0]["variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == WRAPPER
    (layer,) = function["layers"]
    assert variables(configuration)[reference(layer, "var")]["type"] == "string"
    assert function["runtime"] in RUNTIMES
    assert function["handler"] == "app.handler"


def test_the_terraform_architecture_is_a_checked_choice() -> None:
    configuration = terraform()
    (function,) = named(configuration, "resource", "aws_lambda_function").values()
    (architecture,) = function["architectures"]
    declared = variables(configuration)[reference(architecture, "var")]
    assert declared["default"] in ARCHITECTURES
    (validation,) = declared["validation"]
    assert all(f'"{name}"' in validation["condition"] for name in ARCHITECTURES)


def test_the_terraform_role_may_write_to_xray() -> None:
    """The function's role has an inline policy allowing both X-Ray actions on *; Terraform
    grants nothing by itself when tracing is Active."""
    configuration = terraform()
    (function,) = named(configuration, "resource", "aws_lambda_function").values()
    role = reference(function["role"], "aws_iam_role")
    documents = named(configuration, "data", "aws_iam_policy_document")
    granted: set[str] = set()
    for policy in named(configuration, "resource", "aws_iam_role_policy").values():
        if reference(policy["role"], "aws_iam_role") != role:
            continue
        document = documents[reference(policy["policy"], "data.aws_iam_policy_document")]
        for statement in document["statement"]:
            if statement.get("effect", "Allow") == "Allow" and statement["resources"] == ["*"]:
                granted |= set(statement["actions"])
    assert granted >= XRAY_ACTIONS, granted
    trust = named(configuration, "resource", "aws_iam_role")[role]["assume_role_policy"]
    (statement,) = documents[reference(trust, "data.aws_iam_policy_document")]["statement"]
    assert statement["principals"] == [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_the_terraform_snippet_is_as_terraform_fmt_writes_it() -> None:
    """`terraform fmt` parses it (offline: no provider, no init) and would change nothing."""
    environ = {**os.environ, "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-"],
        input=the_block("Terraform", "hcl"),
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt:\n{result.stdout}{result.stderr}"


def test_the_serverless_function_is_traced_by_the_layer() -> None:
    service = yaml.safe_load(the_block("Serverless Framework", "yaml"))
    provider = service["provider"]
    assert provider["name"] == "aws"
    assert provider["tracing"]["lambda"] in (True, "Active")
    (function,) = service["functions"].values()
    environment = {**provider.get("environment", {}), **function.get("environment", {})}
    assert environment["AWS_LAMBDA_EXEC_WRAPPER"] == WRAPPER
    (layer,) = function["layers"]
    assert re.fullmatch(r"\$\{param:[A-Za-z]+\}", layer), layer
    assert function.get("architecture", provider.get("architecture")) in ARCHITECTURES
    assert function.get("runtime", provider.get("runtime")) in RUNTIMES
    assert function["handler"] == "app.handler"
    granted: set[str] = set()
    for statement in provider["iam"]["role"]["statements"]:
        if statement["Effect"] == "Allow" and statement["Resource"] == "*":
            granted |= set(statement["Action"])
    assert granted >= XRAY_ACTIONS, granted


EXCERPTS = {
    "sam": (
        "AWS SAM",
        "yaml",
        SAM_TEMPLATE,
        "# ...",
        (
            "Tracing: Active",
            "- !Ref LayerArn",
            "- !Ref Architecture",
            f"AWS_LAMBDA_EXEC_WRAPPER: {WRAPPER}",
            *(f"- {action}" for action in sorted(XRAY_ACTIONS)),
        ),
    ),
    "cdk": (
        "AWS CDK",
        "js",
        CDK_APP,
        "// ...",
        (
            "tracing: lambda.Tracing.ACTIVE",
            "lambda.LayerVersion.fromLayerVersionArn(",
            "architecture: ARCHITECTURES[architecture]",
            f"AWS_LAMBDA_EXEC_WRAPPER: '{WRAPPER}'",
            "actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']",
        ),
    ),
}


@pytest.mark.parametrize("tool", sorted(EXCERPTS))
def test_the_snippet_is_an_excerpt_of_the_checked_file_with_what_attaching_takes(
    tool: str,
) -> None:
    heading, language, source, gap, essentials = EXCERPTS[tool]
    snippet = the_block(heading, language)
    assert is_excerpt(snippet, source.read_text(), gap), snippet
    for essential in essentials:
        assert essential in snippet, essential


def test_the_excerpt_check_catches_drift() -> None:
    """A line changed, lines reordered or a line dropped without `# ...` is not an excerpt."""
    source = "a:\n  b: 1\n  c: 2\n  d: 3\n"
    assert is_excerpt("  b: 1\n  c: 2\n", source, "# ...")
    assert is_excerpt("b: 1\nc: 2\n# ...\na:\n", "b: 1\nc: 2\nx: 0\na:\n", "# ...")
    assert is_excerpt("a:\n# ...\n  d: 3\n", source, "# ...")
    assert not is_excerpt("  b: 1\n  c: 9\n", source, "# ...")
    assert not is_excerpt("  c: 2\n  b: 1\n", source, "# ...")
    assert not is_excerpt("a:\n  d: 3\n", source, "# ...")
    assert not is_excerpt("  b: 1\n    c: 2\n", source, "# ...")
    sam = the_block("AWS SAM", "yaml")
    assert not is_excerpt(
        sam.replace("Tracing: Active", "Tracing: PassThrough"), SAM_TEMPLATE.read_text(), "# ..."
    )


def test_the_publish_output_is_what_publish_prints() -> None:
    text = section("Publish the layer")
    assert any("./dev.sh local publish --region " in block for block in code_blocks(text, "sh"))
    (printed,) = code_blocks(text, "text")
    rows = [line.split() for line in printed.splitlines()]
    assert sorted(architecture for _, architecture, _ in rows) == sorted(ARCHITECTURES)
    for region, architecture, arn in rows:
        assert re.fullmatch(
            rf"arn:aws:lambda:{region}:[0-9]{{12}}:layer:{DEFAULT_PREFIX}-{architecture}:[0-9]+",
            arn,
        ), arn


def test_the_page_names_the_runtimes_and_every_exporter() -> None:
    """The runtimes the layer is published for, and one row per exporter the extension has."""
    introduction = DOC.read_text().split("\n## ", 1)[0]
    assert all(f"`{runtime}`" in introduction for runtime in RUNTIMES)
    table = section("IAM permissions per exporter")
    rows = re.findall(r"^\| `([a-z-]+)`", table, flags=re.MULTILINE)
    assert sorted(rows) == sorted(EXPORTERS)
