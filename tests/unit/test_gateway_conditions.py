"""Conditional requests (RFC 9110 §13.2.2 as S3 applies it) and the CORS policy."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from multidict import CIMultiDict

from pachstream.errors import ConfigError
from pachstream.gateway import S3Error
from pachstream.gateway._conditions import (
    DeleteCondition,
    check_copy_source,
    check_delete,
    check_read,
    check_write,
    delete_condition,
    delete_condition_of,
    evaluate,
)
from pachstream.gateway._cors import CorsPolicy

ETAG = "ab12"
T = 1_700_000_000.4  # Last-Modified; the header shows 1_700_000_000
BEFORE, SAME, AFTER = (formatdate(t, usegmt=True) for t in (T - 10, T, T + 10))


@pytest.mark.parametrize(
    ("headers", "want"),
    [
        ({}, "ok"),
        ({"If-Match": '"ab12"'}, "ok"),
        ({"If-Match": "ab12"}, "ok"),  # bare, as some clients send it
        ({"If-Match": '"zz", "ab12"'}, "ok"),
        ({"If-Match": "*"}, "ok"),
        ({"If-Match": '"zz"'}, "failed"),
        ({"If-Unmodified-Since": SAME}, "ok"),
        ({"If-Unmodified-Since": BEFORE}, "failed"),
        ({"If-Unmodified-Since": "not a date"}, "ok"),  # ignored
        # If-Match holds: If-Unmodified-Since is not looked at (S3's documented pair).
        ({"If-Match": '"ab12"', "If-Unmodified-Since": BEFORE}, "ok"),
        ({"If-None-Match": '"ab12"'}, "not-modified"),
        ({"If-None-Match": 'W/"ab12"'}, "not-modified"),
        ({"If-None-Match": "*"}, "not-modified"),
        ({"If-None-Match": '"zz"'}, "ok"),
        ({"If-Modified-Since": SAME}, "not-modified"),
        ({"If-Modified-Since": AFTER}, "not-modified"),
        ({"If-Modified-Since": BEFORE}, "ok"),
        # If-None-Match fails to match: If-Modified-Since is not looked at.
        ({"If-None-Match": '"zz"', "If-Modified-Since": AFTER}, "ok"),
        # If-None-Match matches and If-Modified-Since says modified: 304 (S3's pair).
        ({"If-None-Match": '"ab12"', "If-Modified-Since": BEFORE}, "not-modified"),
        # 412 wins over 304.
        ({"If-Match": '"zz"', "If-None-Match": '"ab12"'}, "failed"),
    ],
)
def test_read_preconditions(headers: dict[str, str], want: str) -> None:
    assert evaluate(CIMultiDict(headers), ETAG, T) == want


def test_read_answers() -> None:
    assert check_read(CIMultiDict(), ETAG, T, "/b/k") is True
    assert check_read(CIMultiDict({"If-None-Match": '"ab12"'}), ETAG, T, "/b/k") is False
    with pytest.raises(S3Error) as caught:
        check_read(CIMultiDict({"If-Match": '"zz"'}), ETAG, T, "/b/k")
    assert caught.value.s3_code == "PreconditionFailed" and caught.value.status == 412


@pytest.mark.parametrize(
    ("headers", "fails"),
    [
        ({"x-amz-copy-source-if-match": '"ab12"'}, False),
        ({"x-amz-copy-source-if-match": '"zz"'}, True),
        ({"x-amz-copy-source-if-none-match": '"ab12"'}, True),  # 412, never 304
        ({"x-amz-copy-source-if-modified-since": AFTER}, True),
        ({"x-amz-copy-source-if-unmodified-since": BEFORE}, True),
        (
            {
                "x-amz-copy-source-if-match": '"ab12"',
                "x-amz-copy-source-if-unmodified-since": BEFORE,
            },
            False,
        ),
        ({"If-Match": '"zz"'}, False),  # the destination's header, not the source's
    ],
)
def test_copy_source_preconditions(headers: dict[str, str], fails: bool) -> None:
    if fails:
        with pytest.raises(S3Error) as caught:
            check_copy_source(CIMultiDict(headers), ETAG, T, "/b/k")
        assert caught.value.s3_code == "PreconditionFailed"
    else:
        check_copy_source(CIMultiDict(headers), ETAG, T, "/b/k")


@pytest.mark.parametrize(
    ("headers", "current", "code"),
    [
        ({"If-None-Match": "*"}, None, None),
        ({"If-None-Match": "*"}, ETAG, "PreconditionFailed"),
        # If-None-Match with ETags (RGW, RFC 9110): refused only when one of them matches.
        ({"If-None-Match": '"ab12"'}, None, None),
        ({"If-None-Match": '"zz"'}, ETAG, None),
        ({"If-None-Match": '"zz", "ab12"'}, ETAG, "PreconditionFailed"),
        ({"If-Match": "*"}, ETAG, None),
        ({"If-Match": "*"}, None, "NoSuchKey"),
        ({"If-Match": '"ab12"'}, ETAG, None),
        ({"If-Match": '"zz"'}, ETAG, "PreconditionFailed"),
        ({"If-Match": '"ab12"'}, None, "NoSuchKey"),
        ({}, ETAG, None),
    ],
)
def test_write_preconditions(
    headers: dict[str, str], current: str | None, code: str | None
) -> None:
    if code is None:
        check_write(CIMultiDict(headers), current, "/b/k")
        return
    with pytest.raises(S3Error) as caught:
        check_write(CIMultiDict(headers), current, "/b/k")
    assert caught.value.s3_code == code
    assert "/b/k" in caught.value.message


# ----------------------------------------------------------------------------- CORS


def test_cors_default_follows_signatures() -> None:
    assert CorsPolicy.default(signed=True).origins == ("*",)
    assert CorsPolicy.default(signed=False).origins == ()


def test_cors_preflight_allowed() -> None:
    policy = CorsPolicy.parse("https://app.example, https://other.example/")
    got = policy.preflight(
        CIMultiDict(
            {
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "Content-Type, x-amz-date, Authorization",
            }
        ),
        "/master.raw/k",
    )
    assert got["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PUT" in got["Access-Control-Allow-Methods"]
    assert got["Access-Control-Allow-Headers"] == "content-type, x-amz-date, authorization"
    assert "ETag" in got["Access-Control-Expose-Headers"]
    assert policy.actual(CIMultiDict({"Origin": "https://other.example"}), "GET")[
        "Access-Control-Allow-Origin"
    ] == ("https://other.example")


@pytest.mark.parametrize(
    ("policy", "headers", "code", "says"),
    [
        (
            CorsPolicy.parse("https://app.example"),
            {"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
            "AccessForbidden",
            "https://evil.example",
        ),
        (
            CorsPolicy.default(signed=False),
            {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
            "AccessForbidden",
            "PACHSTREAM_GATEWAY_CORS_ORIGINS",
        ),
        (
            CorsPolicy.parse("*"),
            {"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH"},
            "AccessForbidden",
            "PATCH",
        ),
        (CorsPolicy.parse("*"), {}, "InvalidRequest", "preflight"),
    ],
)
def test_cors_preflight_refused(policy, headers, code: str, says: str) -> None:
    with pytest.raises(S3Error) as caught:
        policy.preflight(CIMultiDict(headers), "/b")
    assert caught.value.s3_code == code and says in caught.value.message


def test_cors_actual_headers_only_for_allowed_origins() -> None:
    policy = CorsPolicy.parse("https://app.example")
    assert policy.actual(CIMultiDict({"Origin": "https://evil.example"}), "GET") == {}
    assert policy.actual(CIMultiDict(), "GET") == {}
    assert CorsPolicy.parse("*").actual(CIMultiDict({"Origin": "https://x.example"}), "PUT")[
        "Access-Control-Allow-Origin"
    ] == ("*")


def test_cors_bad_origin_setting() -> None:
    said = "PACHSTREAM_GATEWAY_CORS_ORIGINS: origin 'app.example' is not scheme://host"
    with pytest.raises(ConfigError, match=said):
        CorsPolicy.parse("app.example")


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("*", ("*",)),
        ("https://a.example, https://b.example/", ("https://a.example", "https://b.example")),
        ("", ()),
    ],
)
def test_cors_origins_setting(tmp_path, value, origins) -> None:
    from pachstream.settings import Settings

    env = {"PACHSTREAM_HOME": str(tmp_path), "PACHSTREAM_GATEWAY_CORS_ORIGINS": value}
    settings = Settings.from_env(env, stack_file=False)
    assert settings.gateway_cors_origins == origins
    assert Settings.from_env(settings.child_env(), stack_file=False).gateway_cors_origins == origins


def test_a_bad_cors_origins_setting_fails_at_once(tmp_path) -> None:
    from pachstream.settings import Settings

    env = {"PACHSTREAM_HOME": str(tmp_path), "PACHSTREAM_GATEWAY_CORS_ORIGINS": "app.example"}
    with pytest.raises(ConfigError, match="PACHSTREAM_GATEWAY_CORS_ORIGINS"):
        Settings.from_env(env, stack_file=False)


# ----------------------------------------------------------------------------- conditional deletes

_T = 1_700_000_000.4  # the object's Last-Modified
_CURRENT = ("abc", 5, _T)


@pytest.mark.parametrize(
    ("etag", "size", "when", "current", "code"),
    [
        ('"abc"', None, None, _CURRENT, None),
        ("*", None, None, _CURRENT, None),
        ('W/"abc"', "5", None, _CURRENT, None),
        (None, "5", formatdate(_T, usegmt=True), _CURRENT, None),
        (None, None, "2023-11-14T22:13:20Z", _CURRENT, None),
        (None, None, "2023-11-14T22:13:20.000Z", _CURRENT, None),
        ('"other"', None, None, _CURRENT, "PreconditionFailed"),
        ('"abc"', "4", None, _CURRENT, "PreconditionFailed"),
        (None, None, "Mon, 01 Jan 2001 00:00:00 GMT", _CURRENT, "PreconditionFailed"),
        ('"abc"', None, None, None, "NoSuchKey"),
        (None, "5", None, None, "NoSuchKey"),
    ],
)
def test_check_delete(etag, size, when, current, code) -> None:
    condition = delete_condition(etag, size, when)
    assert condition is not None
    if code is None:
        check_delete(condition, current, "/b/k")
        return
    with pytest.raises(S3Error) as caught:
        check_delete(condition, current, "/b/k")
    assert caught.value.s3_code == code


def test_delete_condition_absent_or_malformed() -> None:
    assert delete_condition_of(CIMultiDict()) is None
    assert delete_condition_of(CIMultiDict({"If-Match": '"a"'})) == DeleteCondition(etag='"a"')
    for headers in (
        {"x-amz-if-match-size": "-1"},
        {"x-amz-if-match-size": "five"},
        {"x-amz-if-match-last-modified-time": "yesterday"},
    ):
        with pytest.raises(S3Error) as caught:
            delete_condition_of(CIMultiDict(headers))
        assert caught.value.s3_code == "InvalidArgument"
        assert next(iter(headers)) in caught.value.message
