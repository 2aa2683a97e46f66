"""The orders API: ``POST /orders`` behind API Gateway (REST API, Lambda proxy integration).

An order is stored in DynamoDB, charged by the payment service over HTTP, and announced on an
SNS topic that the receipts function hears through an SQS queue. Ordinary Lambda code: the
layer traces every AWS and HTTP call with no code here. The one custom subsegment (the order
screening, slow for large orders) needs the layer's API, so its import is guarded and the
function runs unchanged without the layer.
"""

import json
import os
import time
import urllib.error
import urllib.request

import boto3

try:
    from xraylayer import capture
except ImportError:  # no layer attached: the screening runs, untraced
    from contextlib import nullcontext

    def capture(name):
        return nullcontext()


TABLE = os.environ["ORDERS_TABLE"]
TOPIC_ARN = os.environ["ORDERS_TOPIC_ARN"]
PAYMENT_URL = os.environ["PAYMENT_URL"]
# Orders at least this large get the thorough (slow) screening.
LARGE_ORDER = float(os.environ.get("LARGE_ORDER", "100"))
THOROUGH_SCREENING_S = float(os.environ.get("THOROUGH_SCREENING_SECONDS", "0.4"))
QUICK_SCREENING_S = 0.005

dynamodb = boto3.client("dynamodb")
sns = boto3.client("sns")


def handler(event, context):
    order = json.loads(event.get("body") or "{}")
    order_id = "o-" + context.aws_request_id[:8]
    total = round(sum(item["price"] * item.get("quantity", 1) for item in order["items"]), 2)
    with capture("screen-order"):
        time.sleep(THOROUGH_SCREENING_S if total >= LARGE_ORDER else QUICK_SCREENING_S)
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "order_id": {"S": order_id},
            "total": {"N": str(total)},
            "state": {"S": "PENDING"},
        },
    )
    status, charge = _charge(order_id, total, order["card"])
    if status == 429:
        # The payment service is rate limiting us: ask the client to retry.
        return _response(429, {"message": "payment service busy, retry"}, {"Retry-After": "1"})
    if status is None or status >= 500:
        return _response(502, {"message": f"payment failed for {order_id}"})
    sns.publish(
        TopicArn=TOPIC_ARN,
        Subject="order paid",
        Message=json.dumps(
            {"order_id": order_id, "total": total, "items": order["items"], "charge": charge["id"]}
        ),
    )
    return _response(201, {"order_id": order_id, "total": total})


def _charge(order_id, total, card):
    """POST the charge; (status, answer), status None when the service cannot be reached."""
    request = urllib.request.Request(
        PAYMENT_URL,
        data=json.dumps({"order_id": order_id, "amount": total, "card": card}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, None
    except OSError:
        return None, None


def _response(status, body, headers=None):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }
