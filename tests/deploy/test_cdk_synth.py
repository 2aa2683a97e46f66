"""The CDK app users copy (examples/deploy/cdk): `cdk synth` with the pinned CLI and library, and
the function in the template it makes gets what the layer needs.

The app's node modules are installed once by `npm ci` into ~/.cache/xraylayer/cdk/<hash of
package-lock.json> (XDG_CACHE_HOME is honoured) and reused; a file lock and a rename into place
keep parallel runs from sharing a half-made install. Synth runs with no AWS account, no
credentials and no network: the stack is environment-agnostic, the CLI's version check, notices
and telemetry are off.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "deploy" / "cdk"
FUNCTION = REPO / "examples" / "deploy" / "function"
LAYER_ARN = "arn:aws:lambda:eu-west-1:123456789012:layer:xraylayer-python-arm64:7"
WRAPPER = "/opt/xray-instrument"
STACK = "XraylayerExample"
INSTALLED = ".xraylayer-installed"  # written last: its presence means npm ci finished

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are needed to synthesize the CDK example (install Node.js 20+)",
)


def cache_root() -> Path:
    """Where installed node modules are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xraylayer" / "cdk"


def installed_modules() -> Path:
    """The app's node_modules, installed by `npm ci` on first use and reused after."""
    lock_file = APP / "package-lock.json"
    key = hashlib.sha256(lock_file.read_bytes()).hexdigest()[:16]
    root = cache_root()
    target = root / key
    if (target / INSTALLED).is_file():
        return target / "node_modules"
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be installing the same key
        if (target / INSTALLED).is_file():
            return target / "node_modules"
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(APP / name, staging / name)
            npm = subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert npm.returncode == 0, f"npm ci failed:\n{npm.stdout}{npm.stderr}"
            (staging / INSTALLED).write_text("")
            staging.chmod(0o755)  # mkdtemp made it private
            if target.exists():  # an install that never finished, from before this lock
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target / "node_modules"


def synth(workdir: Path, *context: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`cdk synth` of a copy of the app (the repo stays clean) with the cached CLI; returns the
    run and the cloud assembly folder."""
    modules = installed_modules()
    app = workdir / "cdk"
    app.mkdir()
    for name in ("app.js", "cdk.json", "package.json"):
        shutil.copy2(APP / name, app / name)
    (app / "node_modules").symlink_to(modules, target_is_directory=True)
    shutil.copytree(FUNCTION, workdir / "function", ignore=shutil.ignore_patterns("__pycache__"))
    home = workdir / "home"  # no ~/.cdk.json, no AWS profile, no cache of a real account
    home.mkdir()
    environ = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environ.update(
        HOME=str(home),
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
    )
    out = workdir / "cdk.out"
    arguments = [f"--context={item}" for item in context]
    command = ["node", str(modules / "aws-cdk" / "bin" / "cdk"), "synth", "--quiet"]
    command += ["--no-version-reporting", "--no-notices", *arguments, "--output", str(out)]
    run = subprocess.run(
        command, cwd=app, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    return run, out


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


@pytest.fixture(scope="module")
def arm64_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template synthesized for an arm64 function with a given layer ARN."""
    run, out = synth(
        tmp_path_factory.mktemp("synth"), f"layerArn={LAYER_ARN}", "architecture=arm64"
    )
    assert run.returncode == 0, f"cdk synth failed:\n{run.stdout}{run.stderr}"
    return out / f"{STACK}.template.json"


def test_the_function_is_traced_by_the_layer(arm64_template: Path) -> None:
    template = json.loads(arm64_template.read_text())
    (function,) = resources(template, "AWS::Lambda::Function").values()
    properties = function["Properties"]
    assert properties["Layers"] == [LAYER_ARN]
    assert properties["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == WRAPPER
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Architectures"] == ["arm64"]
    assert properties["Runtime"] == "python3.12"
    assert properties["Handler"] == "app.handler"

    role = properties["Role"]["Fn::GetAtt"][0]
    granted = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow" and statement["Resource"] == "*":
                actions = statement["Action"]
                granted |= {actions} if isinstance(actions, str) else set(actions)
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= granted, granted


def test_the_function_code_is_the_example(arm64_template: Path) -> None:
    """The asset CDK uploads as the function's code is examples/deploy/function."""
    template = json.loads(arm64_template.read_text())
    (function,) = resources(template, "AWS::Lambda::Function").values()
    asset = arm64_template.parent / function["Metadata"]["aws:asset:path"]
    assert (asset / "app.py").read_text() == (FUNCTION / "app.py").read_text()


def test_cfn_lint_accepts_the_synthesized_template(arm64_template: Path) -> None:
    """W3005 (a DependsOn that a GetAtt already implies) is how CDK writes every function."""
    command = [sys.executable, "-m", "cfnlint.runner.cli", "--ignore-checks", "W3005"]
    result = subprocess.run(
        [*command, "--", str(arm64_template)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"cfn-lint:\n{result.stdout}{result.stderr}"


def test_without_context_it_is_x86_64_with_a_placeholder_layer(tmp_path: Path) -> None:
    run, out = synth(tmp_path)
    assert run.returncode == 0, f"cdk synth failed:\n{run.stdout}{run.stderr}"
    template = json.loads((out / f"{STACK}.template.json").read_text())
    (function,) = resources(template, "AWS::Lambda::Function").values()
    assert function["Properties"]["Architectures"] == ["x86_64"]
    (layer,) = function["Properties"]["Layers"]
    assert layer == "arn:aws:lambda:us-east-1:123456789012:layer:xraylayer-python-x86_64:1"


def test_a_layer_of_the_other_architecture_is_refused(tmp_path: Path) -> None:
    """An x86_64 layer on an arm64 function fails at synth, before anything is deployed."""
    x86_layer = LAYER_ARN.replace("-arm64:", "-x86_64:")
    run, _ = synth(tmp_path, f"layerArn={x86_layer}", "architecture=arm64")
    assert run.returncode != 0
    assert f"layer {x86_layer} is for x86_64, the function is arm64" in run.stderr, run.stderr


def test_the_versions_are_pinned_and_locked() -> None:
    """Exact versions, the lock agrees, and the CLI is a 2.x release: aws-cdk 3.0.0 (npm's
    `latest` tag at the time of writing) was published by accident and cannot read the
    assemblies aws-cdk-lib 2 writes."""
    package = json.loads((APP / "package.json").read_text())
    lock = json.loads((APP / "package-lock.json").read_text())
    wanted = {**package["dependencies"], **package["devDependencies"]}
    assert set(wanted) == {"aws-cdk", "aws-cdk-lib", "constructs"}
    for name, version in wanted.items():
        assert version[0].isdigit(), f"{name} {version}: pin an exact version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert wanted["aws-cdk"].startswith("2."), wanted["aws-cdk"]
    assert wanted["aws-cdk-lib"].startswith("2."), wanted["aws-cdk-lib"]
