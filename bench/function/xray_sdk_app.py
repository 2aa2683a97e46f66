"""The same function traced with the AWS X-Ray SDK for Python, set up as its documentation says.

``patch_all()`` at the top of the handler module, before anything else is imported: the SDK
patches botocore, requests and the other libraries it knows, and in Lambda its recorder hangs
each call's subsegment under the segment Lambda made (``_X_AMZN_TRACE_ID``), streaming each
finished subsegment to the X-Ray daemon over UDP. The SDK comes from its layer folder.
"""

from aws_xray_sdk.core import patch_all

patch_all()

from app import handler  # noqa: E402  (patch first, as the SDK's docs show)

__all__ = ["handler"]
