"""The demo function: an order handler that stores the order in S3 and DynamoDB.

Ordinary Lambda code with no tracing in it; run with the layer, every AWS call shows up.
"""

import json
import os
import time

import boto3

BUCKET = os.environ.get("ORDERS_BUCKET", "demo-orders")
TABLE = os.environ.get("ORDERS_TABLE", "demo-orders")

s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")


def _ensure_storage() -> None:
    """Create the demo bucket and table on first use (they live in the local AWS emulator)."""
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    if TABLE not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def handler(event, context):
    _ensure_storage()
    order_id = event.get("order_id", context.aws_request_id)
    s3.put_object(Bucket=BUCKET, Key=f"orders/{order_id}.json", Body=json.dumps(event))
    dynamodb.put_item(
        TableName=TABLE,
        Item={"order_id": {"S": order_id}, "created": {"N": str(int(time.time()))}},
    )
    return {"statusCode": 201, "body": json.dumps({"order_id": order_id})}
