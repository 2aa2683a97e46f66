"""Minimal extension lifecycle: register, wait for events, exit on SHUTDOWN.

Placeholder until span intake and export land; it already keeps the contract Lambda expects of
every external extension (register under the executable's file name, loop on event/next).
"""

import http.client
import json
import os
import sys

EXTENSION_NAME = "xraylayer"


def _request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def main() -> int:
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
    conn = http.client.HTTPConnection(host, int(port))
    response, _ = _request(
        conn,
        "POST",
        "/2020-01-01/extension/register",
        body=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
        headers={"Lambda-Extension-Name": EXTENSION_NAME},
    )
    if response.status != 200:
        print(f"xraylayer: extension registration failed ({response.status})", file=sys.stderr)
        return 1
    identifier = response.headers["Lambda-Extension-Identifier"]
    while True:
        response, body = _request(
            conn,
            "GET",
            "/2020-01-01/extension/event/next",
            headers={"Lambda-Extension-Identifier": identifier},
        )
        if response.status != 200:
            return 1
        if json.loads(body).get("eventType") == "SHUTDOWN":
            return 0


if __name__ == "__main__":
    sys.exit(main())
