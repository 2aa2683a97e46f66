"""Register with the Extensions API using nothing but `_socket`.

Lambda starts the function's runtime only after every extension has registered, so the time
from this process's start to its `register` call is added to every cold start. `http.client`
costs ~24 ms to import and `socket` ~7 ms (its enums); `_socket` costs ~0.3 ms. One request with
a fixed body needs no more than that, so registration is made by hand (lambda_api.py) and
everything else is imported after it, while the runtime initialises.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .lambda_api import Answer

REGISTER_PATH = "/2020-01-01/extension/register"
_TIMEOUT_S = 10.0


class RegistrationError(Exception):
    """The Extensions API refused the registration (or could not be reached)."""


def register(runtime_api: str, name: str, events: tuple[str, ...]) -> str:
    """Register and return the extension identifier every later call must carry."""
    from .lambda_api import ApiError, request

    body = ('{"events": [' + ", ".join(f'"{event}"' for event in events) + "]}").encode()
    headers = {"Lambda-Extension-Name": name, "Content-Type": "application/json"}
    try:
        answer = request(runtime_api, "POST", REGISTER_PATH, headers, body, timeout_s=_TIMEOUT_S)
    except ApiError as error:
        raise RegistrationError(
            f"cannot reach the Extensions API at {runtime_api}: {error}"
        ) from error
    return identifier_of(answer)


def identifier_of(answer: Answer) -> str:
    """The ``Lambda-Extension-Identifier`` of a 200 answer; RegistrationError otherwise."""
    identifier = answer.headers.get("lambda-extension-identifier", "").strip()
    if answer.status != 200:
        raise RegistrationError(f"register answered {answer.status}: {answer.body[:200]!r}")
    if not identifier:
        raise RegistrationError("register answered 200 without Lambda-Extension-Identifier")
    return identifier
