"""The AWS X-Ray SDK for Python: ``patch_all()`` in the handler module, UDP to the daemon.

The SDK and wrapt come from PyPI into a layer folder (``python/``); the function's handler is
``xray_sdk_app.handler``, the same function with ``patch_all()`` first, as the SDK's docs show.
"""

from __future__ import annotations

from peers.configuration import Configuration, Context, Setup, Sink
from peers.install import installed


def prepare(context: Context) -> Setup:
    layer = installed("xray-sdk", context, "xray-sdk.txt")
    return Setup(layers=(layer,), handler="xray_sdk_app.handler", sink=Sink.XRAY_DAEMON)


XRAY_SDK = Configuration(
    "X-Ray SDK", "aws-xray-sdk 2.15.0, patch_all() in the handler module, UDP per call", prepare
)
