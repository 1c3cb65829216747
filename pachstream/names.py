"""Rules for repo and branch names.

A name is what appears before and after ``@`` in ``images@master``, so it must never be
confused with the reference syntax around it:

- **Characters**: ASCII letters, digits, ``_`` and ``-`` only, at least one. This is
  Pachyderm's rule (``src/internal/ancestry/ancestry.go``, ``ValidateName``:
  ``^[a-zA-Z0-9_-]+$``); it keeps ``@ : ^ ~ . /`` free for references and paths.
- **Length**: at most :data:`MAX_NAME_LENGTH` (63) characters. Pachyderm sets no limit on
  repo names (only on projects and pipelines, 51 characters); pachstream derives Kafka topic
  names and labels from repo names, so it takes the DNS-label limit of 63 for both kinds.
- **Branches** may additionally not look like a commit id. pachstream's commit ids are 32
  hex characters (a content hash, see :func:`pachstream.model.derive_id`), so any
  32-hex name, in either case, is refused. Pachyderm refuses only the UUIDv4 shape
  (``pfsdb.UpsertBranch``: "branch name cannot be a UUID V4"); with content-hash ids every
  32-hex string could be a commit, so pachstream refuses them all.

Names are case-sensitive and never rewritten: the validators return the name unchanged.
"""

from __future__ import annotations

import re

from pachstream.errors import InvalidName

__all__ = [
    "COMMIT_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "is_commit_id",
    "sanitize_name",
    "validate_branch_name",
    "validate_repo_name",
]

MAX_NAME_LENGTH = 63
"""Longest repo or branch name, in characters."""

COMMIT_ID_LENGTH = 32
"""Length of a commit id, in hex characters."""

_VALID = re.compile(r"[A-Za-z0-9_-]+")
_INVALID_CHAR = re.compile(r"[^A-Za-z0-9_-]")
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{32}")


def is_commit_id(text: str) -> bool:
    """Tell whether ``text`` has the shape of a commit id (32 hex characters, any case).

    Args:
        text: A reference, without the repo and the ancestry suffix.

    Returns:
        True when ``text`` is read as a commit id rather than a branch name.

    """
    return _COMMIT_ID.fullmatch(text) is not None


def sanitize_name(name: str) -> str:
    """Replace every character a name may not contain by ``_``.

    Used to suggest a fix in error messages; ``sanitize_name("my repo")`` is ``"my_repo"``.

    Args:
        name: Any text.

    Returns:
        The text with each disallowed character replaced, cut to :data:`MAX_NAME_LENGTH`.

    """
    return _INVALID_CHAR.sub("_", name)[:MAX_NAME_LENGTH]


def _validate(kind: str, name: object) -> str:
    if not isinstance(name, str):
        raise InvalidName(
            f"{kind} name {name!r}: a name is text, not {type(name).__name__}; pass a str",
            name=name,
            kind=kind,
        )
    if not name:
        raise InvalidName(
            f"{kind} name '': a name cannot be empty; use letters, digits, '_' and '-'",
            name=name,
            kind=kind,
        )
    if _VALID.fullmatch(name) is None:
        bad = _INVALID_CHAR.search(name)
        assert bad is not None  # the fullmatch failed, so one character is outside the set
        suggestion = sanitize_name(name)
        raise InvalidName(
            f"{kind} name {name!r}: character {bad.group()!r} at position {bad.start()} is not "
            f"allowed; use only ASCII letters, digits, '_' and '-', e.g. {suggestion!r}",
            name=name,
            kind=kind,
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(
            f"{kind} name {name!r}: {len(name)} characters is {len(name) - MAX_NAME_LENGTH} "
            f"over the limit of {MAX_NAME_LENGTH}; choose a shorter name",
            name=name,
            kind=kind,
        )
    return name


def validate_repo_name(name: str) -> str:
    """Check a repo name against the naming rules.

    Args:
        name: The proposed repo name.

    Returns:
        ``name``, unchanged.

    Raises:
        InvalidName: The name is empty, too long or holds a character other than ASCII
            letters, digits, ``_`` and ``-``. The error has fields ``name`` and ``kind``.

    """
    return _validate("repo", name)


def validate_branch_name(name: str) -> str:
    """Check a branch name against the naming rules.

    Branch names follow the repo name rules and may not look like a commit id, since
    ``repo@<32 hex>`` is always read as a commit.

    Args:
        name: The proposed branch name.

    Returns:
        ``name``, unchanged.

    Raises:
        InvalidName: The name breaks a repo name rule or is 32 hex characters. The error has
            fields ``name`` and ``kind``.

    """
    _validate("branch", name)
    if is_commit_id(name):
        raise InvalidName(
            f"branch name {name!r}: 32 hex characters look like a commit id, so "
            f"'repo@{name}' would name a commit; choose a name with a non-hex character, "
            f"e.g. 'b-{name[:8]}'",
            name=name,
            kind="branch",
        )
    return name
