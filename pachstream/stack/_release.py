"""Processors started together with the servers, not after them.

``up`` starts each processor before its servers answer: the processor imports its code (a
second or more of CPU each: botocore alone is 1.4 s) while the servers start, then waits on
its stdin for one line from the supervisor, the servers' addresses as JSON, and only then
reads its settings. A supervisor that stops before it sends the line closes the pipe: the
processor exits quietly. Restarted processors get their addresses in their environment, as
before: the servers are up by then.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import orjson

from pachstream.errors import StackError

SETTINGS_ON_STDIN = "PACHSTREAM_SETTINGS_ON_STDIN"
"""Set (to ``1``) in the environment of a processor whose addresses come on its stdin."""


def release_line(env: Mapping[str, str]) -> bytes:
    """The line that releases a waiting processor: ``env`` as one JSON object. Pure."""
    return orjson.dumps(dict(env)) + b"\n"


def parse_release(line: bytes) -> dict[str, str] | None:
    """The variables of a release line; None for an empty read (the pipe was closed without
    one). StackError naming the line when it is not a JSON object of strings. Pure.
    """
    if not line:
        return None
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise StackError(
            f"the supervisor sent {line[:80]!r} on stdin where the servers' addresses (a JSON "
            f"object) belong: {exc}; unset {SETTINGS_ON_STDIN} to run a processor by hand"
        ) from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise StackError(
            f"the supervisor sent {line[:80]!r} on stdin: not a JSON object of strings; "
            f"unset {SETTINGS_ON_STDIN} to run a processor by hand"
        )
    return data


def waits_for_release() -> bool:
    """Whether this process was started to wait for its addresses on stdin."""
    return os.environ.get(SETTINGS_ON_STDIN) == "1"


def await_release() -> bool:
    """Block until the supervisor sends the servers' addresses; put them in ``os.environ``
    (where :meth:`Settings.from_env` finds them) and return True. False when the supervisor
    closed the pipe without them (it is stopping). Children of this process (the worker
    pool's workers) see the addresses and never wait: the variable is removed, and stdin is
    ``/dev/null`` again.
    """
    with open(0, "rb", closefd=False) as fd0:
        line = fd0.readline()
    env = parse_release(line)
    os.environ.pop(SETTINGS_ON_STDIN, None)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if env is None:
        return False
    os.environ.update(env)
    return True
