"""A handler that does some traced work, then holds more memory than the function has."""

import time

from xraylayer import capture


def handler(event, context):
    with capture("before-oom"):
        pass
    chunks = []
    for _ in range(event["mb"]):
        chunk = bytearray(1024 * 1024)
        for offset in range(0, len(chunk), 4096):
            chunk[offset] = 1  # resident, not just reserved
        chunks.append(chunk)
    time.sleep(5)
    return len(chunks)
