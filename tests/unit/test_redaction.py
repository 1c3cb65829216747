"""The pure security rules: what :func:`redact` masks (and leaves alone), the settings' reprs
and secrets, dead-letter reasons, log lines, and where an unsigned gateway may listen."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

import orjson
import pytest

from pachstream.config import parse_notify_config
from pachstream.errors import ConfigError
from pachstream.kafka import Record, dead_letter_value
from pachstream.security import (
    REDACTED,
    RedactingFormatter,
    check_gateway_bind,
    is_loopback,
    redact,
)
from pachstream.settings import Settings
from pachstream.stack._secrets import write_private

MASKED = [
    # (text, what it must become)
    (
        "postgresql://postgres:0f3a9c@127.0.0.1:5432/postgres",
        "postgresql://postgres:***@127.0.0.1:5432/postgres",
    ),
    ("https://user:pa%40ss@marquez:5000/api", "https://user:***@marquez:5000/api"),
    (
        "ObjectStoreSettings(endpoint='http://h:1', secret_key='s k', region='r')",
        "ObjectStoreSettings(endpoint='http://h:1', secret_key='***', region='r')",
    ),
    ('{"s3_secret_key": "pachstream", "x": 1}', '{"s3_secret_key": "***", "x": 1}'),
    ('{"r":"{\\"secret_key\\":\\"zz\\"}"}', '{"r":"{\\"secret_key\\":\\"***\\"}"}'),
    ("PACHSTREAM_GATEWAY_SECRET_KEY=abc def", "PACHSTREAM_GATEWAY_SECRET_KEY=*** def"),
    ("topic=t,repo=r,secret_key=S1,access_key=A", "topic=t,repo=r,secret_key=***,access_key=A"),
    ("host=h password=xyz user=u", "host=h password=*** user=u"),
    ("?X-Amz-Security-Token=tok&X-Amz-Date=1", "?X-Amz-Security-Token=***&X-Amz-Date=1"),
    ("PASSWORD: 'unterminated", "PASSWORD: '***'"),
]  # fmt: skip

KEPT = [
    "http://127.0.0.1:8333/bucket/key",
    "tansu      127.0.0.1:4567                                       pid 12",
    "set both PACHSTREAM_GATEWAY_ACCESS_KEY and PACHSTREAM_GATEWAY_SECRET_KEY (or neither)",
    "access key 'gwtest' is not configured on this gateway",
    "console_token=None",
    "Credential=AKID/20250101/us-east-1/s3/aws4_request",
]


@pytest.mark.parametrize(("text", "want"), MASKED)
def test_redact_masks_every_form_of_secret(text: str, want: str) -> None:
    assert redact(text) == want
    assert redact(want) == want  # idempotent


@pytest.mark.parametrize("text", KEPT)
def test_redact_leaves_other_text_alone(text: str) -> None:
    assert redact(text) == text


def test_known_values_are_masked_anywhere_but_short_ones_are_not() -> None:
    text = "signed with hunter22 by hunter2 (abc)"
    assert redact(text, ["hunter22", "abc"]) == f"signed with {REDACTED} by hunter2 (abc)"


def test_redact_is_linear_on_huge_keys() -> None:
    # A 10 MB key in a log line (the bad-input table sends one): no quadratic backtracking.
    # Compared by growth, never against the clock (machines here are shared): four times the
    # text may cost about four times the time, never sixteen. Best of three, against noise.
    def cost(text: str) -> float:
        runs = []
        for _ in range(3):
            began = time.perf_counter()
            redact(text)
            runs.append(time.perf_counter() - began)
        return min(runs)

    for unit, n in (("a.", 100_000), ("x:", 100_000), ("secret", 40_000), ("p://", 50_000)):
        small, large = cost(unit * n), cost(unit * 4 * n)
        assert large < 10 * small + 0.05, (unit, small, large)


def _settings() -> Settings:
    return Settings.from_env(
        {
            "PACHSTREAM_POSTGRES_DSN": "postgresql://u:pg%40secret@db:5432/d",
            "PACHSTREAM_S3_ENDPOINT": "http://s3:9000",
            "PACHSTREAM_S3_SECRET_KEY": "s3-secret-value",
            "PACHSTREAM_GATEWAY_ACCESS_KEY": "gw-access",
            "PACHSTREAM_GATEWAY_SECRET_KEY": "gw-secret-value",
            "PACHSTREAM_NOTIFY": "topic=t,repo=raw,access_key=n,secret_key=notify-secret",
            "PACHSTREAM_OPENLINEAGE": "http://ol:ol-password@marquez:5000",
        },
        stack_file=False,
    )


SECRETS = (
    "pg@secret",
    "pg%40secret",
    "s3-secret-value",
    "gw-secret-value",
    "notify-secret",
    "ol-password",
)


def test_settings_name_their_secrets_and_their_reprs_hide_them() -> None:
    settings = _settings()
    assert set(settings.secrets()) == set(SECRETS)
    notify = parse_notify_config(settings.notify)
    for shown in (repr(settings), repr(settings.postgres), repr(settings.s3), repr(notify)):
        assert not any(secret in shown for secret in SECRETS), shown
    assert "dsn='postgresql://u:***@db:5432/d'" in repr(settings)
    # The embedded store's public default key is no secret (masking it would mask the name
    # 'pachstream' in every line).
    embedded = Settings.from_env({"PACHSTREAM_S3_ENDPOINT": "http://s3:1"}, stack_file=False)
    assert embedded.secrets() == ()


def test_dead_letter_reasons_are_redacted_and_the_bytes_kept() -> None:
    record = Record("ps.requests", 0, 7, b"k", b"PACHSTREAM_S3_SECRET_KEY=v", 0, ())
    reason = "cannot connect to postgresql://postgres:0f3a9c@127.0.0.1:5/postgres"
    doc = orjson.loads(dead_letter_value(record, reason, "commits"))
    assert "0f3a9c" not in doc["reason"] and "postgres:***@" in doc["reason"]
    assert doc["value_b64"] == "UEFDSFNUUkVBTV9TM19TRUNSRVRfS0VZPXY="  # the original bytes


def test_log_lines_and_tracebacks_are_redacted() -> None:
    formatter = RedactingFormatter("%(levelname)s %(message)s", secrets=["gw-secret-value"])
    try:
        raise RuntimeError("signing with gw-secret-value failed")
    except RuntimeError as exc:
        exc_info = (type(exc), exc, exc.__traceback__)
    record = logging.LogRecord(
        "pachstream", logging.ERROR, __file__, 1, "dsn %s", ("postgresql://a:b1@h/d",), exc_info
    )
    line = formatter.format(record)
    assert "postgresql://a:***@h/d" in line and "RuntimeError: signing with *** failed" in line
    assert "gw-secret-value" not in line and "b1@" not in line


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("10.0.0.5", False),
        ("gateway.example", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_an_unsigned_gateway_is_refused_beyond_loopback() -> None:
    check_gateway_bind("127.0.0.1", 1600, keyed=False)
    check_gateway_bind("0.0.0.0", 1600, keyed=True)
    with pytest.raises(ConfigError) as err:
        check_gateway_bind("0.0.0.0", 1600, keyed=False)
    message = err.value.message
    for part in ("0.0.0.0:1600", "PACHSTREAM_GATEWAY_ADDRESS", "PACHSTREAM_GATEWAY_ACCESS_KEY",
                 "PACHSTREAM_GATEWAY_SECRET_KEY", "127.0.0.1"):  # fmt: skip
        assert part in message
    assert redact(message) == message  # the CLI prints it through redact, whole
    with pytest.raises(ConfigError, match=r"\[::\]:9000"):
        check_gateway_bind("::", 9000, keyed=False)


def test_private_files_are_0600_from_creation(tmp_path: Path) -> None:
    target = tmp_path / "stack.json"
    target.write_text("{}")
    target.chmod(0o644)
    # A leftover temporary file of a crashed writer, world-readable: not reused.
    (tmp_path / "stack.json.tmp").write_text("old")
    (tmp_path / "stack.json.tmp").chmod(0o666)
    umask = os.umask(0)  # the mode must not depend on the umask
    try:
        write_private(target, b'{"a": 1}')
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b'{"a": 1}'
    assert not (tmp_path / "stack.json.tmp").exists()
