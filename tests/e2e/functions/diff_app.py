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
