"""A handler that does some traced work, then takes the process down (no exception, no end)."""

import os

from xraylayer import capture


def handler(event, context):
    with capture("before-crash"):
        pass
    os._exit(3)
