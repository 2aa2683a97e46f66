"""Extension lifecycle: register first, then wait for events, exit on SHUTDOWN.

Placeholder until span intake and export land; it already keeps the contract Lambda expects of
every external extension (register under the executable's file name, loop on event/next) and
registers with the least possible work (see registration.py): only `_socket` is imported
before `register`, the rest after, while the runtime initialises.
"""

import os
import sys

from .registration import RegistrationError, register

EXTENSION_NAME = "xraylayer"
EXTENSIONS_API = "/2020-01-01/extension"


def main() -> int:
    runtime_api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    try:
        identifier = register(runtime_api, EXTENSION_NAME, ("INVOKE", "SHUTDOWN"))
    except RegistrationError as error:
        print(f"xraylayer: extension registration failed: {error}", file=sys.stderr)
        return 1
    return wait_for_shutdown(runtime_api, identifier)


def wait_for_shutdown(runtime_api: str, identifier: str) -> int:
    """Loop on event/next until SHUTDOWN (or until the API refuses us)."""
    import http.client
    import json

    host, _, port = runtime_api.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port))
    headers = {"Lambda-Extension-Identifier": identifier}
    while True:
        connection.request("GET", f"{EXTENSIONS_API}/event/next", headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            return 1
        if json.loads(body).get("eventType") == "SHUTDOWN":
            return 0
