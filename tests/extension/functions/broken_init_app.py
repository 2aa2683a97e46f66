"""A function whose module fails at import: its init fails."""

raise RuntimeError("the configuration is missing")


def handler(event, context):
    return {"never": True}
