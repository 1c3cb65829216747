"""Parsing of pachctl-style references: ``repo@ref``, ``repo@ref:/path``, ``repo@branch``.

Grammar::

    commit-ref  = repo [ "@" ref ]                   (no "@": the branch "master")
    file-ref    = repo [ "@" ref ] [ ":" path ]      (no path: the root "/")
    branch-ref  = repo "@" branch
    ref         = name [ "." N ] { ( "^" | "~" ) [ N ] }

- ``name`` is a commit id when it is 32 hex characters (either case; kept in lower case),
  and a branch name otherwise (see :mod:`pachstream.names`).
- Ancestry counts generations back. Each ``^`` or ``~`` is one generation, or N when a
  number follows: ``master^`` = ``master~`` = 1, ``master^^`` = 2, ``master~3`` = ``master^3``
  = 3. Pachyderm has a single parent per commit, so ``^`` and ``~`` mean the same thing
  (``src/internal/ancestry/ancestry.go``). Pachyderm refuses mixed forms such as
  ``master^~2``; pachstream adds them up as git does (``master^~2`` = 3).
- ``branch.N`` is the Nth commit of the branch counted from its first commit (``master.1``
  is the first), as in Pachyderm's ``CommitPicker_BranchRoot`` (``src/pfs/pfs.go``,
  ``countOffsetAndClean``). A following ``^``/``~`` counts back from there, so
  ``master.5^2`` is ``master.3``; the result is folded into :attr:`CommitRef.from_start`.
  ``.N`` applies to branches only.
- The path of a file reference begins after the first ``:`` that follows the repo and
  ref, which never contain ``:`` or ``@``; the path itself may contain both
  (``repo@master:/a:b@c``). ``repo:/path`` without ``@`` names the path on ``master``.
- Pachyderm's ``repo@branch=commit`` form and ``project/repo`` prefixes are not supported.
"""

from __future__ import annotations

from dataclasses import dataclass

from pachstream.errors import InvalidName, InvalidPath, InvalidRef
from pachstream.names import is_commit_id, validate_branch_name, validate_repo_name
from pachstream.paths import normalize_path

__all__ = [
    "DEFAULT_BRANCH",
    "MAX_GENERATIONS",
    "BranchRef",
    "CommitRef",
    "FileRef",
    "parse_branch_ref",
    "parse_commit_ref",
    "looks_like_colon_branch",
    "parse_file_ref",
]

DEFAULT_BRANCH = "master"
"""The branch a reference names when it has no ``@``."""

_DIGITS = frozenset("0123456789")

MAX_GENERATIONS = 1_000_000_000
"""Largest number accepted after ``~``, ``^`` or ``.``."""


@dataclass(frozen=True, slots=True)
class CommitRef:
    """A reference to one commit, not yet resolved against the commit graph."""

    repo: str
    """The repo name."""
    ref: str
    """A branch name, or a commit id (32 lower-case hex characters)."""
    ancestry: int = 0
    """How many generations to go back from ``ref``; 0 is ``ref`` itself."""
    from_start: int | None = None
    """For ``branch.N``: the 1-based position counted from the branch's first commit, with
    any ``^``/``~`` already subtracted; ``ancestry`` is then 0. None otherwise."""

    @property
    def is_commit_id(self) -> bool:
        """Whether ``ref`` is a commit id rather than a branch name."""
        return is_commit_id(self.ref)

    def __str__(self) -> str:
        if self.from_start is not None:
            return f"{self.repo}@{self.ref}.{self.from_start}"
        if self.ancestry:
            return f"{self.repo}@{self.ref}~{self.ancestry}"
        return f"{self.repo}@{self.ref}"


@dataclass(frozen=True, slots=True)
class FileRef:
    """A reference to a path (file, directory or glob) in a commit."""

    commit: CommitRef
    """The commit that holds the path."""
    path: str
    """The canonical path (see :mod:`pachstream.paths`); ``/`` when none was given."""

    def __str__(self) -> str:
        return f"{self.commit}:{self.path}"


@dataclass(frozen=True, slots=True)
class BranchRef:
    """A reference to a branch itself, e.g. to create, move or delete it."""

    repo: str
    """The repo name."""
    branch: str
    """The branch name."""

    def __str__(self) -> str:
        return f"{self.repo}@{self.branch}"


def _split(text: object) -> tuple[str, str | None, str | None]:
    """Split into repo, ref (None without ``@``) and path (None without ``:``)."""
    if not isinstance(text, str):
        raise InvalidRef(
            f"reference {text!r}: a reference is text, not {type(text).__name__}; "
            f"write it as 'repo@branch'",
            ref=text,
        )
    at, colon = text.find("@"), text.find(":")
    if at == -1 or (colon != -1 and colon < at):
        if colon == -1:
            return text, None, None
        return text[:colon], None, text[colon + 1 :]
    rest = text[at + 1 :]
    colon = rest.find(":")
    if colon == -1:
        return text[:at], rest, None
    return text[:at], rest[:colon], rest[colon + 1 :]


def _repo(text: str, repo: str) -> str:
    if not repo:
        raise InvalidRef(
            f"reference {text!r}: the repo name is missing; write it as 'repo@branch'",
            ref=text,
        )
    try:
        return validate_repo_name(repo)
    except InvalidName as exc:
        raise InvalidName(f"reference {text!r}: {exc.message}", ref=text, **exc.fields) from exc


def _number(whole: str, text: str, start: int) -> tuple[int | None, int]:
    """Read the ASCII digits at ``start``: (value or None, index after them)."""
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    if end - start > len(str(MAX_GENERATIONS)) or (
        end > start and int(text[start:end]) > MAX_GENERATIONS
    ):
        raise InvalidRef(
            f"reference {whole!r}: {text[start:end]!r} is larger than {MAX_GENERATIONS}; "
            f"count fewer commits",
            ref=whole,
        )
    return (int(text[start:end]) if end > start else None), end


def _parse_ref(text: str, repo: str, ref: str) -> CommitRef:
    if "/" in ref:
        # `images@master/cats/x.png`: a path written without the ':' (no branch has a '/').
        name, _, path = ref.partition("/")
        # InvalidName, as for any other character a branch name may not hold.
        raise InvalidName(
            f"reference {text!r}: a path follows ':', not '/'; did you mean "
            f"'{repo}@{name}:/{path}'?",
            ref=text,
        )
    if not ref:
        raise InvalidRef(
            f"reference {text!r}: nothing follows '@'; name a branch or a commit, e.g. "
            f"'{repo}@master', or drop the '@' for master",
            ref=text,
        )
    if "=" in ref:
        raise InvalidRef(
            f"reference {text!r}: the 'branch=commit' form is not supported; name the "
            f"commit alone, e.g. '{repo}@<commit-id>'",
            ref=text,
        )
    cut = next((i for i, char in enumerate(ref) if char in "^~."), len(ref))
    name, suffix = ref[:cut], ref[cut:]
    if not name:
        raise InvalidRef(
            f"reference {text!r}: {suffix[0]!r} needs a branch or commit before it, e.g. "
            f"'{repo}@master{suffix}'",
            ref=text,
        )
    commit_id = is_commit_id(name)
    if commit_id:
        name = name.lower()
    else:
        try:
            validate_branch_name(name)
        except InvalidName as exc:
            raise InvalidName(f"reference {text!r}: {exc.message}", ref=text, **exc.fields) from exc

    position, i = None, 0
    if suffix.startswith("."):
        position, i = _number(text, suffix, 1)
        if commit_id:
            raise InvalidRef(
                f"reference {text!r}: '.N' counts commits from the start of a branch, and "
                f"{name!r} is a commit id; use '{repo}@<branch>.N' or '{repo}@{name}~N'",
                ref=text,
            )
        if not position:
            token = suffix[: next((j for j, c in enumerate(suffix) if c in "^~"), len(suffix))]
            raise InvalidRef(
                f"reference {text!r}: {token!r} is not a commit number; use "
                f"{name}.N with N >= 1 (e.g. {name}.1 for the branch's first commit)",
                ref=text,
            )
    ancestry = 0
    while i < len(suffix):
        operator = suffix[i]
        if operator == ".":
            raise InvalidRef(
                f"reference {text!r}: {suffix[i:]!r} is misplaced; '.N' may only come right "
                f"after the branch name, before any '^' or '~', e.g. {name}.3~1",
                ref=text,
            )
        count, end = _number(text, suffix, i + 1) if operator in "^~" else (None, i)
        if operator not in "^~" or (end < len(suffix) and suffix[end] not in "^~."):
            raise InvalidRef(
                f"reference {text!r}: {suffix[i:]!r} is not an ancestry; use {name}~N with "
                f"N a number, or {name}^ for the parent",
                ref=text,
            )
        ancestry += 1 if count is None else count
        i = end

    if position is None:
        return CommitRef(repo=repo, ref=name, ancestry=ancestry)
    if ancestry >= position:
        raise InvalidRef(
            f"reference {text!r}: going back {ancestry} from commit {position} of the branch "
            f"passes its first commit; use fewer than {position} generations",
            ref=text,
        )
    return CommitRef(repo=repo, ref=name, from_start=position - ancestry)


def _refuse_colon_branch(text: str, repo: str, ref: str | None, path: str) -> None:
    """``images:master`` where a commit or branch is meant: say ``images@master``."""
    if ref is None and path and "/" not in path and not any(c in path for c in ".:@"):
        raise InvalidRef(
            f"reference {text!r}: did you mean '{repo}@{path}'? ('@' names the branch; "
            f"':' starts a path)",
            ref=text,
        )


def looks_like_colon_branch(text: str) -> str | None:
    """For ``images:master`` (no ``@``, a path without ``/``): the ``images@master`` it likely
    means; None otherwise. File references accept ``repo:path`` as ``repo@master:/path``, so
    only a command line, where a path starts with ``/``, may refuse it. Pure.
    """
    repo, ref, path = _split(text)
    if ref is not None or not path or path.startswith("/"):
        return None
    return f"{repo}@{path}"


def parse_commit_ref(text: str) -> CommitRef:
    """Parse ``repo``, ``repo@branch``, ``repo@commit-id`` with optional ancestry.

    Args:
        text: E.g. ``"images"``, ``"images@dev~2"``, ``"images@master.1"``.

    Returns:
        The parsed reference; ``ref`` is ``"master"`` when there is no ``@``.

    Raises:
        InvalidRef: The reference does not parse, or carries a ``:path``.
        InvalidName: The repo or branch name breaks the naming rules.
        All errors have the field ``ref`` (the whole text).

    """
    repo, ref, path = _split(text)
    if path is not None:
        _refuse_colon_branch(text, repo, ref, path)
        raise InvalidRef(
            f"reference {text!r}: a commit reference has no path; drop ':{path}' or use a "
            f"file command",
            ref=text,
        )
    repo = _repo(text, repo)
    return _parse_ref(text, repo, DEFAULT_BRANCH if ref is None else ref)


def parse_file_ref(text: str) -> FileRef:
    """Parse ``repo@ref:/path``; the ref part follows :func:`parse_commit_ref`.

    Args:
        text: E.g. ``"images@master:/a/b.png"``, ``"images@master~1"`` (the root),
            ``"images:/x"`` (on master), ``"images@dev:/t:1@2.csv"``.

    Returns:
        The commit reference and the canonical path.

    Raises:
        InvalidRef: The commit part does not parse.
        InvalidName: The repo or branch name breaks the naming rules.
        InvalidPath: The path breaks the path rules.
        All errors have the field ``ref`` (the whole text).

    """
    repo, ref, path = _split(text)
    repo = _repo(text, repo)
    commit = _parse_ref(text, repo, DEFAULT_BRANCH if ref is None else ref)
    try:
        canonical = normalize_path(path or "")
    except InvalidPath as exc:
        raise InvalidPath(f"reference {text!r}: {exc.message}", ref=text, **exc.fields) from exc
    return FileRef(commit=commit, path=canonical)


def parse_branch_ref(text: str) -> BranchRef:
    """Parse ``repo@branch`` naming a branch itself, without ancestry or commit id.

    Args:
        text: E.g. ``"images@dev"``.

    Returns:
        The repo and branch names.

    Raises:
        InvalidRef: There is no ``@branch``, or the ref is a commit id, has ancestry or a
            path.
        InvalidName: The repo or branch name breaks the naming rules.
        All errors have the field ``ref`` (the whole text).

    """
    repo, ref, path = _split(text)
    if path is not None:
        _refuse_colon_branch(text, repo, ref, path)
    if ref is None:
        raise InvalidRef(
            f"reference {text!r}: a branch is needed; write it as '{repo or 'repo'}@branch'",
            ref=text,
        )
    if path is not None:
        raise InvalidRef(
            f"reference {text!r}: a branch reference has no path; drop ':{path}'",
            ref=text,
        )
    repo = _repo(text, repo)
    commit = _parse_ref(text, repo, ref)
    if commit.is_commit_id:
        raise InvalidRef(
            f"reference {text!r}: {commit.ref!r} is a commit id, not a branch; name a branch, "
            f"e.g. '{repo}@master'",
            ref=text,
        )
    if commit.ancestry or commit.from_start is not None or commit.ref != ref:
        raise InvalidRef(
            f"reference {text!r}: a branch reference takes no ancestry; drop "
            f"{ref[len(commit.ref) :]!r} and write '{repo}@{commit.ref}'",
            ref=text,
        )
    return BranchRef(repo=repo, branch=commit.ref)
