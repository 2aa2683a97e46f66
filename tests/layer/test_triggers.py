"""triggers: the trigger of each kind of event, from events shaped as Lambda delivers them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from xraylayer import triggers

EVENTS = Path(__file__).parent / "events"

# event fixture -> (xraylayer.trigger_type, faas.trigger)
EXPECTED = {
    "api_gateway_rest": ("api-gateway-rest", "http"),
    "api_gateway_rest_trace_headers": ("api-gateway-rest", "http"),
    "api_gateway_http_v1": ("api-gateway-http", "http"),
    "api_gateway_http_v2": ("api-gateway-http", "http"),
    "api_gateway_http_v2_trace_headers": ("api-gateway-http", "http"),
    "alb": ("alb", "http"),
    "alb_multi_value_headers": ("alb", "http"),
    "function_url": ("function-url", "http"),
    "sqs": ("sqs", "pubsub"),
    "sqs_api_casing": ("sqs", "pubsub"),
    "sqs_batch": ("sqs", "pubsub"),
    "sqs_fifo": ("sqs", "pubsub"),
    "sqs_sns_envelope": ("sqs", "pubsub"),  # SNS to SQS without raw delivery: SQS invoked
    "sqs_sns_raw": ("sqs", "pubsub"),
    "sns": ("sns", "pubsub"),
    "sns_trace_attribute": ("sns", "pubsub"),
    "schedule": ("schedule", "timer"),
    "eventbridge": ("eventbridge", "pubsub"),
    "s3": ("s3", "datasource"),
    "dynamodb_stream": ("dynamodb-stream", "datasource"),
    "kinesis": ("kinesis", "pubsub"),
    "step_functions": ("step-functions", "other"),
    "websocket": ("direct", "other"),  # not in the table yet
}


def load(name: str) -> object:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_event_gets_its_trigger(name: str) -> None:
    assert triggers.detect(load(name)) == EXPECTED[name]


def test_every_fixture_is_checked() -> None:
    assert sorted(path.stem for path in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize(
    "event",
    [None, {}, [], "text", 42, {"order_id": "o-1"}, {"Records": []}, {"Records": "x"}],
)
def test_anything_else_is_a_direct_invocation(event: object) -> None:
    assert triggers.detect(event) == ("direct", "other")


def test_an_http_api_on_a_custom_domain_is_no_function_url() -> None:
    event = load("api_gateway_http_v2")
    assert event["requestContext"]["domainName"] == "orders.example.com"
    assert triggers.detect(event)[0] == "api-gateway-http"


def test_the_table_is_read_in_the_documented_order() -> None:
    assert [row[0] for row in triggers.TRIGGERS] == [
        "api-gateway-rest",
        "api-gateway-http",
        "alb",
        "function-url",
        "sqs",
        "sns",
        "schedule",
        "eventbridge",
        "s3",
        "dynamodb-stream",
        "kinesis",
        "step-functions",
        "direct",
    ]
    assert triggers.TRIGGERS[-1][2] == ()  # direct: always matches


def test_every_row_uses_known_tests_and_faas_triggers() -> None:
    tests = {triggers.PRESENT, triggers.ABSENT, triggers.EQUALS, triggers.CONTAINS, triggers.LACKS}
    for _, faas_trigger, conditions in triggers.TRIGGERS:
        assert faas_trigger in {"http", "pubsub", "datasource", "timer", "other"}
        for path, test, _ in conditions:
            assert test in tests and path


def test_http_triggers_are_those_with_an_http_response() -> None:
    assert {"api-gateway-rest", "api-gateway-http", "alb", "function-url"} == triggers.HTTP_TRIGGERS


def test_message_triggers_name_their_messaging_system_as_opentelemetry_does() -> None:
    assert triggers.MESSAGING_SYSTEMS == {"sqs": "aws_sqs", "sns": "aws.sns"}
    assert set(triggers.MESSAGING_SYSTEMS) <= {row[0] for row in triggers.TRIGGERS}
