"""An image's config, and what runs for a transform in that image. Pure.

:func:`run_plan` decides the command, environment, working directory and user of a
transform the way Pachyderm does with the image's config:

===========  ======================================================================
command      ``transform.cmd`` when given, else the image's Entrypoint + Cmd; neither
             is an error naming the image
environment  the image's Env, each variable overridden by ``transform.env``; PATH
             defaults to Docker's when neither sets it
working dir  ``transform.working_dir``, else the image's WorkingDir, else ``/``
user         the image's User: empty is root (0:0); ``uid`` or ``uid:gid`` numeric;
             ``name`` or ``name:group`` looked up in the root's /etc/passwd and
             /etc/group (a numeric uid without a passwd entry gets gid 0, as Docker)
===========  ======================================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pachstream.errors import InvalidInput, InvalidSpec

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH of a command whose image and spec set none (Docker's default)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    """The parts of an image's config (``config`` in the OCI image config) that decide a run."""

    env: tuple[str, ...] = ()
    """``Env``: ``NAME=value`` entries, in the image's order."""
    working_dir: str = ""
    """``WorkingDir``; empty: not set."""
    user: str = ""
    """``User``: empty (root), ``uid``, ``uid:gid``, ``name`` or ``name:group``."""
    entrypoint: tuple[str, ...] = ()
    """``Entrypoint``."""
    cmd: tuple[str, ...] = ()
    """``Cmd``: arguments after the Entrypoint, or the command when there is none."""
    created: str | None = None
    """``created`` (RFC 3339), when the image says."""
    os: str = "linux"
    """``os`` the image was built for."""
    architecture: str = ""
    """``architecture`` the image was built for (``amd64``, ``arm64``...)."""
    diff_ids: tuple[str, ...] = field(default=(), repr=False)
    """``rootfs.diff_ids``: digests of the uncompressed layers, lowest first."""


def parse_config(data: bytes, *, where: str) -> ImageConfig:
    """An image config from its JSON bytes, or InvalidInput naming ``where`` it came from.

    Raises:
        InvalidInput: not JSON, or a field of the wrong type.
    """
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{where}: the image config is not JSON ({exc})", file=where) from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: the image config is not a JSON object", file=where)
    inner = {} if doc.get("config") is None else doc["config"]
    rootfs = {} if doc.get("rootfs") is None else doc["rootfs"]
    if not isinstance(inner, dict) or not isinstance(rootfs, dict):
        raise InvalidInput(f"{where}: 'config' and 'rootfs' must be objects", file=where)
    return ImageConfig(
        env=_strings(inner.get("Env"), "config.Env", where),
        working_dir=_string(inner.get("WorkingDir"), "config.WorkingDir", where),
        user=_string(inner.get("User"), "config.User", where),
        entrypoint=_strings(inner.get("Entrypoint"), "config.Entrypoint", where),
        cmd=_strings(inner.get("Cmd"), "config.Cmd", where),
        created=_string(doc.get("created"), "created", where) or None,
        os=_string(doc.get("os"), "os", where) or "linux",
        architecture=_string(doc.get("architecture"), "architecture", where),
        diff_ids=_strings(rootfs.get("diff_ids"), "rootfs.diff_ids", where),
    )


def _string(value: Any, name: str, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: '{name}' must be a string, not {value!r}", file=where)
    return value


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            f"{where}: '{name}' must be a list of strings, not {value!r}", file=where
        )
    return tuple(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """What runs for a transform in an image (see the table in the module docstring)."""

    cmd: tuple[str, ...]
    """The command and its arguments."""
    env: Mapping[str, str]
    """The whole environment of the command (not added to the worker's)."""
    working_dir: str
    """Where the command starts."""
    uid: int
    """Numeric user id the command runs as."""
    gid: int
    """Numeric group id the command runs as."""


def run_plan(
    config: ImageConfig,
    *,
    image: str,
    cmd: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    working_dir: str | None = None,
    passwd: str | None = None,
    group: str | None = None,
) -> RunPlan:
    """What runs for a transform with ``cmd``, ``env`` and ``working_dir`` in ``image``. Pure.

    ``passwd`` and ``group`` are the texts of the image root's /etc/passwd and /etc/group
    (None when the image has none); they are read only for a user given by name.

    Raises:
        InvalidSpec: no command at all (neither ``transform.cmd`` nor the image's
            Entrypoint/Cmd), or the image's User names a user or group the image lacks.
    """
    command = tuple(cmd) if cmd else config.entrypoint + config.cmd
    if not command:
        raise InvalidSpec(
            f"transform.cmd is empty and image {image!r} has no Entrypoint or Cmd; "
            "set transform.cmd to the command to run",
            image=image,
            field="transform.cmd",
        )
    variables: dict[str, str] = {}
    for entry in config.env:
        name, _, value = entry.partition("=")
        if name:
            variables[name] = value
    variables.update(env or {})
    variables.setdefault("PATH", DEFAULT_PATH)
    uid, gid = resolve_user(config.user, image=image, passwd=passwd, group=group)
    return RunPlan(
        cmd=command,
        env=variables,
        working_dir=working_dir or config.working_dir or "/",
        uid=uid,
        gid=gid,
    )


def resolve_user(
    user: str, *, image: str, passwd: str | None, group: str | None
) -> tuple[int, int]:
    """``(uid, gid)`` of an image's User string. Pure.

    Raises:
        InvalidSpec: a name that /etc/passwd or /etc/group of the image does not have.
    """
    if not user:
        return 0, 0
    name, has_group, group_name = user.partition(":")
    users = _table(passwd)
    if name.isdigit():
        uid = int(name)
        found = next((row for row in users.values() if row[0] == name), None)
        gid = int(found[1]) if found and found[1].isdigit() else 0
    elif name in users and users[name][0].isdigit() and users[name][1].isdigit():
        uid, gid = int(users[name][0]), int(users[name][1])
    else:
        where = "has no /etc/passwd" if passwd is None else "has no such entry in /etc/passwd"
        raise InvalidSpec(
            f"image {image!r}: its User {user!r} names user {name!r}, but the image {where}; "
            "use a numeric uid:gid in the image's USER, or add the user to its /etc/passwd",
            image=image,
            field="User",
        )
    if has_group:
        groups = _table(group)
        if group_name.isdigit():
            gid = int(group_name)
        elif group_name in groups and groups[group_name][0].isdigit():
            gid = int(groups[group_name][0])
        else:
            raise InvalidSpec(
                f"image {image!r}: its User {user!r} names group {group_name!r}, which the "
                "image's /etc/group lacks; use a numeric gid or add the group",
                image=image,
                field="User",
            )
    return uid, gid


def _table(text: str | None) -> dict[str, list[str]]:
    """``name -> fields after the password``, of a passwd- or group-format file. Pure.

    For /etc/passwd, ``[0]`` is the uid and ``[1]`` the gid; for /etc/group, ``[0]`` is the
    gid. The first line of a name wins, as getpwnam(3) reads them.
    """
    rows: dict[str, list[str]] = {}
    for line in (text or "").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, *rest = line.split(":")
        rows.setdefault(name, rest[1:] + ["", ""])
    return rows
