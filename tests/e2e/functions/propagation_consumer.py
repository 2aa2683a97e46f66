"""A message consumer: handles the records of its event in one traced step of its own.

Whether its invocation joins or links to the producer's trace is up to the layer alone.
"""

try:
    from xraylayer import capture
except ImportError:  # without the layer the step simply runs untraced
    from contextlib import nullcontext

    def capture(name):
        return nullcontext()


def handler(event, context):
    records = event.get("Records", [event])
    with capture("handle-messages"):
        handled = len(records)
    return {"handled": handled}
