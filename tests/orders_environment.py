"""The orders function's world, shared by the suites that run it (tests/e2e/functions/orders_app):
a DynamoDB table and an S3 bucket of prices on moto, and a payment service on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from xraylayer_local.moto_server import MotoServer

ORDER = {"order_id": "o-7", "items": ["tea", "cake"]}
PRICES = {"tea": 3, "cake": 4}


class _Payments(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "approved"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def orders_environment(moto: MotoServer, table: str, bucket: str) -> Iterator[dict[str, str]]:
    """The function's environment variables, with ``table`` and ``bucket`` made on ``moto``
    and the payment service running until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Payments)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    moto.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="prices.json", Body=json.dumps(PRICES))
    try:
        yield {
            **moto.env(),
            "ORDERS_TABLE": table,
            "PRICES_BUCKET": bucket,
            "PAYMENT_URL": f"http://127.0.0.1:{server.server_address[1]}/pay",
        }
    finally:
        server.shutdown()
