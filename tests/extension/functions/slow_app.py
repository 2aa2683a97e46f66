"""A handler that does some traced work, then sleeps past its timeout."""

import time

from xraylayer import capture


def handler(event, context):
    with capture("before-sleep"):
        time.sleep(0.05)
    time.sleep(event.get("sleep_s", 5))
    return {"slept": True}
