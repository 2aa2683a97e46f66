"""Which AWS resource an SDK call touched (table, bucket and key, queue ...), as attributes.

The X-Ray console and service map show these names, and users filter on them. Which request
parameter or response field holds the name differs per service and sometimes per operation,
so that knowledge is data (`RESOURCES`), as New Relic keeps it, not code: supporting another
service is one more table entry. Reading it is a pure function of the call's parameters and
parsed response, so it is tested with plain dicts.

A path starts at ``params`` (the arguments the user passed) or ``response`` (botocore's parsed
result) and walks dict keys separated by dots, plus three steps for collections: ``[]`` every
item of a list, ``{}`` every value of a dict, ``{keys}`` the keys of a dict.
"""

from __future__ import annotations

from . import semconv as sc

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVERY_ITEM, EVERY_VALUE, EVERY_KEY = "[]", "{}", "{keys}"
ANY_OPERATION = "*"

# Attributes that hold every name found (a list, per OpenTelemetry); the others hold the first.
LIST_ATTRIBUTES = frozenset({sc.AWS_DYNAMODB_TABLE_NAMES})

_TABLE_NAMES = sc.AWS_DYNAMODB_TABLE_NAMES
_EVENT_BUS = sc.AWS_EVENTBRIDGE_BUS

# service id (botocore ``service_model.service_id``) -> operation or "*" -> (path, attribute).
# Rules of "*" apply to every operation of the service, before the operation's own rules;
# for a single-valued attribute the first rule that finds a string wins.
RESOURCES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "DynamoDB": {
        ANY_OPERATION: (("params.TableName", _TABLE_NAMES),),
        "BatchGetItem": (("params.RequestItems.{keys}", _TABLE_NAMES),),
        "BatchWriteItem": (("params.RequestItems.{keys}", _TABLE_NAMES),),
        "TransactGetItems": (("params.TransactItems.[].Get.TableName", _TABLE_NAMES),),
        "TransactWriteItems": (("params.TransactItems.[].{}.TableName", _TABLE_NAMES),),
    },
    "S3": {
        ANY_OPERATION: (("params.Bucket", sc.AWS_S3_BUCKET), ("params.Key", sc.AWS_S3_KEY)),
    },
    "SQS": {
        # CreateQueue and GetQueueUrl return the URL the user did not pass.
        ANY_OPERATION: (
            ("params.QueueUrl", sc.AWS_SQS_QUEUE_URL),
            ("response.QueueUrl", sc.AWS_SQS_QUEUE_URL),
        ),
    },
    "SNS": {
        # TargetArn: Publish to a topic or a mobile endpoint; CreateTopic returns the ARN.
        ANY_OPERATION: (
            ("params.TopicArn", sc.AWS_SNS_TOPIC_ARN),
            ("params.TargetArn", sc.AWS_SNS_TOPIC_ARN),
            ("response.TopicArn", sc.AWS_SNS_TOPIC_ARN),
        ),
    },
    "Lambda": {
        ANY_OPERATION: (
            ("params.FunctionName", sc.AWS_LAMBDA_FUNCTION_NAME),
            ("response.FunctionName", sc.AWS_LAMBDA_FUNCTION_NAME),
        ),
    },
    "Kinesis": {
        ANY_OPERATION: (("params.StreamName", sc.AWS_KINESIS_STREAM_NAME),),
    },
    "SFN": {
        ANY_OPERATION: (
            ("params.stateMachineArn", sc.AWS_SFN_STATE_MACHINE_ARN),
            ("response.stateMachineArn", sc.AWS_SFN_STATE_MACHINE_ARN),
        ),
    },
    "EventBridge": {
        ANY_OPERATION: (("params.EventBusName", _EVENT_BUS),),
        "PutEvents": (("params.Entries.[].EventBusName", _EVENT_BUS),),
        "CreateEventBus": (("params.Name", _EVENT_BUS),),
        "DescribeEventBus": (("params.Name", _EVENT_BUS),),
        "UpdateEventBus": (("params.Name", _EVENT_BUS),),
        "DeleteEventBus": (("params.Name", _EVENT_BUS),),
    },
    "Secrets Manager": {
        # The response's ARN first: SecretId may be a name, the attribute wants the ARN.
        ANY_OPERATION: (
            ("response.ARN", sc.AWS_SECRETSMANAGER_SECRET_ARN),
            ("params.SecretId", sc.AWS_SECRETSMANAGER_SECRET_ARN),
        ),
    },
}


def resource_attributes(
    service_id: str, operation: str, params: Any, response: Any
) -> dict[str, Any]:
    """The resource attributes of one call; ``response`` is None when the call failed.

    Never raises on odd input (parameters that botocore will reject, a missing response):
    what is not a dict, list or string where the table expects one is simply not found.
    """
    operations = RESOURCES.get(service_id)
    if not operations:
        return {}
    rules = operations.get(ANY_OPERATION, ()) + operations.get(operation, ())
    roots = {"params": params, "response": response}
    attributes: dict[str, Any] = {}
    for path, attribute in rules:
        names = _strings_at(roots, path)
        if not names:
            continue
        if attribute in LIST_ATTRIBUTES:
            known = attributes.setdefault(attribute, [])
            known.extend(name for name in dict.fromkeys(names) if name not in known)
        elif attribute not in attributes:
            attributes[attribute] = names[0]
    return attributes


def _strings_at(root: dict[str, Any], path: str) -> list[str]:
    """The non-empty strings found at ``path``, in document order."""
    nodes = [root]
    for step in path.split("."):
        nodes = [child for node in nodes for child in _step(node, step)]
        if not nodes:
            return []
    return [node for node in nodes if isinstance(node, str) and node]


def _step(node: Any, step: str) -> list[Any]:
    if step == EVERY_ITEM:
        return list(node) if isinstance(node, (list, tuple)) else []
    if not isinstance(node, dict):
        return []
    if step == EVERY_VALUE:
        return list(node.values())
    if step == EVERY_KEY:
        return list(node)
    return [node[step]] if step in node else []
