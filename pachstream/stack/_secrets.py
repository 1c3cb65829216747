"""The stack's secrets on disk: files only their owner reads, and the embedded PostgreSQL's
password.

The embedded PostgreSQL listens on 127.0.0.1 only, and every connection must give the
password of the ``postgres`` role (``scram-sha-256`` in ``pg_hba.conf``): other users of the
machine reach loopback too. The password is made at random when the data folder gets its
first start under this code, set in single-user mode (no server listens meanwhile, and the
password is never on a command line), and kept in ``postgres.password`` beside the data folder,
mode 0600. A data folder initialized before passwords existed (trust authentication) takes the
same path on its next start: it has no password file, so it gets one.
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pachstream.errors import StackError
from pachstream.security import redact

PASSWORD_FILE = "postgres.password"
"""Beside the data folder (``$PACHSTREAM_HOME/postgres.password`` for ``pachstream up``)."""

HBA = """\
# Written by pachstream on every start: connections come over TCP to 127.0.0.1 only (there is
# no unix socket) and must give the postgres role's password (see postgres.password beside
# this data folder).
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
"""
"""The whole ``pg_hba.conf`` of the embedded PostgreSQL."""


def write_private(path: Path, data: bytes, owner: tuple[int, int] | None = None) -> None:
    """Replace ``path`` atomically with ``data``, readable by its owner only (mode 0600).

    The file is created with mode 0600 before a byte is written, so no moment exists when
    another user could open it; ``owner``: (uid, gid) to give it to.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # O_EXCL below: never reuse a file someone else opened
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def _read_password(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return text if text and set(text) <= set(string.hexdigits) else None


def ensure_password(
    pgdata: Path, postgres_bin: Path, drop: Mapping[str, Any], *, fresh: bool
) -> str:
    """The ``postgres`` role's password, made and set first when there is none.

    Call before the server starts (single-user mode needs the data folder to itself).
    ``fresh``: the folder was just initialized, so a password file left from an earlier
    folder there does not apply to it. ``drop``: Popen arguments that run PostgreSQL as its
    own user (see :func:`pachstream.stack.servers.start_postgres`).

    Raises:
        StackError: single-user mode could not set the password (its output, redacted).

    """
    path = pgdata.parent / PASSWORD_FILE
    password = None if fresh else _read_password(path)
    if password is not None:
        return password
    password = secrets.token_hex(16)  # hex: nothing to quote in SQL, a URL or a libpq string
    # The statement goes in on stdin: a command line is readable by every user in /proc.
    done = subprocess.run(
        [
            str(postgres_bin),
            "--single",
            "-D",
            str(pgdata),
            "-c",
            "password_encryption=scram-sha-256",
            "postgres",
        ],
        input=f"ALTER ROLE postgres PASSWORD '{password}';\n",
        capture_output=True,
        text=True,
        **drop,
    )
    if done.returncode != 0 or "ERROR:" in done.stderr or "FATAL:" in done.stderr:
        raise StackError(
            f"could not set the password of PostgreSQL in {pgdata} (single-user mode exited "
            f"{done.returncode}): {redact(done.stderr.strip(), [password])}; is another "
            "postgres running on this folder?"
        )
    # Written only once the role has it: a crash in between makes a new one next start.
    write_private(path, password.encode() + b"\n")
    return password


def write_hba(pgdata: Path, owner: tuple[int, int] | None) -> None:
    """Write :data:`HBA` as the data folder's ``pg_hba.conf`` (read at server start)."""
    write_private(pgdata / "pg_hba.conf", HBA.encode(), owner)
