"""Imports a dependency the function forgot to bundle: Runtime.ImportModuleError."""

import xraylayer_test_dependency_that_is_not_bundled  # noqa: F401


def handler(event, context):
    return "never"
