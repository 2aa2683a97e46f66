"""The resource names an AWS SDK span carries: read from the call's parameters and response."""

from __future__ import annotations

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st
from xraylayer import semconv
from xraylayer.aws_resources import (
    ANY_OPERATION,
    EVERY_ITEM,
    EVERY_KEY,
    EVERY_VALUE,
    LIST_ATTRIBUTES,
    RESOURCES,
    resource_attributes,
)

TABLES = semconv.AWS_DYNAMODB_TABLE_NAMES
TOPIC = "arn:aws:sns:us-east-1:123456789012:orders"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:flow"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"

CASES = [
    # (service id, operation, params, response, expected attributes)
    ("DynamoDB", "GetItem", {"TableName": "t", "Key": {}}, {"Item": {}}, {TABLES: ["t"]}),
    ("DynamoDB", "PutItem", {"TableName": "t"}, None, {TABLES: ["t"]}),
    (
        "DynamoDB",
        "BatchGetItem",
        {"RequestItems": {"a": {"Keys": []}, "b": {"Keys": []}}},
        None,
        {TABLES: ["a", "b"]},
    ),
    (
        "DynamoDB",
        "BatchWriteItem",
        {"RequestItems": {"a": [{"PutRequest": {}}], "b": []}},
        {"UnprocessedItems": {}},
        {TABLES: ["a", "b"]},
    ),
    (
        "DynamoDB",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "a", "Item": {}}},
                {"Update": {"TableName": "b", "Key": {}}},
                {"Delete": {"TableName": "a", "Key": {}}},
                {"ConditionCheck": {"TableName": "c", "Key": {}}},
            ]
        },
        None,
        {TABLES: ["a", "b", "c"]},
    ),
    (
        "DynamoDB",
        "TransactGetItems",
        {"TransactItems": [{"Get": {"TableName": "a"}}, {"Get": {"TableName": "b"}}]},
        None,
        {TABLES: ["a", "b"]},
    ),
    ("DynamoDB", "ListTables", {}, {"TableNames": ["a", "b"]}, {}),
    (
        "S3",
        "GetObject",
        {"Bucket": "b", "Key": "k/1.json"},
        None,
        {semconv.AWS_S3_BUCKET: "b", semconv.AWS_S3_KEY: "k/1.json"},
    ),
    ("S3", "ListObjectsV2", {"Bucket": "b"}, {}, {semconv.AWS_S3_BUCKET: "b"}),
    ("S3", "ListBuckets", {}, {"Buckets": []}, {}),
    (
        "SQS",
        "SendMessage",
        {"QueueUrl": QUEUE, "MessageBody": "x"},
        {},
        {"aws.sqs.queue_url": QUEUE},
    ),
    (
        "SQS",
        "CreateQueue",
        {"QueueName": "orders"},
        {"QueueUrl": QUEUE},
        {"aws.sqs.queue_url": QUEUE},
    ),
    ("SQS", "GetQueueUrl", {"QueueName": "orders"}, None, {}),
    ("SNS", "Publish", {"TopicArn": TOPIC, "Message": "x"}, {}, {semconv.AWS_SNS_TOPIC_ARN: TOPIC}),
    (
        "SNS",
        "Publish",
        {"TargetArn": TOPIC, "Message": "x"},
        {},
        {semconv.AWS_SNS_TOPIC_ARN: TOPIC},
    ),
    ("SNS", "Publish", {"PhoneNumber": "+15555550100", "Message": "x"}, {}, {}),
    (
        "SNS",
        "CreateTopic",
        {"Name": "orders"},
        {"TopicArn": TOPIC},
        {semconv.AWS_SNS_TOPIC_ARN: TOPIC},
    ),
    (
        "Lambda",
        "Invoke",
        {"FunctionName": "worker", "Payload": b"{}"},
        {"StatusCode": 200},
        {semconv.AWS_LAMBDA_FUNCTION_NAME: "worker"},
    ),
    (
        "Kinesis",
        "PutRecord",
        {"StreamName": "clicks", "Data": b"x", "PartitionKey": "p"},
        {},
        {semconv.AWS_KINESIS_STREAM_NAME: "clicks"},
    ),
    (
        "SFN",
        "StartExecution",
        {"stateMachineArn": MACHINE, "input": "{}"},
        {"executionArn": MACHINE + ":run"},
        {semconv.AWS_SFN_STATE_MACHINE_ARN: MACHINE},
    ),
    (
        "SFN",
        "CreateStateMachine",
        {"name": "flow", "definition": "{}", "roleArn": "r"},
        {"stateMachineArn": MACHINE},
        {semconv.AWS_SFN_STATE_MACHINE_ARN: MACHINE},
    ),
    (
        "EventBridge",
        "PutEvents",
        {"Entries": [{"Detail": "{}"}, {"EventBusName": "orders"}, {"EventBusName": "audit"}]},
        {},
        {semconv.AWS_EVENTBRIDGE_BUS: "orders"},
    ),
    ("EventBridge", "PutEvents", {"Entries": [{"Detail": "{}"}]}, {}, {}),
    (
        "EventBridge",
        "PutRule",
        {"Name": "nightly", "EventBusName": "orders"},
        {},
        {semconv.AWS_EVENTBRIDGE_BUS: "orders"},
    ),
    ("EventBridge", "PutRule", {"Name": "nightly"}, {}, {}),
    (
        "EventBridge",
        "CreateEventBus",
        {"Name": "orders"},
        {},
        {semconv.AWS_EVENTBRIDGE_BUS: "orders"},
    ),
    (
        "Secrets Manager",
        "GetSecretValue",
        {"SecretId": "db"},
        {"ARN": SECRET, "SecretString": "s"},
        {semconv.AWS_SECRETSMANAGER_SECRET_ARN: SECRET},
    ),
    (
        "Secrets Manager",
        "GetSecretValue",
        {"SecretId": "db"},
        None,
        {semconv.AWS_SECRETSMANAGER_SECRET_ARN: "db"},
    ),
    ("CloudWatch", "PutMetricData", {"Namespace": "n"}, {}, {}),
]


@pytest.mark.parametrize(("service", "operation", "params", "response", "expected"), CASES)
def test_resource_attributes(service, operation, params, response, expected):
    assert resource_attributes(service, operation, params, response) == expected


def test_a_request_parameter_wins_over_the_response():
    other = QUEUE + "-other"
    attributes = resource_attributes("SQS", "GetQueueUrl", {"QueueUrl": QUEUE}, {"QueueUrl": other})
    assert attributes == {semconv.AWS_SQS_QUEUE_URL: QUEUE}


def test_table_names_are_a_fresh_list_each_call():
    first = resource_attributes("DynamoDB", "GetItem", {"TableName": "t"}, None)
    first[TABLES].append("mutated")
    assert resource_attributes("DynamoDB", "GetItem", {"TableName": "t"}, None) == {TABLES: ["t"]}


@pytest.mark.parametrize(
    "params",
    [
        None,
        "TableName",
        [],
        {"TableName": None},
        {"TableName": ""},
        {"TableName": 42},
        {"RequestItems": ["a", "b"]},
        {"TransactItems": {"Put": {"TableName": "a"}}},
        {"TransactItems": [None, "x", {"Put": None}]},
    ],
)
def test_malformed_parameters_are_not_found_rather_than_raising(params):
    for operation in ("GetItem", "BatchGetItem", "TransactWriteItems"):
        assert resource_attributes("DynamoDB", operation, params, None) == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
# The keys the table looks for, so generated documents hit real paths often.
table_keys = st.sampled_from(
    sorted(
        {
            step
            for ops in RESOURCES.values()
            for rules in ops.values()
            for path, _ in rules
            for step in path.split(".")[1:]
            if step not in (EVERY_ITEM, EVERY_VALUE, EVERY_KEY)
        }
    )
)
documents = st.recursive(
    json_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(table_keys, inner, max_size=3),
    max_leaves=12,
)


@given(
    st.sampled_from(sorted(RESOURCES)),
    st.sampled_from([*sorted({op for ops in RESOURCES.values() for op in ops}), "Other"]),
    documents,
    documents,
)
def test_any_document_gives_string_attributes_and_never_raises(
    service, operation, params, response
):
    attributes = resource_attributes(service, operation, params, response)
    for name, value in attributes.items():
        if name in LIST_ATTRIBUTES:
            assert value and all(isinstance(item, str) and item for item in value)
            assert len(set(value)) == len(value)
        else:
            assert isinstance(value, str) and value


# --- the table itself matches semconv and botocore's service models ------------------------

SEMCONV_NAMES = {value for key, value in vars(semconv).items() if key.isupper()}
BOTOCORE_SERVICES = {
    "DynamoDB": "dynamodb",
    "S3": "s3",
    "SQS": "sqs",
    "SNS": "sns",
    "Lambda": "lambda",
    "Kinesis": "kinesis",
    "SFN": "stepfunctions",
    "EventBridge": "events",
    "Secrets Manager": "secretsmanager",
}
RULES = [
    (service, operation, path, attribute)
    for service, operations in RESOURCES.items()
    for operation, rules in operations.items()
    for path, attribute in rules
]


def test_every_attribute_is_a_semconv_name():
    assert {attribute for *_, attribute in RULES} <= SEMCONV_NAMES
    assert LIST_ATTRIBUTES <= SEMCONV_NAMES


def test_the_table_covers_the_services_x_ray_shows():
    assert set(BOTOCORE_SERVICES) == set(RESOURCES)


@pytest.fixture(scope="module")
def service_models():
    session = botocore.session.get_session()
    return {sid: session.get_service_model(name) for sid, name in BOTOCORE_SERVICES.items()}


@pytest.mark.parametrize(("service", "operation", "path", "attribute"), RULES)
def test_every_path_exists_in_botocores_model(service_models, service, operation, path, attribute):
    model = service_models[service]
    assert str(model.service_id) == service
    root, *steps = path.split(".")
    assert root in ("params", "response")
    names = model.operation_names if operation == ANY_OPERATION else [operation]
    shapes = []
    for name in names:
        op = model.operation_model(name)
        shapes.append(op.input_shape if root == "params" else op.output_shape)
    assert any(_has_string_at(shape, steps) for shape in shapes if shape is not None)


def _has_string_at(shape, steps) -> bool:
    if not steps:
        return shape.type_name == "string"
    step, rest = steps[0], steps[1:]
    if step == EVERY_ITEM:
        return shape.type_name == "list" and _has_string_at(shape.member, rest)
    if step == EVERY_KEY:
        return shape.type_name == "map" and _has_string_at(shape.key, rest)
    if step == EVERY_VALUE:
        if shape.type_name == "map":
            return _has_string_at(shape.value, rest)
        members = shape.members.values() if shape.type_name == "structure" else ()
        return any(_has_string_at(member, rest) for member in members)
    return (
        shape.type_name == "structure"
        and step in shape.members
        and _has_string_at(shape.members[step], rest)
    )
