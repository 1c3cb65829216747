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
