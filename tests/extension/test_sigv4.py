"""SigV4 signing: the same headers as botocore's own ``SigV4Auth``, for any request.

botocore is the reference (it signs every boto3 call AWS accepts); the hand-written signer must
give byte-for-byte the same ``Authorization``, ``X-Amz-Date`` and ``X-Amz-Security-Token``.
Two known answers from AWS's published SigV4 examples pin both down.
"""

from __future__ import annotations

import calendar
import datetime
import time
from unittest import mock
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from hypothesis import given, settings
from hypothesis import strategies as st
from xraylayer_extension import sigv4
from xraylayer_extension.sigv4 import Credentials

EXAMPLE_CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
EXAMPLE_TIME = calendar.timegm(time.strptime("20150830T123600Z", "%Y%m%dT%H%M%SZ"))


def botocore_headers(request: dict) -> dict[str, str]:
    """What botocore adds to the same request (``sign``'s arguments), signed at the same time."""
    credentials = request["credentials"]
    signed = AWSRequest(
        method=request["method"],
        url=request["url"],
        headers=request["headers"],
        data=request["body"],
    )
    signer = SigV4Auth(
        BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token),
        request["service"],
        request["region"],
    )
    at = datetime.datetime.fromtimestamp(request["now"], datetime.timezone.utc)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        signer.add_auth(signed)
    names = ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")
    return {name: signed.headers[name] for name in names if name in signed.headers}


# --- known answers -----------------------------------------------------------------------------


def test_the_get_vanilla_example_of_the_sigv4_test_suite() -> None:
    added = sigv4.sign(
        "GET",
        "https://example.amazonaws.com/",
        {},
        b"",
        region="us-east-1",
        service="service",
        credentials=EXAMPLE_CREDENTIALS,
        now=EXAMPLE_TIME,
    )
    assert added == {
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }


def test_the_iam_list_users_example_of_the_aws_documentation() -> None:
    added = sigv4.sign(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"",
        region="us-east-1",
        service="iam",
        credentials=EXAMPLE_CREDENTIALS,
        now=EXAMPLE_TIME,
    )
    assert added["Authorization"].endswith(
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def test_a_session_token_is_sent_and_signed() -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret", "the-token")
    added = sigv4.sign(
        "POST",
        "https://xray.eu-west-1.amazonaws.com/TraceSegments",
        {"Content-Type": "application/json"},
        b"{}",
        region="eu-west-1",
        service="xray",
        credentials=credentials,
        now=EXAMPLE_TIME,
    )
    assert added["X-Amz-Security-Token"] == "the-token"
    assert (
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"
        in (added["Authorization"])
    )


def test_the_signature_depends_on_every_signed_part() -> None:
    def authorization(**changes: object) -> str:
        request: dict = {
            "method": "POST",
            "url": "https://xray.us-east-1.amazonaws.com/TraceSegments",
            "headers": {"Content-Type": "application/json"},
            "body": b"{}",
            "region": "us-east-1",
            "service": "xray",
            "credentials": EXAMPLE_CREDENTIALS,
            "now": EXAMPLE_TIME,
            **changes,
        }
        method, url, headers, body = (request.pop(k) for k in ("method", "url", "headers", "body"))
        return sigv4.sign(method, url, headers, body, **request)["Authorization"]

    variants = [
        authorization(),
        authorization(method="PUT"),
        authorization(url="https://xray.us-east-1.amazonaws.com/TraceSegment"),
        authorization(url="https://xray.us-east-1.amazonaws.com/TraceSegments?a=1"),
        authorization(url="https://xray.us-east-1.amazonaws.com:8443/TraceSegments"),
        authorization(headers={"Content-Type": "text/plain"}),
        authorization(body=b"{ }"),
        authorization(region="us-east-2"),
        authorization(service="xray2"),
        authorization(credentials=Credentials("AKIDEXAMPLE", "other")),
        authorization(now=EXAMPLE_TIME + 1),
    ]
    assert len(set(variants)) == len(variants)


def test_headers_a_proxy_may_change_are_not_signed() -> None:
    def signed(headers: dict[str, str]) -> str:
        return sigv4.sign(
            "GET",
            "https://example.amazonaws.com/",
            headers,
            b"",
            region="us-east-1",
            service="service",
            credentials=EXAMPLE_CREDENTIALS,
            now=EXAMPLE_TIME,
        )["Authorization"]

    assert signed({"User-Agent": "a", "X-Amzn-Trace-Id": "Root=1", "Connection": "close"}) == (
        signed({})
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/a/./b/../c", "/a/c"),
        ("//a//b//", "/a/b/"),
        ("/..", "/"),
        ("/a/..", "/"),
        ("/a/b/.", "/a/b"),
        ("a/b", "a/b"),
    ],
)
def test_path_normalization(path: str, expected: str) -> None:
    assert sigv4.normalized_path(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1&a", "a=&a=1&a=2"),
        ("q=x y&p=é", "p=%C3%A9&q=x%20y"),  # raw text is encoded
        ("c=%2f&d=100%&e=%zz", "c=%2F&d=100%25&e=%25zz"),  # escapes kept, a lone % encoded
        ("k=a=b+c", "k=a%3Db%2Bc"),
    ],
)
def test_canonical_query(query: str, expected: str) -> None:
    assert sigv4.canonical_query(query) == expected


def test_credentials_from_the_environment() -> None:
    assert sigv4.environment_credentials({}) is None
    assert sigv4.environment_credentials({"AWS_ACCESS_KEY_ID": "AKID"}) is None
    assert sigv4.environment_credentials({"AWS_SECRET_ACCESS_KEY": "s"}) is None
    found = sigv4.environment_credentials(
        {"AWS_ACCESS_KEY_ID": " AKID ", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": ""}
    )
    assert found is not None
    assert (found.access_key, found.secret_key, found.token) == ("AKID", "s", None)
    assert "s3cr3t" not in repr(Credentials("AKID", "s3cr3t", "t"))


# --- against botocore --------------------------------------------------------------------------

_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,12}[a-zA-Z0-9])?", fullmatch=True)
_HOSTS = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["127.0.0.1", "[::1]", "[2001:db8::7]"]),
)
_SEGMENTS = st.one_of(
    st.sampled_from(["", ".", "..", "%41", "a%2Fb", "~user", "TraceSegments"]),
    st.text(st.characters(blacklist_characters="/?#", blacklist_categories=("Cs", "Cc"))),
)
_QUERY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_TOKEN = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}", fullmatch=True)
_HEADER_VALUE = st.from_regex(r"[ \t]*([\x21-\x7e]+[ \t]*){0,6}", fullmatch=True)
_COMMON_HEADERS = ["Host", "User-Agent", "Content-Type", "X-Amz-Target", "Connection"]
# Names with a meaning of their own to botocore (a Date replaces X-Amz-Date, a given payload
# hash replaces the hashed body) or set by the signer.
_RESERVED = {"date", "x-amz-content-sha256", *sigv4.SET_HEADERS}


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    netloc = draw(_HOSTS) + ("" if port is None else f":{port}")
    path = "/".join(draw(st.lists(_SEGMENTS, max_size=6)))
    pairs = draw(st.lists(st.tuples(_QUERY_TEXT, _QUERY_TEXT, st.booleans()), max_size=5))
    query = "&".join(
        quote(name, safe="-_.~") + (f"={quote(value, safe='-_.~')}" if with_value else "")
        for name, value, with_value in pairs
    )
    return f"{scheme}://{netloc}/{path}" + (f"?{query}" if query else "")


@st.composite
def header_sets(draw: st.DrawFn) -> dict[str, str]:
    names = draw(
        st.lists(
            st.one_of(_TOKEN, st.sampled_from(_COMMON_HEADERS)),
            max_size=6,
            unique_by=str.lower,
        )
    )
    return {name: draw(_HEADER_VALUE) for name in names if name.lower() not in _RESERVED}


@st.composite
def credentials(draw: st.DrawFn) -> Credentials:
    return Credentials(
        draw(st.from_regex(r"(AKIA|ASIA)[A-Z0-9]{16}", fullmatch=True)),
        draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)),
        draw(st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9+/=]{1,60}", fullmatch=True))),
    )


@st.composite
def requests(draw: st.DrawFn) -> dict:
    """``sign``'s arguments: any request, region, service, credentials and time."""
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "post"])),
        "url": draw(urls()),
        "headers": draw(header_sets()),
        "body": draw(st.binary(max_size=300)),
        "region": draw(st.from_regex(r"[a-z]{2}(-[a-z]+){1,2}-[0-9]", fullmatch=True)),
        "service": draw(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)),
        "credentials": draw(credentials()),
        "now": draw(st.integers(946684800_000000, 4102444800_000000)) / 1e6,  # 2000 to 2100
    }


@settings(max_examples=300, deadline=None)
@given(requests())
def test_the_same_headers_as_botocore(request: dict) -> None:
    options = {key: request[key] for key in ("region", "service", "credentials", "now")}
    ours = sigv4.sign(
        request["method"], request["url"], request["headers"], request["body"], **options
    )
    assert ours == botocore_headers(request)
