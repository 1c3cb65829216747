"""A standby worker: a process that has loaded what a worker needs and waits for the pool to
name its shard, so that a new pipeline's workers pay no interpreter start of their own.

``python -m pachstream.cli._standby`` imports the worker, the CLI and the drivers (about a
second of CPU, many seconds on a busy machine: the better part of a short job's time), then
reads one JSON line on stdin: ``{"argv": [...], "log": path}``. It sends its output to the
log, as a freshly started worker would, and runs ``pachstream <argv>`` in this process. An
empty line or the end of stdin (the pool stopped, or was killed) ends it without running
anything: a standby never outlives its pool.
"""

from __future__ import annotations

import json
import os
import sys


def preload() -> None:
    """Import what ``pachstream run worker`` imports, and decode what its S3 client reads
    (the point of being a standby: a profile of a new pipeline's workers found typer's
    argument parsing importing pydantic, ``_released`` importing the stack, and the first
    S3 client decoding botocore's JSON, ~0.3 s of CPU each worker, all after the shard came).
    """
    import typer._adapters  # noqa: F401 (parsing the worker's arguments imports pydantic)

    import pachstream.cli._app
    import pachstream.cli._run
    import pachstream.lineage.queries
    import pachstream.stack  # noqa: F401 (cli._run._released)
    import pachstream.worker
    from pachstream.objectstore import preload_s3

    pachstream.worker.Worker  # noqa: B018 (loads the worker module and its drivers)
    preload_s3()


def main() -> None:
    """Wait for the pool's assignment, then run it (see the module docstring)."""
    preload()
    line = sys.stdin.readline()
    if not line.strip():
        return
    order = json.loads(line)
    log = os.open(order["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    # Nothing more comes from the pool: stdin closes, as a cold worker's never opened.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.argv = ["pachstream", *order["argv"]]
    from pachstream.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
