"""The benchmark function: an ordinary order handler with no tracing code in it.

What a typical Python function does, so every configuration pays its real costs: boto3 imported
and three clients made at module level (init), then per invoke ten AWS calls (DynamoDB, S3,
SQS, to moto in server mode) and one HTTP call with ``requests`` (bundled with the function, as
users bundle it) to a loopback server. The resources are made by the benchmark beforehand and
named in the environment.

An event with ``per_call`` runs the per-call microbenchmark instead (``per_call.py``): the
same process and instrumentation as the ordinary invokes, timed call by call.
"""

import json
import os
import time
from typing import Any

import boto3
import requests

TABLE = os.environ["BENCH_TABLE"]
BUCKET = os.environ["BENCH_BUCKET"]
QUEUE_URL = os.environ["BENCH_QUEUE_URL"]
HTTP_URL = os.environ["BENCH_HTTP_URL"]

dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")
sqs = boto3.client("sqs")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "per_call" in event:
        import per_call

        return per_call.measure(int(event["per_call"]), HTTP_URL)
    order_id = event.get("order_id", context.aws_request_id)
    store_order(order_id, event)
    notify(order_id)
    status = requests.get(HTTP_URL, params={"order": order_id}, timeout=5).status_code
    return {"statusCode": 201, "body": json.dumps({"order_id": order_id, "partner": status})}


def store_order(order_id: str, event: dict[str, Any]) -> None:
    """Seven calls: four to DynamoDB, three to S3."""
    key = {"order_id": {"S": order_id}}
    dynamodb.put_item(TableName=TABLE, Item={**key, "created": {"N": str(int(time.time()))}})
    dynamodb.get_item(TableName=TABLE, Key=key)
    dynamodb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET order_state = :s",
        ExpressionAttributeValues={":s": {"S": "stored"}},
    )
    dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="order_id = :id",
        ExpressionAttributeValues={":id": {"S": order_id}},
    )
    object_key = f"orders/{order_id}.json"
    s3.put_object(Bucket=BUCKET, Key=object_key, Body=json.dumps(event).encode())
    s3.head_object(Bucket=BUCKET, Key=object_key)
    s3.get_object(Bucket=BUCKET, Key=object_key)["Body"].read()


def notify(order_id: str) -> None:
    """Three calls to SQS: send, receive, then delete what came back (always three calls)."""
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps({"order_id": order_id}))
    received = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=1, WaitTimeSeconds=0)
    messages = received.get("Messages", [])
    if messages:
        sqs.delete_message(QueueUrl=QUEUE_URL, ReceiptHandle=messages[0]["ReceiptHandle"])
    else:
        sqs.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["ApproximateNumberOfMessages"])
