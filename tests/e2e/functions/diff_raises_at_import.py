"""Fails while it is imported, as a missing setting makes a real function fail."""

import os


def _setting(name):
    return os.environ[name]


TABLE = _setting("XRAYLAYER_TEST_TABLE_THAT_IS_NOT_SET")


def handler(event, context):
    return TABLE
