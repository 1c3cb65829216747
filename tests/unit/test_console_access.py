"""Who may use the console and the CSRF check of its forms: pure, table-driven."""

from __future__ import annotations

import pytest

from pachstream.console import csrf_ok, csrf_token, safe_next, same_origin, token_ok
from pachstream.errors import ConfigError
from pachstream.settings import Settings, check_console_address

SECRET = b"k" * 32


def test_a_token_is_bound_to_its_nonce_and_secret():
    token = csrf_token(SECRET, "nonce-1")
    assert csrf_ok(SECRET, "nonce-1", token)
    assert not csrf_ok(SECRET, "nonce-2", token)  # another browser's cookie
    assert not csrf_ok(b"x" * 32, "nonce-1", token)  # another console process
    assert not csrf_ok(SECRET, "nonce-1", token[:-1] + "0")
    assert not csrf_ok(SECRET, "nonce-1", None)
    assert not csrf_ok(SECRET, None, token)
    assert not csrf_ok(SECRET, "", "")


ORIGINS = [
    (None, "127.0.0.1:1700", True),  # curl, scripts: the token still decides
    ("http://127.0.0.1:1700", "127.0.0.1:1700", True),
    ("http://LOCALHOST:1700", "localhost:1700", True),
    ("http://evil.example", "127.0.0.1:1700", False),
    ("http://127.0.0.1:1701", "127.0.0.1:1700", False),
    ("null", "127.0.0.1:1700", False),
    ("http://127.0.0.1:1700", None, False),
]


@pytest.mark.parametrize(("origin", "host", "ok"), ORIGINS)
def test_same_origin(origin, host, ok):
    assert same_origin(origin, host) is ok


TOKENS = [
    (None, None, None, True),  # loopback console: no token configured
    ("s3cret", None, None, False),
    ("s3cret", "Bearer s3cret", None, True),
    ("s3cret", "bearer s3cret", None, True),
    ("s3cret", "Bearer wrong", None, False),
    ("s3cret", "Basic s3cret", None, False),
    ("s3cret", None, "s3cret", True),
    ("s3cret", None, "s3cre", False),
    ("s3cret", "Bearer wrong", "s3cret", True),
]


@pytest.mark.parametrize(("expected", "header", "cookie", "ok"), TOKENS)
def test_token(expected, header, cookie, ok):
    assert token_ok(expected, header, cookie) is ok


@pytest.mark.parametrize(
    ("target", "where"),
    [
        (None, "/"),
        ("/job/abc?x=1", "/job/abc?x=1"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("job", "/"),
    ],
)
def test_login_only_redirects_inside_the_console(target, where):
    assert safe_next(target) == where


ADDRESSES = [
    ("127.0.0.1:1700", None, ("127.0.0.1", 1700)),
    ("localhost:0", None, ("localhost", 0)),
    ("[::1]:1700", None, ("::1", 1700)),
    ("0.0.0.0:1700", "tok", ("0.0.0.0", 1700)),
    ("console.internal:80", "tok", ("console.internal", 80)),
]


@pytest.mark.parametrize(("address", "token", "parsed"), ADDRESSES)
def test_console_addresses_accepted(address, token, parsed):
    assert check_console_address(address, token) == parsed


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("0.0.0.0:1700", "PACHSTREAM_CONSOLE_TOKEN"),
        ("10.1.2.3:1700", "not a loopback"),
        ("console.internal:80", "PACHSTREAM_CONSOLE_TOKEN"),
        ("1700", "host:port"),
        ("127.0.0.1:http", "host:port"),
    ],
)
def test_console_addresses_refused(address, word):
    with pytest.raises(ConfigError) as exc:
        check_console_address(address, None)
    assert word in exc.value.message and "PACHSTREAM_CONSOLE_ADDRESS" in exc.value.message


def test_settings_refuse_an_exposed_console_without_a_token(tmp_path):
    env = {"PACHSTREAM_HOME": str(tmp_path), "PACHSTREAM_CONSOLE_ADDRESS": "0.0.0.0:1700"}
    with pytest.raises(ConfigError, match="PACHSTREAM_CONSOLE_TOKEN"):
        Settings.from_env(env)
    s = Settings.from_env({**env, "PACHSTREAM_CONSOLE_TOKEN": "tok"})
    assert (s.console_address, s.console_token) == ("0.0.0.0:1700", "tok")
    # Child processes (`pachstream up` starts the console) see the same address and token.
    assert s.child_env()["PACHSTREAM_CONSOLE_ADDRESS"] == "0.0.0.0:1700"
    assert s.child_env()["PACHSTREAM_CONSOLE_TOKEN"] == "tok"


def test_the_console_itself_refuses_an_exposed_address_without_a_token(tmp_path):
    from pachstream.console import Console

    s = Settings.from_env({"PACHSTREAM_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="PACHSTREAM_CONSOLE_TOKEN"):
        Console(s, host="0.0.0.0", port=0)
    Console(s, host="127.0.0.1", port=0)  # loopback: fine
