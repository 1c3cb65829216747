"""Pure rules of the S3 gateway: bucket names, object keys, copy sources, commit timing.

Buckets are branches of repos, named as Pachyderm's S3 gateway names them:

- ``BRANCH.REPO`` reads the branch head and takes writes (``master.raw``);
- ``COMMIT.BRANCH.REPO`` reads one commit, read-only (``3f2a….master.raw``).

Repo and branch names have no dots (:mod:`pachstream.names`), so the split is unambiguous.
An object key is a file path without its leading ``/``; a key is refused unless it is the
canonical form of its path (no ``.``/``..`` segments, no empty segments, no trailing ``/``),
because two keys must never name the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from pachstream.errors import InvalidName, InvalidPath
from pachstream.gateway._errors import S3Error
from pachstream.names import is_commit_id, validate_branch_name, validate_repo_name
from pachstream.paths import validate_file_path

MAX_KEY_BYTES = 1024
"""S3's limit on a key's UTF-8 length."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """What a bucket name designates."""

    repo: str
    branch: str
    commit: str | None = None
    """A commit id when the bucket names one (read-only)."""

    @property
    def name(self) -> str:
        """The bucket name, as clients write it."""
        head = f"{self.commit}." if self.commit else ""
        return f"{head}{self.branch}.{self.repo}"

    @property
    def ref(self) -> str:
        """The commit reference reads use: the commit, else the branch head."""
        return f"{self.repo}@{self.commit or self.branch}"

    @property
    def branch_ref(self) -> str:
        """``repo@branch``."""
        return f"{self.repo}@{self.branch}"


def parse_bucket(name: str) -> Bucket:
    """The branch (and commit) a bucket name designates, or InvalidBucketName saying why."""
    parts = name.split(".")
    hint = (
        "name a bucket BRANCH.REPO (master.raw) or COMMIT.BRANCH.REPO to read one commit; "
        "see 'aws s3 ls' for the buckets there are"
    )
    if len(parts) not in (2, 3):
        raise S3Error(
            "InvalidBucketName", f"bucket '{name}' is not BRANCH.REPO; {hint}", resource=name
        )
    commit = parts[0] if len(parts) == 3 else None
    branch, repo = parts[-2], parts[-1]
    try:
        validate_repo_name(repo)
        validate_branch_name(branch)
    except InvalidName as err:
        raise S3Error(
            "InvalidBucketName", f"bucket '{name}': {err.message}; {hint}", resource=name
        ) from err
    if commit is not None and not is_commit_id(commit):
        raise S3Error(
            "InvalidBucketName",
            f"bucket '{name}': '{commit}' is not a commit id (32 hex digits); {hint}",
            resource=name,
        )
    return Bucket(repo=repo, branch=branch, commit=commit.lower() if commit else None)


def branch_required(branch: str) -> bool:
    """Whether a bucket of ``branch`` exists only while the branch does: every branch but
    master, which is a bucket of its repo before the first commit (as ``put file repo@master``
    writes there without creating the branch first). Pure.
    """
    return branch != "master"


def no_bucket(bucket: Bucket) -> S3Error:
    """NoSuchBucket for ``bucket``, saying how to create it."""
    what = f"commit {bucket.commit} of " if bucket.commit else ""
    return S3Error(
        "NoSuchBucket",
        f"bucket '{bucket.name}' does not exist: no {what}branch '{bucket.branch}' in repo "
        f"'{bucket.repo}'; create it with 'aws s3 mb s3://{bucket.branch}.{bucket.repo}' or "
        f"'pachstream create branch {bucket.branch_ref}'",
        resource=bucket.name,
    )


def refuse_commit_bucket(bucket: Bucket) -> None:
    """MethodNotAllowed when ``bucket`` names a commit (read-only) and a write is asked."""
    if bucket.commit is not None:
        raise S3Error(
            "MethodNotAllowed",
            f"bucket '{bucket.name}' names a commit and is read-only; "
            f"write to {bucket.branch}.{bucket.repo}",
            resource=bucket.name,
        )


def key_to_path(bucket: str, key: str) -> str:
    """The file path of an object key, or InvalidArgument/KeyTooLongError naming the key."""
    resource = f"/{bucket}/{key}"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error(
            "KeyTooLongError",
            f"key '{key[:64]}…' is longer than {MAX_KEY_BYTES} bytes (UTF-8); use a shorter key",
            resource=resource,
        )
    if not key:
        raise S3Error(
            "InvalidArgument", "an object key is needed: PUT /BUCKET/KEY", resource=resource
        )
    try:
        path = validate_file_path("/" + key)
    except InvalidPath as err:
        raise S3Error("InvalidArgument", f"key '{key}': {err.message}", resource=resource) from err
    if path != "/" + key:
        raise S3Error(
            "InvalidArgument",
            f"key '{key}' is not a canonical file path (it would be stored as '{path[1:]}'); "
            "use keys without empty segments or a trailing '/'",
            resource=resource,
        )
    return path


def path_to_key(path: str) -> str:
    """The object key of a file path."""
    return path[1:]


def parse_copy_source(header: str) -> tuple[str, str]:
    """``x-amz-copy-source`` (``/bucket/key`` or ``bucket/key``, URL-encoded) as (bucket, key)."""
    text = unquote(header.partition("?")[0]).lstrip("/")
    bucket, _, key = text.partition("/")
    if not bucket or not key:
        raise S3Error(
            "InvalidArgument",
            f"x-amz-copy-source '{header}' is not /BUCKET/KEY (for example /master.raw/data.csv)",
        )
    if "?versionId=" in header:
        raise S3Error(
            "NotImplemented",
            "pachstream buckets have no object versions; name a commit bucket instead",
        )
    return bucket, key


@dataclass(frozen=True, slots=True)
class CommitTiming:
    """When the gateway finishes the commit it holds open on a branch under load.

    Writes to an idle branch are committed at once, one commit per request batch; while a
    commit is in flight, further writes go into one open commit that finishes after
    ``files`` files, ``seconds`` since it opened, or ``quiet`` seconds without a write,
    whichever comes first (the repo's ingest policy gives ``files`` and ``seconds``).
    """

    files: int = 1000
    seconds: float = 5.0
    quiet: float = 0.5

    def due(self, files: int, age_s: float, idle_s: float) -> bool:
        """Whether an open commit with ``files`` writes, opened ``age_s`` ago and last written
        ``idle_s`` ago, finishes now.
        """
        return files >= self.files or age_s >= self.seconds or idle_s >= self.quiet
