"""The README's first screen attaches the layer in under ten lines of SAM, and those lines work:
SAM's own translator (aws-sam-translator, offline) turns them into a function with the layer,
the exec wrapper and Active tracing, and a role that may write to X-Ray."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

README = Path(__file__).resolve().parents[2] / "README.md"
WRAPPER = "/opt/xray-instrument"
XRAY_WRITE_POLICIES = {  # what SAM attaches for Tracing (the name differs by partition)
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}


def _attach_snippet() -> str:
    section = README.read_text().split("## Attach it", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    return snippet


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for policies named in `Policies`;
    the snippet names none."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def transformed(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    resources = yaml.safe_load(_attach_snippet())
    for properties in (resource["Properties"] for resource in resources.values()):
        # What any function has already; the snippet adds only what attaching takes.
        properties.update(Runtime="python3.12", Handler="app.handler", CodeUri="s3://b/k.zip")
    template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": resources}
    return transform(template, {}, _NoManagedPolicies())["Resources"]


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_snippet_is_under_ten_lines_and_on_the_first_screen() -> None:
    text = README.read_text()
    assert len(_attach_snippet().strip().splitlines()) < 10
    assert text.index("## Attach it") < 1500  # right after the two-paragraph introduction
    for link in ("docs/deploy.md", "docs/configuration.md"):
        assert f"]({link})" in text.split("## Try it locally", 1)[0]


def test_the_snippet_attaches_the_layer_with_the_wrapper_and_active_tracing(
    transformed: dict[str, Any],
) -> None:
    (function,) = [r for r in transformed.values() if r["Type"] == "AWS::Lambda::Function"]
    properties = function["Properties"]
    (layer,) = properties["Layers"]
    assert re.fullmatch(r"arn:aws:lambda:[a-z0-9-]+:\d{12}:layer:xraylayer-python-\w+:\d+", layer)
    assert properties["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == WRAPPER
    assert properties["TracingConfig"] == {"Mode": "Active"}


def test_the_snippets_role_may_write_to_xray(transformed: dict[str, Any]) -> None:
    (role,) = [r for r in transformed.values() if r["Type"] == "AWS::IAM::Role"]
    assert XRAY_WRITE_POLICIES & set(role["Properties"]["ManagedPolicyArns"])
