"""An ordinary order handler: DynamoDB write, S3 read, an HTTP call, one custom block.

It has no tracing code of its own except an optional `capture` block, and must behave the same
with and without the layer.
"""

import json
import os
import urllib.request

import boto3

try:
    from xraylayer import capture
except ImportError:  # without the layer the block simply runs untraced
    from contextlib import nullcontext

    def capture(name):
        return nullcontext()


TABLE = os.environ["ORDERS_TABLE"]
BUCKET = os.environ["PRICES_BUCKET"]
dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")


def handler(event, context):
    if event.get("fail"):
        raise ValueError(f"order {event.get('order_id')} rejected")
    prices = json.loads(s3.get_object(Bucket=BUCKET, Key="prices.json")["Body"].read())
    with capture("compute-total"):
        total = sum(prices[item] for item in event["items"])
    dynamodb.put_item(
        TableName=TABLE,
        Item={"order_id": {"S": event["order_id"]}, "total": {"N": str(total)}},
    )
    with urllib.request.urlopen(os.environ["PAYMENT_URL"] + "?order=" + event["order_id"]) as r:
        payment = json.loads(r.read())
    return {"order_id": event["order_id"], "total": total, "payment": payment["status"]}
