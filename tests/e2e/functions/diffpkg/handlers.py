"""A handler in a package, named with a slash: `diffpkg/handlers.handler`."""


def handler(event, context):
    return {"nested": True}
