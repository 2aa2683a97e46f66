"""The current span reaches executor workers, threads started in a span, and asyncio tasks, so
spans made there (and HTTP calls made there) have the right parent."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading

import pytest
import requests
from s3transfer.futures import BoundedExecutor
from xraylayer import context
from xraylayer.instrument import patching, threads
from xraylayer.spans import CLIENT
from xraylayer.tracer import TRACER

USER_VARIABLE: contextvars.ContextVar[str] = contextvars.ContextVar(
    "user_variable", default="unset"
)


def make_span(name: str) -> str | None:
    """A span made where this runs; returns its parent id (None if nothing was current)."""
    with TRACER.span(name) as span:
        return span.parent_id


def test_executor_workers_see_the_submitters_span(sink, invocation):
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        submitted = [pool.submit(make_span, f"work-{n}") for n in range(8)]
        mapped = list(pool.map(make_span, ["mapped-1", "mapped-2"]))

    assert [future.result() for future in submitted] == [invocation.span_id] * 8
    assert mapped == [invocation.span_id] * 2


def test_a_worker_reused_later_sees_the_new_submitters_span(sink):
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        with TRACER.span("first") as first:
            assert pool.submit(make_span, "a").result() == first.span_id
        assert pool.submit(context.current_span).result() is None  # nothing stale is left
        with TRACER.span("second") as second:
            assert pool.submit(make_span, "b").result() == second.span_id


def test_workers_run_in_a_copy_nothing_leaks_back(sink, invocation):
    USER_VARIABLE.set("submitter")

    def change() -> str:
        seen = USER_VARIABLE.get()
        USER_VARIABLE.set("worker")
        return seen

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(change).result() == "submitter"
    assert USER_VARIABLE.get() == "submitter"


def test_exceptions_and_results_of_workers_are_unchanged(sink, invocation):
    def fail() -> None:
        raise KeyError("missing")

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(divmod, 7, 2).result() == (3, 1)
        with pytest.raises(KeyError, match="missing"):
            pool.submit(fail).result()


def test_s3transfer_executor_threads_see_the_span(sink, invocation):
    class Task:
        """What s3transfer submits: a callable with a transfer id."""

        transfer_id = 1

        def __call__(self, ctx: object = None) -> str | None:
            return make_span("UploadPart")

    executor = BoundedExecutor(max_size=4, max_num_threads=2)
    try:
        futures = [executor.submit(Task()) for _ in range(4)]
        assert [future.result() for future in futures] == [invocation.span_id] * 4
    finally:
        executor.shutdown()


def test_http_calls_in_workers_are_children_of_the_submitters_span(server, sink, invocation):
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        list(
            pool.map(lambda n: requests.get(f"{server.url}/status/200?n={n}", timeout=5), range(3))
        )

    http_spans = [span for span in sink.spans if span.kind == CLIENT]
    assert len(http_spans) == 3
    assert {span.parent_id for span in http_spans} == {invocation.span_id}


def test_a_thread_started_in_a_span_sees_it(sink, invocation):
    parents: list[str | None] = []
    worker = threading.Thread(target=lambda: parents.append(make_span("in-thread")))
    worker.start()
    worker.join()
    assert parents == [invocation.span_id]


def test_a_thread_subclass_overriding_run_sees_the_span(sink, invocation):
    class Worker(threading.Thread):
        parent: str | None = "not run"

        def run(self) -> None:
            self.parent = make_span("in-subclass")

    worker = Worker()
    worker.start()
    worker.join()
    assert worker.parent == invocation.span_id


def test_a_thread_started_outside_any_span_stays_as_it_was(sink):
    ready, go = threading.Event(), threading.Event()
    seen: list[object] = []

    def background() -> None:
        ready.set()
        go.wait(5)
        seen.append(context.current_span())

    worker = threading.Thread(target=background)
    worker.start()
    ready.wait(5)
    with TRACER.span("later invocation"):
        go.set()
        worker.join()
    assert seen == [None]
    assert "run" not in worker.__dict__


def test_asyncio_tasks_see_the_span_without_any_patch(sink, invocation):
    async def main() -> list[str | None]:
        async def task(name: str) -> str | None:
            await asyncio.sleep(0)
            return make_span(name)

        return await asyncio.gather(*(task(f"task-{n}") for n in range(3)))

    assert asyncio.run(main()) == [invocation.span_id] * 3


def test_asyncio_executor_calls_see_the_span(sink, invocation):
    async def main() -> list[str | None]:
        loop = asyncio.get_running_loop()
        in_executor = await loop.run_in_executor(None, make_span, "run_in_executor")
        to_thread = await asyncio.to_thread(make_span, "to_thread")
        return [in_executor, to_thread]

    assert asyncio.run(main()) == [invocation.span_id] * 2


def test_patching_is_idempotent():
    submit, start = concurrent.futures.ThreadPoolExecutor.submit, threading.Thread.start
    for _ in range(3):
        threads.patch_executors()
    assert concurrent.futures.ThreadPoolExecutor.submit is submit
    assert threading.Thread.start is start
    assert patching.is_patched(submit) and not patching.is_patched(submit.__wrapped__)


@pytest.mark.slow
def test_boto3_s3_transfer_callbacks_run_with_the_span(sink, invocation):
    """boto3's upload_file runs its parts in s3transfer's worker threads; the progress callback
    runs there too and sees the invocation span (moto in server mode stands in for S3)."""
    boto3 = pytest.importorskip("boto3")
    from boto3.s3.transfer import TransferConfig
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="bucket")
        seen: set[tuple[str, tuple[str | None, str] | None]] = set()

        def progress(_: int) -> None:
            span = context.current_span()
            # The invocation span, or the S3 call's span under it when botocore is patched too.
            seen.add((threading.current_thread().name, span and (span.parent_id, span.span_id)))

        config = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
        s3.upload_fileobj(_Blob(11 * 2**20), "bucket", "key", Config=config, Callback=progress)
    finally:
        moto.stop()

    worker_threads = {name for name, _ in seen if name != threading.current_thread().name}
    assert worker_threads, seen
    assert all(invocation.span_id in ids for _, ids in seen if ids), seen
    assert all(ids for _, ids in seen), seen


class _Blob:
    """A readable file of ``size`` zero bytes."""

    def __init__(self, size: int) -> None:
        self._left = size

    def read(self, amount: int = -1) -> bytes:
        amount = self._left if amount < 0 else min(amount, self._left)
        self._left -= amount
        return bytes(amount)
