"""The one ``host:port`` parser behind every ``PACHSTREAM_*_ADDRESS``, and its users."""

from __future__ import annotations

import pytest

from pachstream.errors import ConfigError
from pachstream.metrics import MetricsServer
from pachstream.settings import (
    Settings,
    check_console_address,
    join_host_port,
    parse_host_port,
)

GOOD = [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("localhost:65535", ("localhost", 65535)),
    ("http://localhost:80", ("localhost", 80)),
    ("console.internal:1700", ("console.internal", 1700)),
    ("[::1]:9464", ("::1", 9464)),
    ("[2001:db8::7]:1", ("2001:db8::7", 1)),
]


@pytest.mark.parametrize(("address", "expected"), GOOD)
def test_good_addresses(address: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(address, "PACHSTREAM_X_ADDRESS", "127.0.0.1:1") == expected


@pytest.mark.parametrize(("address", "expected"), GOOD)
def test_joining_gives_back_an_address_that_parses_the_same(
    address: str, expected: tuple[str, int]
) -> None:
    again = join_host_port(*expected)
    assert parse_host_port(again, "PACHSTREAM_X_ADDRESS", "127.0.0.1:1") == expected


BAD = [
    ("9464", ""),  # no host
    (":9464", ""),
    ("", ""),
    ("host:", ""),
    ("host:port", ""),
    ("host:-1", ""),
    ("host:65536", ""),
    ("host:99999999999999999999", ""),
    ("host:²", ""),  # str.isdigit() says yes, int() says no
    ("::1:9464", "brackets"),  # IPv6 without brackets reads two ways
    ("2001:db8::7:80", "brackets"),
    ("[::1:9464", "brackets"),
    ("[not-v6]:80", ""),
    ("[127.0.0.1]:80", ""),
    ("a b:80", ""),
    (" 127.0.0.1:80", ""),  # kept as given, so a space would reach every user of it
    ("127.0.0.1:80 ", ""),
    ("user@host:80", ""),
    ("https://host:80", ""),  # a scheme other than the http:// we tolerate
]


@pytest.mark.parametrize(("address", "hint"), BAD)
def test_bad_addresses_name_the_variable_the_value_and_an_example(address: str, hint: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_host_port(address, "PACHSTREAM_X_ADDRESS", "127.0.0.1:4242")
    message = exc.value.message
    assert f"PACHSTREAM_X_ADDRESS={address!r} is invalid" in message
    assert "host:port" in message and "0 to 65535" in message
    assert message.endswith("e.g. 127.0.0.1:4242")
    assert hint in message
    assert (exc.value.variable, exc.value.value) == ("PACHSTREAM_X_ADDRESS", address)


@pytest.mark.parametrize(
    ("variable", "example"),
    [
        ("PACHSTREAM_METRICS_ADDRESS", "127.0.0.1:9464"),
        ("PACHSTREAM_CONSOLE_ADDRESS", "127.0.0.1:1700"),
        ("PACHSTREAM_GATEWAY_ADDRESS", "127.0.0.1:1600"),
    ],
)
def test_settings_read_every_address_with_it(variable: str, example: str) -> None:
    env = {"PACHSTREAM_HOME": "/nonexistent", variable: "[::1]:70000"}
    with pytest.raises(ConfigError) as exc:
        Settings.from_env(env, stack_file=False)
    assert exc.value.message == (
        f"{variable}='[::1]:70000' is invalid; give host:port with a port from 0 to 65535 "
        f"(0: any free port), e.g. {example}"
    )
    ok = Settings.from_env({**env, variable: "[::1]:0"}, stack_file=False)
    assert "[::1]:0" in (ok.metrics_address, ok.console_address, ok.gateway_address)


def test_the_console_and_the_metrics_server_use_it() -> None:
    with pytest.raises(ConfigError, match="PACHSTREAM_CONSOLE_ADDRESS='::1:1700'.*brackets"):
        check_console_address("::1:1700", None)
    assert check_console_address("[::1]:1700", None) == ("::1", 1700)
    with pytest.raises(ConfigError, match="PACHSTREAM_METRICS_ADDRESS='host:65536'"):
        MetricsServer("host:65536")
    assert MetricsServer("[::1]:9464").url == "http://[::1]:9464/metrics"
