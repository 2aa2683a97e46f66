"""An instrumentation with a bug."""


def patch(module):
    raise RuntimeError("instrumentation bug")
