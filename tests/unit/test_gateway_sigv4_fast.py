"""The SigV4 verifier's fast paths answer exactly as the slow ones they stand in for: the
X-Amz-Date parse (a regex for the usual 16 characters, ``strptime`` for anything else), the
signing key (derived once per secret, day and region) and the payload-hash check."""

from __future__ import annotations

import datetime
import hashlib
import hmac

import pytest

from pachstream.gateway import _sigv4
from pachstream.gateway._errors import S3Error
from pachstream.sigv4 import signing_key

DATES = [
    "20261201T075127Z",
    "19991231T235959Z",
    "20240229T000000Z",  # a leap day
    # What strptime also takes (and so did the gateway): still taken, with its meaning.
    "2026121T1234Z",
    "202612 1T075127Z",
    "20261201t075127z",
    "\uff120261201T075127Z",  # a full-width digit
    # Refused either way.
    "20261301T075127Z",
    "20261201T075160Z",
    "20230229T000000Z",
    "20261201T0751Z",
    "",
    "20261201T075127",
]


def _reference(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


@pytest.mark.parametrize("value", DATES)
def test_amz_date_parse_matches_strptime(value: str) -> None:
    expected = _reference(value)
    if expected is None:
        with pytest.raises(S3Error) as err:
            _sigv4._parse_amz_date(value, "AccessDenied", "the X-Amz-Date header", "/b/k")
        assert err.value.s3_code == "AccessDenied"
        assert repr(value) in err.value.message
    else:
        got = _sigv4._parse_amz_date(value, "AccessDenied", "the X-Amz-Date header", "/b/k")
        assert got == expected
        assert got.tzinfo is datetime.UTC


def _derived(secret: str, date: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@pytest.mark.parametrize(
    ("secret", "date", "region"),
    [
        ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1"),
        ("bench", "20261201", "us-east-1"),
        ("bench", "20261202", "us-east-1"),
        ("bench", "20261201", "eu-west-1"),
    ],
)
def test_signing_key_is_the_derivation_cached_per_day_and_region(
    secret: str, date: str, region: str
) -> None:
    assert signing_key(secret, date, region) == _derived(secret, date, region)
    assert signing_key(secret, date, region) == _derived(secret, date, region)


def test_signing_keys_of_other_days_regions_and_secrets_differ() -> None:
    keys = {
        signing_key(s, d, r)
        for s in ("a", "b")
        for d in ("20261201", "20261202")
        for r in ("us-east-1", "eu-west-1")
    }
    assert len(keys) == 8


@pytest.mark.parametrize(
    ("value", "hexadecimal"),
    [
        (hashlib.sha256(b"x").hexdigest(), True),
        (hashlib.sha256(b"x").hexdigest().upper(), True),
        (hashlib.sha256(b"x").hexdigest()[:63], False),
        (hashlib.sha256(b"x").hexdigest() + "0", False),
        (hashlib.sha256(b"x").hexdigest()[:63] + "g", False),
        (hashlib.sha256(b"x").hexdigest() + "\n", False),
        ("UNSIGNED-PAYLOAD", False),
        ("", False),
    ],
)
def test_payload_hash_shape(value: str, hexadecimal: bool) -> None:
    assert _sigv4._is_sha256_hex(value) is hexadecimal
