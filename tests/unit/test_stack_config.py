"""`pachstream up` refuses a bad setting at once, naming the variable (before any server)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pachstream.errors import ConfigError
from pachstream.settings import Settings

CASES = [
    ({"PACHSTREAM_INGEST_POLICY": "1000/5s,logs=100/0.5s"}, None),
    ({"PACHSTREAM_INGEST_POLICY": "fast"}, "PACHSTREAM_INGEST_POLICY: 'fast'"),
    ({"PACHSTREAM_INGEST_POLICY": "0/5s"}, "PACHSTREAM_INGEST_POLICY: '0/5s'"),
    ({"PACHSTREAM_NOTIFY": "topic=s3-events,repo=raw"}, None),
    ({"PACHSTREAM_NOTIFY": "topic=s3-events,colour=red"}, "PACHSTREAM_NOTIFY: 'colour=red'"),
    ({"PACHSTREAM_OPENLINEAGE": "http://127.0.0.1:5000"}, None),
    ({"PACHSTREAM_OPENLINEAGE": "ftp://x"}, "PACHSTREAM_OPENLINEAGE='ftp://x' is invalid"),
    ({"PACHSTREAM_OPENLINEAGE": "http://x:99999"}, "PACHSTREAM_OPENLINEAGE='http://x:99999'"),
    ({"PACHSTREAM_KAFKA_PARTITIONS": "8"}, None),
    ({"PACHSTREAM_KAFKA_PARTITIONS": "0"}, "PACHSTREAM_KAFKA_PARTITIONS='0' is invalid"),
    ({"PACHSTREAM_KAFKA_PARTITIONS": "two"}, "PACHSTREAM_KAFKA_PARTITIONS='two' is invalid"),
    ({"PACHSTREAM_KAFKA_PARTITIONS": "²"}, "PACHSTREAM_KAFKA_PARTITIONS='²' is invalid"),
    ({"PACHSTREAM_KAFKA_REPLICATION": "0"}, "PACHSTREAM_KAFKA_REPLICATION='0' is invalid"),
    ({"PACHSTREAM_KAFKA_REPLICATION": "²"}, "PACHSTREAM_KAFKA_REPLICATION='²' is invalid"),
]


@pytest.mark.parametrize(("env", "error"), CASES, ids=[str(c[0]) for c in CASES])
def test_settings_parse_the_configuration_strings(env, error, tmp_path):
    environ = {"PACHSTREAM_HOME": str(tmp_path), **env}
    if error is None:
        Settings.from_env(environ, stack_file=False).check_config()
        return
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ, stack_file=False)
    assert error in info.value.message


KAFKA_CASES = [
    # (the variables set, (replication, partitions) of the topics pachstream creates)
    ({}, (1, 2)),
    ({"PACHSTREAM_KAFKA_PARTITIONS": "8"}, (1, 8)),
    ({"PACHSTREAM_KAFKA_REPLICATION": "3", "PACHSTREAM_KAFKA_PARTITIONS": "12"}, (3, 12)),
]


@pytest.mark.parametrize(("env", "want"), KAFKA_CASES)
def test_a_child_process_creates_topics_as_its_parent_would(env, want, tmp_path):
    environ = {"PACHSTREAM_HOME": str(tmp_path), "PACHSTREAM_KAFKA_BOOTSTRAP": "k:9092", **env}
    kafka = Settings.from_env(environ, stack_file=False).kafka
    assert kafka is not None and (kafka.replication, kafka.partitions) == want
    child_env = Settings.from_env(environ, stack_file=False).child_env()
    child = Settings.from_env(child_env, stack_file=False).kafka
    assert child == kafka


def test_up_refuses_a_bad_value_before_starting_anything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env.update(PACHSTREAM_HOME=str(tmp_path / "home"), PACHSTREAM_INGEST_POLICY="fast")
    proc = subprocess.run(
        [sys.executable, "-m", "pachstream", "up", "--detach"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: PACHSTREAM_INGEST_POLICY: 'fast' is not N/Ts")
    assert not (tmp_path / "home").exists()  # nothing started, nothing written


FILER_CASES = [
    # (PACHSTREAM_S3_ENDPOINT, PACHSTREAM_S3_FILER_SOCKET, the filer socket used)
    (None, None, "/run/filer.sock"),  # the stack's own store: its filer
    ("http://127.0.0.1:8333", None, "/run/filer.sock"),  # the same store, named again
    ("http://minio:9000", None, ""),  # another store: never the stack's filer beside it
    ("http://minio:9000", "/other.sock", "/other.sock"),  # asked for by name
]


@pytest.mark.parametrize(("endpoint", "socket", "used"), FILER_CASES)
def test_the_stacks_filer_serves_only_the_stacks_store(endpoint, socket, used, tmp_path):
    (tmp_path / "stack.json").write_text(
        '{"addresses": {"s3_endpoint": "http://127.0.0.1:8333", '
        '"s3_filer_socket": "/run/filer.sock"}}'
    )
    env = {"PACHSTREAM_HOME": str(tmp_path)}
    if endpoint:
        env["PACHSTREAM_S3_ENDPOINT"] = endpoint
    if socket:
        env["PACHSTREAM_S3_FILER_SOCKET"] = socket
    s3 = Settings.from_env(env).s3
    assert s3 is not None and s3.filer_socket == used
    # A child process sees the same.
    child = Settings.from_env(Settings.from_env(env).child_env(), stack_file=False).s3
    assert child is not None and child.filer_socket == used


def test_a_socket_folder_outlives_a_restart_even_when_its_path_is_too_long(tmp_path):
    from pachstream.stack.servers import filer_socket

    short, long = tmp_path / "s", tmp_path / ("x" * 90)
    assert filer_socket(short) == short / "run" / "filer.sock"
    assert filer_socket(long) == filer_socket(long)  # the same on every start
    assert len(str(filer_socket(long))) < 100 and filer_socket(long).parent.is_dir()
    filer_socket(long).parent.rmdir()
