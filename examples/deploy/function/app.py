"""The function the deploy examples attach the layer to: ordinary code, no tracing in it.

With the layer attached, each invocation shows up in X-Ray with its trigger and cold start.
"""


def handler(event: dict, context: object) -> dict:
    """Answer with a greeting; nothing here knows about tracing."""
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"statusCode": 200, "body": f"hello, {name}"}
