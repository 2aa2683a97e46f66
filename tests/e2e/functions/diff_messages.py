"""Sends to SQS or SNS what its event says and returns what boto3 returned, less what differs
from one send to the next by nature (message ids, FIFO sequence numbers, request metadata).

The event: ``{"service": "sqs" | "sns", "operation": boto3 method, "params": its keyword
arguments}``; a ``{"base64": ...}`` object in the params stands for bytes (a Binary attribute's
value), which JSON cannot carry. The AWS endpoint comes from the environment, as in Lambda.
"""

import base64

import boto3

CLIENTS = {"sqs": boto3.client("sqs"), "sns": boto3.client("sns")}
DIFFERENT_BY_NATURE = {"MessageId", "SequenceNumber", "ResponseMetadata"}


def _decoded(value):
    if isinstance(value, dict):
        if set(value) == {"base64"}:
            return base64.b64decode(value["base64"])
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def _comparable(value):
    if isinstance(value, dict):
        return {
            key: _comparable(item) for key, item in value.items() if key not in DIFFERENT_BY_NATURE
        }
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def handler(event, context):
    client = CLIENTS[event["service"]]
    answer = getattr(client, event["operation"])(**_decoded(event["params"]))
    return _comparable(answer)
