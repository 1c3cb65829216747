"""The error hierarchy of pachstream.

::

    PachstreamError
    ├── ConfigError                 settings or data folder unusable
    ├── StackError                  an embedded server would not start or stop
    │   ├── KafkaUnavailable        the test broker cannot run here (no Java, Maven or jars)
    │   └── KubeUnavailable         the test Kubernetes control plane cannot (no Go, no build)
    ├── Unavailable (retriable)     a server did not answer in time
    ├── InvalidInput                bad user input; nothing was written
    │   ├── InvalidName             repo or branch name
    │   ├── InvalidPath             file path
    │   ├── InvalidRef              commit reference (``repo@branch~2``)
    │   ├── InvalidSpec             pipeline spec (names the field path)
    │   └── InvalidOutput           what user code left in /pfs/out cannot be uploaded
    ├── NotFound
    │   ├── RepoNotFound
    │   ├── BranchNotFound
    │   ├── CommitNotFound
    │   ├── FileNotFound
    │   │   └── IsADirectory        a file read names a directory
    │   ├── JobNotFound
    │   ├── PipelineNotFound
    │   ├── ObjectMissing           no object under a key in the object store
    │   └── ImageNotFound           a ``transform.image`` neither stored nor pullable
    ├── Conflict                    the request contradicts the current state
    │   ├── RepoExists
    │   ├── CommitAlreadyOpen
    │   ├── NoOpenCommit
    │   ├── OutputRepo              a write to a pipeline's output repo
    │   └── OutputConflict          two datums of a job wrote the same output path
    ├── JobFailed                   ``wait job``: the job ended, not in success
    ├── JobsFailed                  ``wait commitset``: a job it waited for did not succeed
    └── EventDecodeError            an event that does not parse (goes to the dead-letter topic)

Each error carries its fields as attributes and a message that names the object, the bad
value and the fix. Errors that the commit processor answers to a request travel as
``(code, message, fields)`` inside an event and are rebuilt on the client by :func:`from_code`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PachstreamError(Exception):
    """Base of every pachstream error."""

    retriable: ClassVar[bool] = False
    """Whether the same call may succeed if simply tried again."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    @property
    def code(self) -> str:
        """Stable name of the error, used on the wire."""
        return type(self).__name__


class ConfigError(PachstreamError):
    """Settings, environment or data folder are unusable."""


class StackError(PachstreamError):
    """An embedded server would not start or stop."""


class Unavailable(PachstreamError):
    """A server or processor did not answer in time."""

    retriable = True


class InvalidInput(PachstreamError):
    """Bad user input; nothing was written."""


class InvalidName(InvalidInput):
    """A repo or branch name breaks the naming rules."""


class InvalidPath(InvalidInput):
    """A file path breaks the path rules."""


class InvalidRef(InvalidInput):
    """A commit reference does not parse."""


class InvalidSpec(InvalidInput):
    """A pipeline spec is malformed, invalid, or uses an unsupported field."""


class InvalidOutput(InvalidInput):
    """What a datum's code left in ``/pfs/out`` cannot be uploaded (a dangling symlink...)."""


class NotFound(PachstreamError):
    """The named object does not exist."""


class RepoNotFound(NotFound):
    """No such repo."""


class BranchNotFound(NotFound):
    """No such branch."""


class CommitNotFound(NotFound):
    """No such commit."""


class FileNotFound(NotFound):
    """No such file in the commit."""


class IsADirectory(FileNotFound):
    """A file read names a directory (a FileNotFound, as before directories were told apart)."""


class Conflict(PachstreamError):
    """The request contradicts the current state."""


class RepoExists(Conflict):
    """A repo of that name already exists."""


class CommitAlreadyOpen(Conflict):
    """The branch already has an open commit."""


class OutputRepo(Conflict):
    """A write to a pipeline's output repo from anyone but its pipeline."""


class NoOpenCommit(Conflict):
    """The branch has no open commit to finish."""


class OutputConflict(Conflict):
    """Two datums of a job wrote the same output path."""


class JobNotFound(NotFound):
    """No job has this id."""


class PipelineNotFound(NotFound):
    """No pipeline has this name."""


class ObjectMissing(NotFound):
    """No object under that key."""


class ObjectStoreRefused(PachstreamError):
    """The object store answered a request with an error other than a missing key (access
    denied, no such bucket, a range past the end).
    """

    key: str
    bucket: str
    status: int
    answer: str
    """The store's own words: ``HTTP <status> <S3 code>: <message>``."""


class ImageNotFound(NotFound):
    """An image is neither in the local image store nor pullable from a registry.

    The message names the image and both ways to provide it (``pachstream image load FILE``,
    or skopeo with a reachable registry); pachstream never runs a command on the host instead.
    """


class KafkaUnavailable(StackError):
    """Apache Kafka cannot run here: Java or Maven is missing, or the jars cannot be fetched.

    The message is one line naming what is missing; tests skip on it.
    """


class KubeUnavailable(StackError):
    """The test Kubernetes control plane cannot run here: Go is missing or the build failed.

    The message is one line naming what is missing; tests skip on it.
    """


class JobFailed(PachstreamError):
    """``wait job``: the job ended, but not in success (its reason names the failed datums)."""


class JobsFailed(PachstreamError):
    """A job that ``wait commitset`` waited for did not succeed."""


class EventDecodeError(PachstreamError):
    """An event that does not decode or is invalid."""


def _all_subclasses(cls: type[PachstreamError]) -> dict[str, type[PachstreamError]]:
    out = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        out.update(_all_subclasses(sub))
    return out


def from_code(code: str, message: str, fields: dict[str, Any] | None = None) -> PachstreamError:
    """Rebuild an error received as ``(code, message, fields)``; unknown codes give the base."""
    cls = _all_subclasses(PachstreamError).get(code, PachstreamError)
    return cls(message, **(fields or {}))
