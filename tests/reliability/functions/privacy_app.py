"""A function that handles secrets the way real ones do: an HTTP call with a query string and
credentials in its headers, and an SQS message with a body and an attribute value. The test
that runs it checks none of them reaches a trace."""

import os
import urllib.request

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    request = urllib.request.Request(
        os.environ["SECRET_URL"] + "?token=QUERYSECRET123&user=QUERYUSER456",
        headers={
            "Authorization": "Bearer HEADERSECRET789",
            "X-Api-Key": "APIKEYSECRET012",
            "Cookie": "session=COOKIESECRET345",
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = response.read().decode()
    sqs.send_message(
        QueueUrl=os.environ["QUEUE_URL"],
        MessageBody="BODYSECRET678 card=4111111111111111",
        MessageAttributes={
            "password": {"DataType": "String", "StringValue": "ATTRSECRET901"},
        },
    )
    return {"ok": True, "answer_length": len(answer)}
