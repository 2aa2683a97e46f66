"""Raises an AttributeError while it is imported (a typo in module-level code)."""

import os

ROOT = os.environ.getenvironment("HOME")


def handler(event, context):
    return ROOT
