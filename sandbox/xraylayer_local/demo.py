"""The demo: the orders application (examples/orders) run with the built layer, end to end.

An API function takes API Gateway-shaped ``POST /orders`` requests: it stores the order in
DynamoDB, charges it at a payment service over HTTP on loopback and publishes it to an SNS topic.
The topic fans out to an SQS queue whose consumer, the receipts function, writes a receipt to S3.
Every AWS part is a moto server; both functions run from the layer zip in sandboxes with Active
tracing, and this module plays API Gateway (the client) and the SQS event source mapping (it
receives what moto delivered to the queue and invokes the consumer with Lambda-shaped events).

What the traces show is made by real behaviour, not by editing documents:

- the first request of each function is a cold start (on-demand init);
- large orders take the slow path: the API's ``screen-order`` custom subsegment sleeps;
- the payment service is a payment sandbox with test cards: one card makes it fail with a 500
  (a fault on its HTTP subsegment; the API answers 502, a fault on the invocation), another
  makes it answer 429 as when rate limited (a throttle on its HTTP subsegment; the API passes
  the 429 on, a throttle on the invocation). moto cannot throttle an AWS call, so the throttle
  is the payment service's.

Every document the sandboxes' X-Ray daemons received is kept, in arrival order.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .event_sources import sqs_event
from .moto_server import MotoServer
from .results import InvokeResult
from .sandbox import ACCOUNT_ID, Sandbox

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders"
API_NAME = "orders-api"
RECEIPTS_NAME = "orders-receipts"
TABLE = "orders"
BUCKET = "orders-receipts"
TOPIC = "orders-paid"
QUEUE = "orders-receipts"
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}
DEFAULT_REQUESTS = 12

# The payment service's test cards, as payment providers' sandboxes have them.
CARD_APPROVED = "4242424242424242"
CARD_PROCESSING_ERROR = "4000000000000119"  # answered with a 500
CARD_RATE_LIMITED = "4000000000000429"  # answered with a 429 and Retry-After
PAYMENT_LATENCY_S = 0.015  # what a charge takes at the payment service

# Which requests take which path: request i (from 0) fails when i % FAULT_EVERY ==
# FAULT_AT, is throttled when i % THROTTLE_EVERY == THROTTLE_AT, is a large (slow) order when
# i % LARGE_EVERY == LARGE_AT. Request 0 is the cold start and goes through normally.
FAULT_EVERY, FAULT_AT = 6, 3
THROTTLE_EVERY, THROTTLE_AT = 6, 5
LARGE_EVERY, LARGE_AT = 4, 2
SMALL_ITEMS = (
    {"name": "green tea", "price": 3.5, "quantity": 2},
    {"name": "lemon cake", "price": 4.25},
)
LARGE_ITEMS = (
    {"name": "espresso machine", "price": 449.0},
    {"name": "coffee beans 1 kg", "price": 18.9, "quantity": 2},
)

RECEIVE_TIMEOUT_S = 5.0
Log = Callable[[str, str], None]


@dataclass
class Request:
    """One request to the API and what came of it (and of its receipt)."""

    number: int  # from 1
    order: dict[str, Any]
    path: str  # ok | slow | fault | throttle: what the plan meant it to do
    result: InvokeResult
    receipt: InvokeResult | None = None  # the consumer invoke that took its message

    @property
    def status_code(self) -> int | None:
        response = self.result.response if self.result.status == "success" else None
        return response.get("statusCode") if isinstance(response, dict) else None


@dataclass
class DemoRun:
    """What one run produced: the requests, the consumer invokes, every trace document."""

    requests: list[Request]
    receipts: list[InvokeResult]
    documents: list[dict[str, Any]]
    charges: dict[str, int] = field(default_factory=dict)  # payment outcomes by status


def plan(count: int) -> list[tuple[str, dict[str, Any]]]:
    """The orders of ``count`` requests, each with the path it is meant to take."""
    orders = []
    for index in range(count):
        path, card = "ok", CARD_APPROVED
        if index % FAULT_EVERY == FAULT_AT:
            path, card = "fault", CARD_PROCESSING_ERROR
        elif index % THROTTLE_EVERY == THROTTLE_AT:
            path, card = "throttle", CARD_RATE_LIMITED
        large = index % LARGE_EVERY == LARGE_AT
        if large and path == "ok":
            path = "slow"
        items = LARGE_ITEMS if large else SMALL_ITEMS
        orders.append((path, {"items": [dict(item) for item in items], "card": card}))
    return orders


def api_gateway_event(order: dict[str, Any]) -> dict[str, Any]:
    """``POST /orders`` as an API Gateway REST API hands it to a Lambda proxy integration."""
    body = json.dumps(order)
    now = time.time()
    return {
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": "POST",
        "headers": {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Host": "demo0api1.execute-api.us-east-1.amazonaws.com",
            "User-Agent": "xraylayer-demo",
        },
        "multiValueHeaders": {
            "Accept": ["application/json"],
            "Content-Type": ["application/json"],
        },
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "resourceId": "ord3rs",
            "stage": "demo",
            "domainName": "demo0api1.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "demo0api1",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "xraylayer-demo"},
            "resourcePath": "/orders",
            "httpMethod": "POST",
            "path": "/demo/orders",
            "protocol": "HTTP/1.1",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "apiId": "demo0api1",
        },
        "body": body,
        "isBase64Encoded": False,
    }


# --- the payment service ------------------------------------------------------------------------


class _Payments(BaseHTTPRequestHandler):
    """``POST /charges``: approves, fails or rate-limits by test card."""

    server: _PaymentServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            charge = json.loads(self.rfile.read(length))
            card = str(charge["card"])
        except (ValueError, KeyError, TypeError):
            self._answer(400, {"error": "invalid_request"})
            return
        time.sleep(PAYMENT_LATENCY_S)
        if card == CARD_RATE_LIMITED:
            self._answer(429, {"error": "rate_limited"}, {"Retry-After": "1"})
        elif card == CARD_PROCESSING_ERROR:
            self._answer(500, {"error": "processing_error"})
        else:
            self._answer(201, {"id": "ch_" + uuid.uuid4().hex[:12], "status": "succeeded"})

    def _answer(self, status: int, body: dict[str, Any], headers: dict | None = None) -> None:
        self.server.count(status)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _PaymentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Payments)
        self.answers: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def count(self, status: int) -> None:
        with self._lock:
            self.answers[str(status)] = self.answers.get(str(status), 0) + 1


@contextmanager
def payment_service() -> Iterator[_PaymentServer]:
    """The payment service on a free loopback port until the block ends; its charges URL is
    ``http://127.0.0.1:PORT/charges``."""
    server = _PaymentServer()
    thread = threading.Thread(target=server.serve_forever, name="payments", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# --- the AWS side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """The application's resources on moto."""

    region: str
    topic_arn: str
    queue_url: str
    queue_arn: str


def create_world(moto: MotoServer) -> World:
    """Table, bucket, topic and queue, the queue subscribed to the topic (raw delivery off, so
    each message body is the SNS notification envelope, as by default)."""
    moto.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    moto.client("s3").create_bucket(Bucket=BUCKET)
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return World(moto.region, topic_arn, queue_url, queue_arn)


def receive(sqs: Any, queue_url: str, expected: int) -> list[dict[str, Any]]:
    """What the queue holds, as an event source mapping receives it (every attribute, the
    ``AWSTraceHeader`` system attribute among them); waits up to RECEIVE_TIMEOUT_S for
    ``expected`` messages."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + RECEIVE_TIMEOUT_S
    while True:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0 if len(messages) >= expected else 1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received = answer.get("Messages", [])
        messages.extend(received)
        if (len(messages) >= expected and not received) or time.monotonic() > deadline:
            return messages


# --- the run ------------------------------------------------------------------------------------


def run(
    layers: Sequence[str | Path],
    *,
    requests: int = DEFAULT_REQUESTS,
    python: str | None = None,
    freeze: bool = True,
    env: dict[str, str] | None = None,
    log_sink: Log | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoRun:
    """Run the demo: ``requests`` API requests, each followed by the consumer invoke that takes
    what moto delivered to the queue; returns every trace document the daemons received."""
    say = progress or (lambda line: None)
    with MotoServer() as moto, payment_service() as payments, ExitStack() as sandboxes:
        say(f"moto server on {moto.endpoint_url}, payment service on port {payments.port}")
        world = create_world(moto)
        common = {**moto.env(), **WRAPPER, **(env or {})}
        options: dict[str, Any] = {
            "handler": "app.handler",
            "layers": layers,
            "python": python,
            "tracing": "Active",
            "freeze": freeze,
            "region": moto.region,
            "timeout_s": 10.0,
            "log_sink": log_sink,
        }
        api = sandboxes.enter_context(
            Sandbox(
                EXAMPLE / "api",
                function_name=API_NAME,
                env={
                    **common,
                    "ORDERS_TABLE": TABLE,
                    "ORDERS_TOPIC_ARN": world.topic_arn,
                    "PAYMENT_URL": f"http://127.0.0.1:{payments.port}/charges",
                },
                **options,
            )
        )
        receipts = sandboxes.enter_context(
            Sandbox(
                EXAMPLE / "receipts",
                function_name=RECEIPTS_NAME,
                env={**common, "RECEIPTS_BUCKET": BUCKET},
                **options,
            )
        )
        done, consumed = _drive(
            api, receipts, sqs=moto.client("sqs"), world=world, count=requests, say=say
        )
        sandboxes.close()  # shut both down: the extensions export what they still hold
        documents = api.daemon.documents + receipts.daemon.documents
        return DemoRun(done, consumed, documents, dict(payments.answers))


def _drive(
    api: Sandbox,
    receipts: Sandbox,
    *,
    sqs: Any,
    world: World,
    count: int,
    say: Callable[[str], None],
) -> tuple[list[Request], list[InvokeResult]]:
    done: list[Request] = []
    consumed: list[InvokeResult] = []
    for number, (path, order) in enumerate(plan(count), start=1):
        request = Request(number, order, path, api.invoke(api_gateway_event(order)))
        done.append(request)
        say(describe(request))
        messages = receive(sqs, world.queue_url, 1 if request.status_code == 201 else 0)
        if not messages:
            continue
        result = receipts.invoke(sqs_event(messages, world.queue_arn, world.region))
        consumed.append(result)
        request.receipt = result
        if result.status == "success":  # the event source mapping deletes a processed batch
            sqs.delete_message_batch(
                QueueUrl=world.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(messages)
                ],
            )
        say("      " + _describe_receipt(result, len(messages)))
    return done, consumed


def describe(request: Request) -> str:
    """One line per request: number, path, status code, cold or warm, latency."""
    result = request.result
    start = "cold" if result.cold else "warm"
    status = request.status_code if request.status_code is not None else result.status
    init = f" (init {result.init_duration_ms:.0f} ms)" if result.init_duration_ms else ""
    return (
        f"  POST /orders #{request.number:<3} {request.path:<8} -> {status} "
        f"{start} {result.duration_ms:7.1f} ms{init}"
    )


def _describe_receipt(result: InvokeResult, messages: int) -> str:
    start = "cold" if result.cold else "warm"
    init = f" (init {result.init_duration_ms:.0f} ms)" if result.init_duration_ms else ""
    return (
        f"receipts: {messages} message(s) -> {result.status} "
        f"{start} {result.duration_ms:.1f} ms{init}"
    )


def save(documents: Sequence[dict[str, Any]], path: Path) -> Path:
    """The documents as JSON lines (one X-Ray document per line), as the file exporter writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for document in documents:
            out.write(json.dumps(document, separators=(",", ":")) + "\n")
    return path
