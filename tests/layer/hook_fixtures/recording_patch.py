"""An instrumentation: records what it was given, so the test can see when and with what."""

CALLS = []


def patch(module):
    CALLS.append([module.__name__, getattr(module, "COMPLETE", False)])


def other(module):
    CALLS.append(["other", module.__name__])
