"""AWS calls from a function reach a real moto server over HTTP, with the runtime's own boto3."""

from __future__ import annotations

import uuid

import boto3
from sandbox_harness import FUNCTIONS, PYTHON
from xraylayer_local import runtimes
from xraylayer_local.sandbox import Sandbox


def test_a_function_creates_and_lists_a_bucket_in_moto(moto_server) -> None:
    bucket = f"sandbox-{uuid.uuid4().hex[:12]}"
    with Sandbox(
        FUNCTIONS,
        "aws_calls.create_and_list",
        python=PYTHON,
        env=moto_server.env(),
        region=moto_server.region,
        timeout_s=20,
    ) as sandbox:
        result = sandbox.invoke({"bucket": bucket})
        site_packages = str(sandbox.runtime.site_packages)
    assert result.status == "success", result.error
    assert bucket in result.response["buckets"]
    assert result.response["boto3"] == runtimes.BOTO3_VERSION
    assert result.response["boto3_file"].startswith(site_packages)
    outside = boto3.client(
        "s3",
        endpoint_url=moto_server.endpoint_url,
        region_name=moto_server.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert bucket in [b["Name"] for b in outside.list_buckets()["Buckets"]]
