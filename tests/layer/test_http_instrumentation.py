"""Outgoing HTTP through requests, urllib3, http.client and urllib.request, against a loopback
server: one span per call, the attributes and flags X-Ray shows, the headers on the wire, and
the calls that must not be traced."""

from __future__ import annotations

import http.client
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
import requests
import urllib3
from http_fixtures import LAMBDA_PARENT, ROOT, TRACE_ID
from hypothesis import given
from hypothesis import strategies as st
from span_sink import CollectingSink
from xraylayer import config, context, semconv
from xraylayer.instrument import http_client as http_client_patch
from xraylayer.instrument import http_url, own_endpoints, patching
from xraylayer.instrument import requests as requests_patch
from xraylayer.instrument import urllib3 as urllib3_patch
from xraylayer.propagation import parse_traceparent
from xraylayer.spans import CLIENT, Span
from xraylayer.trace_header import parse

LINEAGE = "a87bd80c:1|68fd508a:5"
POOL = urllib3.PoolManager()


def call_requests(url: str, headers: dict[str, str] | None = None) -> int:
    return requests.get(url, headers=headers, timeout=5).status_code


def call_urllib3(url: str, headers: dict[str, str] | None = None) -> int:
    return POOL.request("GET", url, headers=headers, retries=False, timeout=5).status


def call_http_client(url: str, headers: dict[str, str] | None = None) -> int:
    parts = http_url.from_url(url, keep_query=True)
    connection = http.client.HTTPConnection(parts.host, parts.port, timeout=5)
    try:
        connection.request("GET", url.split(str(parts.port), 1)[1], headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def call_urllib_request(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


CALLERS: dict[str, Callable[..., int]] = {
    "requests": call_requests,
    "urllib3": call_urllib3,
    "http.client": call_http_client,
    "urllib.request": call_urllib_request,
}
callers = pytest.mark.parametrize("call", CALLERS.values(), ids=CALLERS.keys())


@pytest.fixture(autouse=True)
def _default_settings() -> Iterator[None]:
    yield
    config.reload()


def configure(**environment: str) -> None:
    """Read the layer's settings as if these variables were set (until the test ends)."""
    config.reload({**os.environ, **environment})


def only_client_span(sink: CollectingSink) -> Span:
    spans = [span for span in sink.spans if span.kind == CLIENT]
    assert len(spans) == 1, spans
    return spans[0]


# -- one span per call, with the attributes and flags X-Ray shows ------------------------------


@callers
def test_one_span_per_call_with_name_kind_namespace_and_attributes(call, server, sink, invocation):
    assert call(server.url + "/status/200?token=secret#frag") == 200

    span = only_client_span(sink)
    assert span.name == "127.0.0.1"
    assert (span.kind, span.namespace) == (CLIENT, "remote")
    assert (span.trace_id, span.parent_id, span.sampled) == (TRACE_ID, invocation.span_id, True)
    assert span.ended and span.end_time >= span.start_time
    assert span.attributes == {
        semconv.HTTP_REQUEST_METHOD: "GET",
        semconv.URL_FULL: f"{server.url}/status/200",
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: server.port,
        semconv.HTTP_RESPONSE_STATUS_CODE: 200,
    }
    assert not (span.error or span.throttle or span.fault)


@callers
@pytest.mark.parametrize(
    ("status", "flags"),
    [(404, (True, False, False)), (429, (True, True, False)), (503, (False, False, True))],
)
@pytest.mark.usefixtures("invocation")
def test_status_sets_error_throttle_fault(call, status, flags, server, sink):
    assert call(f"{server.url}/status/{status}") == status

    span = only_client_span(sink)
    assert (span.error, span.throttle, span.fault) == flags
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == status
    assert span.attributes[semconv.ERROR_TYPE] == str(status)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("call", "raised", "recorded"),
    [
        (call_requests, requests.exceptions.ConnectionError, "ConnectionError"),
        (call_urllib3, urllib3.exceptions.NewConnectionError, "NewConnectionError"),
        (call_http_client, ConnectionRefusedError, "ConnectionRefusedError"),
        (call_urllib_request, urllib.error.URLError, "ConnectionRefusedError"),
    ],
    ids=CALLERS.keys(),
)
def test_refused_connection_is_recorded_and_raised_unchanged(
    call, raised, recorded, sink, invocation
):
    port = closed_port()
    with pytest.raises(raised) as caught:
        call(f"http://127.0.0.1:{port}/x")

    span = only_client_span(sink)
    assert span.fault and not span.error
    assert [record["type"] for record in span.exceptions] == [recorded]
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in span.attributes
    assert span.attributes[semconv.ERROR_TYPE].endswith(recorded)
    if call is call_requests:  # requests' own exception, with urllib3's inside as always
        assert isinstance(caught.value.args[0], urllib3.exceptions.MaxRetryError)


def test_timeout_is_a_fault_and_reaches_the_caller(server, sink, invocation):
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(server.url + "/slow/500", timeout=0.05)

    span = only_client_span(sink)
    assert span.fault
    assert span.exceptions[0]["type"] == "ReadTimeout"


def test_requests_follows_a_redirect_in_one_span(server, sink, invocation):
    response = requests.get(server.url + "/redirect", timeout=5)

    assert [r.status_code for r in response.history] == [302]
    span = only_client_span(sink)
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200
    assert span.attributes[semconv.URL_FULL] == server.url + "/redirect"
    hops = server.requests[-2:]  # both hops carry this span as their parent
    assert [parse(hop.header("X-Amzn-Trace-Id")).parent for hop in hops] == [span.span_id] * 2


def test_requests_stream_ends_the_span_at_the_headers(server, sink, invocation):
    response = requests.get(server.url + "/status/200", stream=True, timeout=5)

    span = only_client_span(sink)
    assert span.ended and span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200
    assert response.content == b"status 200"


def test_urllib3_pool_retries_stay_in_one_span(server, sink, invocation):
    pool = urllib3.HTTPConnectionPool("127.0.0.1", server.port)
    retries = urllib3.Retry(
        total=2, status_forcelist=[503], backoff_factor=0, raise_on_status=False
    )
    before = len(server.requests)

    response = pool.request("GET", "/status/503", retries=retries)

    assert response.status == 503 and len(server.requests) - before == 3
    span = only_client_span(sink)
    assert span.fault


def test_http_client_response_never_read_ends_at_close(server, sink, invocation):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/status/200")
    assert sink.spans == []

    connection.close()

    span = only_client_span(sink)
    assert span.ended and semconv.HTTP_RESPONSE_STATUS_CODE not in span.attributes


def test_http_client_response_never_asked_for_ends_at_the_next_request(server, sink, invocation):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/status/200")
    connection.getresponse().read()  # the first is answered and read
    connection.putrequest("GET", "/status/201")
    connection.endheaders()  # ... the second is sent, its response never asked for
    with pytest.raises(http.client.CannotSendRequest):
        connection.request("GET", "/status/202")  # http.client's own refusal, unchanged
    connection.close()

    statuses = [span.attributes.get(semconv.HTTP_RESPONSE_STATUS_CODE) for span in sink.spans]
    assert statuses == [200, None, None]
    assert sink.spans[2].exceptions[0]["type"] == "CannotSendRequest"
    assert all(span.ended for span in sink.spans)


# -- headers on the wire -----------------------------------------------------------------------


@callers
def test_headers_carry_this_span_as_parent(call, server, sink, invocation):
    call(server.url + "/status/200")

    span, seen = only_client_span(sink), server.last()
    assert seen.header("X-Amzn-Trace-Id") == f"Root={ROOT};Parent={span.span_id};Sampled=1"
    assert seen.header("traceparent") == f"00-{TRACE_ID}-{span.span_id}-01"
    assert parse_traceparent(seen.header("traceparent")) == (TRACE_ID, span.span_id, True)


@callers
def test_lineage_from_lambda_header_is_forwarded(call, server, sink, invocation, monkeypatch):
    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID", f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=1;Lineage={LINEAGE}"
    )

    call(server.url + "/status/200")

    span = only_client_span(sink)
    expected = f"Root={ROOT};Parent={span.span_id};Sampled=1;Lineage={LINEAGE}"
    assert server.last().header("X-Amzn-Trace-Id") == expected


@callers
def test_user_set_trace_headers_are_kept(call, server, sink, invocation):
    mine = {
        "x-amzn-trace-id": "Root=1-00000000-000000000000000000000001;Sampled=1",
        "TraceParent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "X-Mine": "kept",
    }

    call(server.url + "/status/200", dict(mine))

    seen = server.last()
    assert seen.header("X-Amzn-Trace-Id") == mine["x-amzn-trace-id"]
    assert seen.header("traceparent") == mine["TraceParent"]
    assert seen.header("X-Mine") == "kept"
    assert len([name for name in seen.headers if name.lower() == "traceparent"]) == 1
    only_client_span(sink)  # traced all the same


@callers
def test_propagators_choose_the_headers(call, server, sink, invocation):
    for propagators, wanted in [("tracecontext", {"traceparent"}), ("none", set())]:
        configure(OTEL_PROPAGATORS=propagators)
        call(server.url + "/status/200")
        names = {name.lower() for name in server.last().headers}
        assert names & {"x-amzn-trace-id", "traceparent"} == wanted


def test_urllib3_leaves_the_users_headers_mapping_alone(server, sink, invocation):
    headers = {"X-Mine": "1"}
    POOL.request("GET", server.url + "/status/200", headers=headers)
    assert headers == {"X-Mine": "1"}
    assert server.last().header("traceparent")


def test_a_prepared_request_sent_twice_gets_this_send_as_parent(server, sink, invocation):
    session = requests.Session()
    prepared = session.prepare_request(requests.Request("GET", server.url + "/status/200"))

    session.send(prepared, timeout=5)
    session.send(prepared, timeout=5)

    first, second = sink.spans
    parents = [parse(r.header("X-Amzn-Trace-Id")).parent for r in server.requests[-2:]]
    assert parents == [first.span_id, second.span_id]


# -- URLs ------------------------------------------------------------------------------------


def test_query_string_is_recorded_only_when_configured(server, sink, invocation):
    configure(XRAYLAYER_CAPTURE_QUERY_STRING="true")
    requests.get(server.url + "/status/200?page=2#top", timeout=5)
    assert only_client_span(sink).attributes[semconv.URL_FULL] == server.url + "/status/200?page=2"


def test_credentials_in_the_url_are_never_recorded(server, sink, invocation):
    requests.get(f"http://user:hunter2@127.0.0.1:{server.port}/status/200", timeout=5)
    assert only_client_span(sink).attributes[semconv.URL_FULL] == server.url + "/status/200"
    assert server.last().header("Authorization")  # requests made it a header, as always


@given(
    st.sampled_from(["http", "https"]),
    st.text("abc:@%", max_size=12),
    st.text("/abcé?=&#", max_size=20),
    st.booleans(),
)
def test_recorded_url_has_no_userinfo_and_no_fragment(scheme, userinfo, path, keep_query):
    url = f"{scheme}://{userinfo}@example.com:8443/{path}"
    target = http_url.from_url(url, keep_query=keep_query)
    if target is None:
        return
    assert target.url.startswith(f"{scheme}://example.com:8443/")
    assert "#" not in target.url
    assert keep_query or "?" not in target.url
    assert (target.host, target.port) == ("example.com", 8443)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM/a?b#c", ("https", "example.com", 443, "https://example.com/a")),
        ("http://[::1]:8080/x", ("http", "::1", 8080, "http://[::1]:8080/x")),
        ("http://h:80/", ("http", "h", 80, "http://h/")),
        ("http+unix://%2Fsock/info", ("http+unix", "%2fsock", None, "http+unix://%2fsock/info")),
    ],
)
def test_targets(url, expected):
    assert tuple(http_url.from_url(url, keep_query=False)) == expected


def test_urls_without_a_host_or_with_a_bad_port_give_no_target():
    assert http_url.from_url("/just/a/path", keep_query=False) is None
    assert http_url.from_url("http://h:notaport/", keep_query=False) is None


# -- what is not traced ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "AWS_LAMBDA_RUNTIME_API=127.0.0.1:{port}",
        "AWS_XRAY_DAEMON_ADDRESS=tcp:127.0.0.1:{port} udp:127.0.0.1:2000",
        "XRAYLAYER_INTAKE={port}",
        "XRAYLAYER_INTAKE=localhost:{port}",
    ],
)
@callers
@pytest.mark.usefixtures("invocation")
def test_the_layers_own_endpoints_are_not_traced(call, setting, server, sink, monkeypatch):
    variable, _, value = setting.partition("=")
    monkeypatch.setenv(variable, value.format(port=server.port))

    call(server.url + "/2018-06-01/runtime/invocation/next")

    assert sink.spans == []
    names = {name.lower() for name in server.last().headers}
    assert not names & {"x-amzn-trace-id", "traceparent"}


@callers
def test_http_under_a_traced_aws_call_is_not_traced_again(call, server, sink, invocation):
    aws_span = Span("DynamoDB", TRACE_ID, invocation.span_id, kind=CLIENT)
    token = context.enter_client_call(aws_span)
    try:
        call(server.url + "/status/200")
    finally:
        context.exit_client_call(token)

    assert sink.spans == []
    assert server.last().header("traceparent") is None


@callers
def test_outside_any_span_and_trace_nothing_is_added(call, server, sink):
    assert call(server.url + "/status/200") == 200
    assert sink.spans == []
    names = {name.lower() for name in server.last().headers}
    assert not names & {"x-amzn-trace-id", "traceparent"}


@callers
def test_outside_any_span_lambdas_header_is_passed_on(call, server, sink, monkeypatch):
    header = f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=0;Lineage={LINEAGE}"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)

    call(server.url + "/status/200")

    assert sink.spans == []
    assert server.last().header("X-Amzn-Trace-Id") == header
    assert server.last().header("traceparent") == f"00-{TRACE_ID}-{LAMBDA_PARENT}-00"


def test_pure_skip_list_parsing():
    endpoints = own_endpoints.endpoints_named(
        [
            "127.0.0.1:9001",
            "tcp:169.254.79.129:2000 udp:169.254.79.129:2000",
            "4243",
            "/tmp/intake.sock",
            "unix:/tmp/x",
            None,
            "[::1]:77",
            "http://localhost:5/x",
            "junk",
        ]
    )
    assert endpoints == {
        ("127.0.0.1", 9001),
        ("169.254.79.129", 2000),
        ("127.0.0.1", 4243),
        ("127.0.0.1", 77),
        ("127.0.0.1", 5),
    }


# -- patching ----------------------------------------------------------------------------------


def test_patching_again_and_again_wraps_once(sink, server, invocation):
    originals = (
        requests.Session.send,
        urllib3.HTTPConnectionPool.urlopen,
        http.client.HTTPConnection.putrequest,
    )
    for _ in range(3):
        requests_patch.patch(requests)
        urllib3_patch.patch(urllib3)
        http_client_patch.patch(http.client)
    assert (
        requests.Session.send,
        urllib3.HTTPConnectionPool.urlopen,
        http.client.HTTPConnection.putrequest,
    ) == originals
    for method in originals:
        assert patching.is_patched(method)
        assert not patching.is_patched(method.__wrapped__)
    assert requests.Session.send.__name__ == "send" and requests.Session.send.__doc__

    requests.get(server.url + "/status/200", timeout=5)
    only_client_span(sink)


def test_a_failing_sink_never_reaches_the_caller(server, sink, invocation, capsys):
    class Broken:
        def emit(self, span: Span) -> None:
            raise RuntimeError("sink down")

    from xraylayer.tracer import TRACER

    TRACER.sink = Broken()
    assert requests.get(server.url + "/status/200", timeout=5).status_code == 200
    assert context.client_call() is None  # the mark is lifted all the same
