"""Publish the built layer zips to AWS Lambda: one layer version per architecture and region.

Each zip becomes ``PublishLayerVersion`` of the layer ``<prefix>-<arch>`` (``xraylayer-python-
x86_64`` and ``-arm64`` by default) with the runtimes and the architecture it was built for and
a description naming the layer's version, so the console and ``ListLayerVersions`` tell which
build a function uses. The request parameters are made by a pure function; ``publish`` only
sends them (boto3, with the caller's credentials and, in tests, a local endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13")
ARCHITECTURES = ("x86_64", "arm64")
DEFAULT_PREFIX = "xraylayer-python"
LICENSE = "Apache-2.0"


@dataclass(frozen=True)
class Published:
    """One published layer version."""

    region: str
    architecture: str
    layer_version_arn: str
    version: int


def built_zips(folder: Path) -> dict[str, Path]:
    """The zip of each architecture that build.sh writes into ``folder`` (dist/)."""
    return {arch: folder / f"{DEFAULT_PREFIX}-{arch}.zip" for arch in ARCHITECTURES}


def layer_request(zip_bytes: bytes, architecture: str, version: str, prefix: str) -> dict:
    """The ``PublishLayerVersion`` parameters of one architecture's zip."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
    return {
        "LayerName": f"{prefix}-{architecture}",
        "Description": f"xraylayer {version} for Python 3.10-3.13 ({architecture})",
        "Content": {"ZipFile": zip_bytes},
        "CompatibleRuntimes": list(RUNTIMES),
        "CompatibleArchitectures": [architecture],
        "LicenseInfo": LICENSE,
    }


def publish(
    zips: Mapping[str, Path],
    regions: Iterable[str],
    *,
    version: str,
    prefix: str = DEFAULT_PREFIX,
    client: Callable[[str], Any],
) -> list[Published]:
    """Publish every zip (architecture -> path) in every region; ``client(region)`` gives a
    boto3 Lambda client. Stops at the first refusal (the error says which region and layer)."""
    published = []
    for region in regions:
        lambda_client = client(region)
        for architecture, path in sorted(zips.items()):
            request = layer_request(path.read_bytes(), architecture, version, prefix)
            answer = lambda_client.publish_layer_version(**request)
            published.append(
                Published(region, architecture, answer["LayerVersionArn"], answer["Version"])
            )
    return published
