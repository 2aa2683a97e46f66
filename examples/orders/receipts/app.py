"""The receipts consumer: an SQS queue subscribed to the orders topic triggers it; it writes a
receipt for every paid order to S3.

Ordinary Lambda code, traced by the layer with no code here (the S3 call, and the link from
each message back to the API call that published it). The custom subsegment needs the layer's
API, so its import is guarded and the function runs unchanged without the layer.
"""

import json
import os

import boto3

try:
    from xraylayer import capture
except ImportError:  # no layer attached: the block runs, untraced
    from contextlib import nullcontext

    def capture(name):
        return nullcontext()


BUCKET = os.environ["RECEIPTS_BUCKET"]
s3 = boto3.client("s3")


def handler(event, context):
    written = []
    for record in event["Records"]:
        order = _order(record["body"])
        with capture("render-receipt"):
            receipt = _receipt(order)
        key = f"receipts/{order['order_id']}.txt"
        s3.put_object(Bucket=BUCKET, Key=key, Body=receipt.encode(), ContentType="text/plain")
        written.append(key)
    return {"batchItemFailures": [], "receipts": written}


def _order(body):
    """The order in a message body: an SNS notification envelope (a subscription without raw
    delivery) or, with raw delivery, the published message itself."""
    message = json.loads(body)
    if isinstance(message, dict) and message.get("Type") == "Notification":
        message = json.loads(message["Message"])
    return message


def _receipt(order):
    lines = [f"Receipt for order {order['order_id']} (charge {order['charge']})"]
    for item in order["items"]:
        quantity = item.get("quantity", 1)
        lines.append(f"  {quantity} x {item['name']:<24} {item['price'] * quantity:>9.2f}")
    lines.append(f"  {'total':<28} {order['total']:>9.2f}")
    return "\n".join(lines) + "\n"
