"""kept_ports: the ports a home's previous run used, asked for again by the next `up`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pachstream.stack._supervisor import (
    PORTS_FILE,
    forget_state,
    kept_ports,
    last_ports,
    write_state,
)
from pachstream.stack.servers import PROMISED, free_port, port_or_free, promise

EMBEDDED: dict[str, Any] = {
    "addresses": {
        "kafka_bootstrap": "127.0.0.1:40001",
        "postgres_dsn": "postgresql://postgres:secret@127.0.0.1:40002/postgres",
        "s3_endpoint": "http://127.0.0.1:40003",
        "s3_gateway": "127.0.0.1:40004",
        "console": "http://127.0.0.1:40005",
    },
    "metrics": {"commits": "http://127.0.0.1:40006/metrics"},
    "external": {"kafka": False, "postgres": False, "s3": False},
}


@pytest.mark.parametrize(
    ("state", "ports"),
    [
        (None, {}),
        ({}, {}),
        (
            EMBEDDED,
            {
                "tansu": 40001,
                "postgres": 40002,
                "seaweedfs": 40003,
                "s3gateway": 40004,
                "console": 40005,
                "metrics:commits": 40006,
            },
        ),
        # The user's servers are not ours to place; the gateway and console still are.
        (
            {**EMBEDDED, "external": {"kafka": True, "postgres": True, "s3": True}},
            {"s3gateway": 40004, "console": 40005, "metrics:commits": 40006},
        ),
        # No external block (an older stack.json): treated as the user's, never guessed.
        (
            {k: v for k, v in EMBEDDED.items() if k != "external"},
            {"s3gateway": 40004, "console": 40005, "metrics:commits": 40006},
        ),
        # Not loopback, no port, a port out of range, garbage: skipped, nothing raised.
        (
            {
                "addresses": {
                    "s3_gateway": "0.0.0.0:9000",
                    "console": "http://127.0.0.1",
                    "kafka_bootstrap": "127.0.0.1:99999",
                },
                "metrics": {"lineage": "not a url", "dispatch": None},
                "external": {"kafka": False},
            },
            {},
        ),
    ],
)
def test_kept_ports(state: dict[str, Any] | None, ports: dict[str, int]) -> None:
    assert kept_ports(state) == ports


def test_a_stopped_runs_ports_outlive_its_stack_json(tmp_path: Path) -> None:
    write_state(tmp_path, EMBEDDED)
    forget_state(tmp_path)  # what `down` and a stopping supervisor do
    assert not (tmp_path / "stack.json").exists()
    assert last_ports(tmp_path) == kept_ports(EMBEDDED)
    # Only numbers are kept: the Postgres password and the S3 keys went with stack.json.
    assert b"secret" not in (tmp_path / PORTS_FILE).read_bytes()


@pytest.mark.parametrize(
    "text", [b"", b"not json", b"[1, 2]", b'{"tansu": "40001", "x": true, "y": 70000}']
)
def test_an_unreadable_ports_file_gives_no_ports(tmp_path: Path, text: bytes) -> None:
    (tmp_path / PORTS_FILE).write_bytes(text)
    assert last_ports(tmp_path) == {}


def test_a_promised_port_is_never_handed_to_a_server() -> None:
    # A processor's port, given before the servers start and bound only once it is released:
    # SeaweedFS's free ports must not include it (seen: the worker pool's metrics port).
    port = free_port()
    try:
        promise(port)
        assert port_or_free(port) != port
        assert port not in {free_port() for _ in range(200)}
    finally:
        PROMISED.discard(port)
