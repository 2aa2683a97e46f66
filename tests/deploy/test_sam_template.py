"""The SAM template users copy (examples/deploy/sam/template.yaml): cfn-lint accepts it, and the
function it declares gets what the layer needs (the layer, the wrapper, Active tracing, the X-Ray
permission), on an architecture and runtime the layer is published for."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from xraylayer_local.publish import ARCHITECTURES, DEFAULT_PREFIX, RUNTIMES

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "examples" / "deploy" / "sam" / "template.yaml"
WRAPPER = "/opt/xray-instrument"
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    """cfn-lint as its command line runs it (exit status 0: nothing to report)."""
    return subprocess.run(
        [sys.executable, "-m", "cfnlint.runner.cli", str(template)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(template: Path) -> dict[str, Any]:
    """The template as CloudFormation reads it (cfn-lint's loader: !Ref and !Sub understood)."""
    document, errors = decode(str(template))
    assert not errors, [str(error) for error in errors]
    assert isinstance(document, dict)
    return document


def the_function(template: dict[str, Any]) -> dict[str, Any]:
    """The one serverless function's properties, with the template's Globals merged in as SAM
    does, so a setting moved to Globals still counts."""
    functions = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    assert len(functions) == 1, functions
    return {**template.get("Globals", {}).get("Function", {}), **functions[0]}


def statements(policies: list[Any]) -> list[dict[str, Any]]:
    """The inline statements of a SAM function's Policies."""
    found = []
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


def test_cfn_lint_reports_nothing() -> None:
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, f"cfn-lint {TEMPLATE}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("correct", "broken", "reported"),
    [
        ("Tracing: Active", "Tracing: Sometimes", "Sometimes"),
        ("Handler: app.handler", "Handlr: app.handler", "Handlr"),
    ],
)
def test_cfn_lint_catches_a_broken_copy(
    tmp_path: Path, correct: str, broken: str, reported: str
) -> None:
    """The lint test above can fail: the same template with one mistake is reported."""
    text = TEMPLATE.read_text()
    assert correct in text
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(correct, broken))
    result = cfn_lint(copy)
    assert result.returncode != 0, result.stdout
    assert reported in result.stdout, result.stdout


def test_the_function_is_traced_by_the_layer() -> None:
    template = load(TEMPLATE)
    function = the_function(template)
    assert function["Tracing"] == "Active"
    assert function["Layers"] == [{"Ref": "LayerArn"}]
    assert template["Parameters"]["LayerArn"]["Type"] == "String"
    assert function["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == WRAPPER
    granted = [
        statement
        for statement in statements(function["Policies"])
        if statement["Effect"] == "Allow" and statement["Resource"] == "*"
    ]
    assert any(set(statement["Action"]) >= XRAY_ACTIONS for statement in granted), granted


def test_the_architecture_is_a_choice_the_layer_is_published_for() -> None:
    template = load(TEMPLATE)
    function = the_function(template)
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    parameter = template["Parameters"]["Architecture"]
    assert sorted(parameter["AllowedValues"]) == sorted(ARCHITECTURES)
    assert parameter["Default"] in ARCHITECTURES
    assert function["Runtime"] == "python3.12"
    assert function["Runtime"] in RUNTIMES


def test_the_layer_parameter_takes_the_arns_publish_prints() -> None:
    """The AllowedPattern accepts what `./dev.sh local publish` prints and refuses a typo, so a
    wrong value fails at deploy time with CloudFormation's message, not at the first trace."""
    pattern = load(TEMPLATE)["Parameters"]["LayerArn"]["AllowedPattern"]
    for architecture in ARCHITECTURES:
        arn = f"arn:aws:lambda:eu-west-1:123456789012:layer:{DEFAULT_PREFIX}-{architecture}:12"
        assert re.fullmatch(pattern, arn), arn
    assert re.fullmatch(pattern, "arn:aws-cn:lambda:cn-north-1:123456789012:layer:mine:3")
    for wrong in (
        f"arn:aws:lambda:eu-west-1:123456789012:layer:{DEFAULT_PREFIX}-arm64",  # no version
        f"arn:aws:lambda:eu-west-1:12345:layer:{DEFAULT_PREFIX}-arm64:1",  # short account
        f"{DEFAULT_PREFIX}-arm64",  # a name, not an ARN
    ):
        assert not re.fullmatch(pattern, wrong), wrong


def test_the_code_and_handler_exist() -> None:
    """CodeUri and Handler name the example function, and it answers a plain event."""
    function = the_function(load(TEMPLATE))
    code = (TEMPLATE.parent / function["CodeUri"]).resolve()
    module_name, handler_name = function["Handler"].rsplit(".", 1)
    spec = importlib.util.spec_from_file_location(module_name, code / f"{module_name}.py")
    assert spec is not None and spec.loader is not None, f"no {module_name}.py in {code}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer = getattr(module, handler_name)({"name": "sam"}, None)
    assert answer == {"statusCode": 200, "body": "hello, sam"}
