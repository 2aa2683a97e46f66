"""Publishing the built zips: one layer version per architecture and region, read back from a
real Lambda API (moto in server mode)."""

from __future__ import annotations

from pathlib import Path

import pytest
from xraylayer import __version__
from xraylayer_local.cli import main
from xraylayer_local.moto_server import MotoServer
from xraylayer_local.publish import ARCHITECTURES, RUNTIMES, layer_request


def test_the_request_names_runtimes_architecture_and_version() -> None:
    request = layer_request(b"zip", "arm64", "1.2.3", "xraylayer-python")
    assert request["LayerName"] == "xraylayer-python-arm64"
    assert request["CompatibleArchitectures"] == ["arm64"]
    assert request["CompatibleRuntimes"] == list(RUNTIMES)
    assert "1.2.3" in request["Description"] and "arm64" in request["Description"]
    assert request["Content"] == {"ZipFile": b"zip"}
    with pytest.raises(ValueError, match="unknown architecture"):
        layer_request(b"zip", "sparc", "1.2.3", "xraylayer-python")


def test_publish_prints_an_arn_per_architecture_and_region(
    layer_zips: dict[str, Path],
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in moto_server.client_env().items():
        monkeypatch.setenv(name, value)
    dist = next(iter(layer_zips.values())).parent
    regions = ["us-east-1", "eu-west-1"]
    arguments = ["publish", "--dist", str(dist), "--endpoint-url", moto_server.endpoint_url]
    assert main([*arguments, *[f"--region={region}" for region in regions]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(regions) * len(ARCHITECTURES)
    for line in lines:
        region, architecture, arn = line.split()
        assert arn.startswith(f"arn:aws:lambda:{region}:")
        assert f":layer:xraylayer-python-{architecture}:" in arn


def test_the_published_versions_carry_runtimes_and_architecture(
    layer_zips: dict[str, Path], moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in moto_server.client_env().items():
        monkeypatch.setenv(name, value)
    dist = next(iter(layer_zips.values())).parent
    url = moto_server.endpoint_url
    assert main(["publish", "--dist", str(dist), "--endpoint-url", url, "--prefix", "check"]) == 0
    client = moto_server.client("lambda")
    for architecture in ARCHITECTURES:
        (version,) = client.list_layer_versions(LayerName=f"check-{architecture}")["LayerVersions"]
        assert version["CompatibleRuntimes"] == list(RUNTIMES)
        assert version["CompatibleArchitectures"] == [architecture]
        assert __version__ in version["Description"]


def test_without_built_zips_publish_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", "--dist", str(tmp_path)]) == 2
    assert "run ./build.sh first" in capsys.readouterr().out
