"""Handlers whose results and errors must reach the caller the same with and without the layer."""

import asyncio


def returns(event, context):
    """Returns the event's `value`: each JSON type in turn."""
    return event["value"]


def returns_bytes(event, context):
    return b"\x00raw bytes\xff"


def returns_unserializable(event, context):
    return {"a set": {1, 2}}


def returns_generator(event, context):
    return (item for item in range(3))


async def async_handler(event, context):
    await asyncio.sleep(0)
    return "async result"


def _check(order):
    if order.get("fail"):
        raise ValueError(f"order {order.get('order_id')} rejected")


def fails(event, context):
    """Raises from a helper two frames down, so the stack trace has depth."""
    _check(event)
    return "accepted"


def fails_with_attribute_error(event, context):
    return event.no_such_attribute


def fails_with_custom_error(event, context):
    class OrderError(Exception):
        pass

    raise OrderError("custom", 42)


def http_response(event, context):
    return {"statusCode": event.get("status", 200), "body": "{}"}


class Unprintable(Exception):
    """An exception whose str() itself fails, as a careless __str__ does."""

    def __str__(self):
        raise RuntimeError("__str__ failed")


def fails_unprintably(event, context):
    raise Unprintable("hidden")


LONG_MESSAGE = "prix refusé: ünïcödé ✓ 注文 🚫 " + "é" * 50_000  # about 100 KB of UTF-8


def fails_with_long_message(event, context):
    raise ValueError(LONG_MESSAGE)


def fails_chained(event, context):
    """raise ... from ...: the caller sees the last exception only, as without the layer."""
    try:
        return {}["missing"]
    except KeyError as error:
        raise RuntimeError("lookup failed") from error


def fails_with_exception_group(event, context):
    raise ExceptionGroup("several failed", [ValueError("one"), TypeError("two")])  # noqa: F821


def _deeper(depth):
    return _deeper(depth + 1) + 1


def fails_with_recursion(event, context):
    return _deeper(0)


def raises_keyboard_interrupt(event, context):
    raise KeyboardInterrupt


def exits(event, context):
    """sys.exit from a handler: the runtime process ends, whatever the code."""
    raise SystemExit(event["code"])


class PaymentDeclined(Exception):
    """A user's own exception with a message of its own making."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code

    def __str__(self):
        return f"payment declined with code {self.code}"


def fails_with_own_str(event, context):
    raise PaymentDeclined(51)


def returns_datetime_deep_inside(event, context):
    import datetime

    return {"order": {"lines": [{"sku": "tea", "at": datetime.datetime(2026, 1, 2, 3, 4, 5)}]}}


def prints_and_logs(event, context):
    """What a function writes: print to stdout and stderr, logging at several levels, with a
    traceback, with several lines in one message."""
    import logging
    import sys

    logger = logging.getLogger("orders")
    logger.setLevel(logging.INFO)
    print("to stdout", event["n"])
    print("to stderr", event["n"], file=sys.stderr)
    print("two\nlines")
    logger.info("info %s", event["n"])
    logger.warning("warning with ünïcode ✓")
    logger.debug("debug is below the level")
    try:
        {}["missing"]
    except KeyError:
        logger.exception("handled a failure")
    logging.error("root logger\nsecond line")
    sys.stdout.write("no newline at the end")
    return "logged"


def fails_in_an_http_call(event, context):
    """An HTTP call that fails (nothing listens on the port) and is not caught."""
    import http.client
    import socket

    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/orders")
    return connection.getresponse().status
