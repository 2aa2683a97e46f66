"""A producer with no tracing code of its own: it sends, publishes and puts events as any
function would, and the layer alone must carry the trace context along every send.

Where it sends comes from its environment; how many messages go to the batch queue and what
the crowded notification carries come from its event, so the test that runs it holds the one
copy of each.
"""

import json
import os

import boto3

sqs = boto3.client("sqs")
sns = boto3.client("sns")
events = boto3.client("events")


def handler(event, context):
    single = sqs.send_message(QueueUrl=os.environ["SINGLE_QUEUE_URL"], MessageBody="single")
    batch = [
        sqs.send_message(QueueUrl=os.environ["BATCH_QUEUE_URL"], MessageBody=f"batch {index}")
        for index in range(event["batch_size"])
    ]
    notified = sns.publish(
        TopicArn=os.environ["TOPIC_ARN"],
        Message="notified",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    crowded = sns.publish(
        TopicArn=os.environ["CROWDED_TOPIC_ARN"],
        Message="crowded",
        MessageAttributes=event["crowded_attributes"],
    )
    put = events.put_events(
        Entries=[
            {
                "Source": os.environ["EVENT_SOURCE"],
                "DetailType": "OrderPlaced",
                "Detail": json.dumps({"order_id": event["order_id"]}),
            }
        ]
    )
    return {
        "single": single["MessageId"],
        "batch": [sent["MessageId"] for sent in batch],
        "notified": notified["MessageId"],
        "crowded": crowded["MessageId"],
        "failed_events": put["FailedEntryCount"],
    }
