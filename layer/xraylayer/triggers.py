"""What invoked the function, told by the shape of its event: a table read top to bottom.

Each row names the trigger type (`xraylayer.trigger_type`), OpenTelemetry's `faas.trigger`
and the conditions the event meets; the first row whose conditions all hold wins. The order
matters where shapes overlap: an HTTP API payload 1.0 carries a REST API's fields plus
`version`, and a function URL event is an HTTP API 2.0 event whose domain is `*.lambda-url.*`.
`direct` has no condition, so every event gets a trigger.
"""

from __future__ import annotations

# How a condition tests the value at its path (a missing path holds no value).
PRESENT = "present"  # there is a value (null counts)
ABSENT = "absent"  # there is none
EQUALS = "equals"  # the value equals the operand
CONTAINS = "contains"  # the value is a string containing the operand
LACKS = "lacks"  # the value is not a string containing the operand

_MISSING = object()

# (trigger type, faas.trigger, ((path, test, operand), ...)); a path is a tuple of keys and
# list indexes into the event.
TRIGGERS: tuple[tuple[str, str, tuple[tuple[tuple[str | int, ...], str, str | None], ...]], ...] = (
    (
        "api-gateway-rest",
        "http",
        (
            (("httpMethod",), PRESENT, None),
            (("requestContext", "apiId"), PRESENT, None),
            (("version",), ABSENT, None),
        ),
    ),
    (
        "api-gateway-http",
        "http",
        (
            (("version",), PRESENT, None),
            (("requestContext", "apiId"), PRESENT, None),
            (("requestContext", "domainName"), LACKS, ".lambda-url."),
        ),
    ),
    ("alb", "http", ((("requestContext", "elb", "targetGroupArn"), PRESENT, None),)),
    (
        "function-url",
        "http",
        (
            (("requestContext", "http", "method"), PRESENT, None),
            (("requestContext", "domainName"), CONTAINS, ".lambda-url."),
        ),
    ),
    ("sqs", "pubsub", ((("Records", 0, "eventSource"), EQUALS, "aws:sqs"),)),
    ("sns", "pubsub", ((("Records", 0, "EventSource"), EQUALS, "aws:sns"),)),
    (
        "schedule",
        "timer",
        (
            (("source",), EQUALS, "aws.events"),
            (("detail-type",), EQUALS, "Scheduled Event"),
        ),
    ),
    (
        "eventbridge",
        "pubsub",
        (
            (("detail-type",), PRESENT, None),
            (("source",), PRESENT, None),
            (("detail",), PRESENT, None),
        ),
    ),
    ("s3", "datasource", ((("Records", 0, "eventSource"), EQUALS, "aws:s3"),)),
    ("dynamodb-stream", "datasource", ((("Records", 0, "eventSource"), EQUALS, "aws:dynamodb"),)),
    ("kinesis", "pubsub", ((("Records", 0, "eventSource"), EQUALS, "aws:kinesis"),)),
    (
        # A state machine's task passes its context object ($$) to the function.
        "step-functions",
        "other",
        (
            (("Execution", "Id"), PRESENT, None),
            (("StateMachine", "Id"), PRESENT, None),
            (("State", "Name"), PRESENT, None),
        ),
    ),
    ("direct", "other", ()),
)

# Trigger types whose response is an HTTP response with a `statusCode`.
HTTP_TRIGGERS = frozenset(row[0] for row in TRIGGERS if row[1] == "http")
# Trigger types that hand the function a batch of messages -> OpenTelemetry's messaging.system.
MESSAGING_SYSTEMS = {"sqs": "aws_sqs", "sns": "aws.sns"}


def detect(event: object) -> tuple[str, str]:
    """(trigger type, faas.trigger) of the first row of TRIGGERS the event matches."""
    for trigger_type, faas_trigger, conditions in TRIGGERS:
        if all(_holds(_lookup(event, path), test, operand) for path, test, operand in conditions):
            return trigger_type, faas_trigger
    return "direct", "other"  # unreachable while the table ends with `direct`


def _lookup(event: object, path: tuple[str | int, ...]) -> object:
    node = event
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                return _MISSING
            node = node[key]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return _MISSING
    return node


def _holds(value: object, test: str, operand: str | None) -> bool:
    if test == PRESENT:
        return value is not _MISSING
    if test == ABSENT:
        return value is _MISSING
    if test == EQUALS:
        return value == operand
    contains = isinstance(value, str) and operand is not None and operand in value
    return contains if test == CONTAINS else not contains
