"""The async SDK: the same verbs as the CLI.

Writes are requests on the requests topic; each waits for its one answer, which the
materializer writes to the ``requests`` table and announces with NOTIFY. So a call returns
only when its effect is readable (read-after-write), and a refusal comes back as the matching
:mod:`pachstream.errors` class. Reads come from Postgres (repos, branches, commits) and the
object store (trees, content).

References are pachctl's: ``repo@branch``, ``repo@<commit id>``, ``repo@master^``,
``repo@master~3``; a bare ``repo`` means ``repo@master``.
"""

from __future__ import annotations

import asyncio
import collections
import difflib
import functools
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pachstream.client._lineage import LineageVerbs
from pachstream.errors import (
    BranchNotFound,
    CommitAlreadyOpen,
    CommitNotFound,
    Conflict,
    FileNotFound,
    InvalidInput,
    IsADirectory,
    OutputRepo,
    RepoNotFound,
    Unavailable,
    from_code,
)
from pachstream.lineage import queries
from pachstream.names import validate_repo_name
from pachstream.paths import normalize_path, validate_file_path
from pachstream.pg import connect_pool
from pachstream.refs import parse_branch_ref, parse_commit_ref
from pachstream.settings import Settings

from ._collector import held_objects_set_aside
from ._info import BranchInfo, CommitInfo, DiffInfo, FileInfo, RepoInfo
from ._notices import FALLBACK_S, Answers, Notices
from ._parity import ParityVerbs
from ._pipelines import PipelineVerbs

# The request records, the content writer, the trees and the Kafka and S3 transports are
# imported where they are first used: a read such as `pachstream list repo` needs Postgres
# only, and importing aiokafka, aiobotocore and the commit processor costs it a second.
if TYPE_CHECKING:
    from pachstream.commits.events import ModifyFiles
    from pachstream.content import ContentWriter
    from pachstream.kafka import Producer
    from pachstream.model import Chunk, FileEntry, FileOp
    from pachstream.objectstore import ObjectStore
    from pachstream.tree import Root, TreeStore

BATCH_OPS = 2000
"""File ops per request record."""
BATCH_BYTES = 32 * 1024 * 1024
"""Content read into memory before it is stored and its ops are sent."""
STORE_AHEAD = 3
"""Batches of in-memory files (:meth:`Client.put_files`) stored while the batch before them
is sent: each store waits on its known-content query and its pack's upload more than on this
process, so several overlap (bench ingest, 7 alternating pairs, means: sending 1.61 -> 1.40 s,
the whole put 3.27 -> 3.08 s, at 1 against 3). Their content is in the caller's memory
already; a local put reads its files one batch ahead only."""

Progress = Callable[[int, int], None]
"""Called with (files done, bytes done) as a put goes on."""
T = TypeVar("T")
SCHEMA_POLL_S = 0.1
"""How often a connecting client looks whether the lineage processor has migrated its tables."""


class Client(PipelineVerbs, LineageVerbs, ParityVerbs):
    """A connection to one pachstream namespace. Use ``async with Client.connect()``."""

    def __init__(self, settings: Settings, *, timeout_s: float = 120.0, pool_size: int = 4) -> None:
        self.settings = settings
        self._pool_size = pool_size
        self._kafka, self._pg, self._s3 = settings.require()
        self.timeout_s = timeout_s
        # Made on first use (see the imports): reads of Postgres only never load them.
        self._producer: Producer | None = None
        self._objects: ObjectStore | None = None
        self._tree_store: TreeStore | None = None
        self._content_writer: ContentWriter | None = None
        self._pool: Any = None
        self._listener: Any = None
        self._notices = Notices()
        self._answers: Answers[queries.RequestAnswer] = Answers(self._lookup_answers)
        self._producing = False
        self._producer_lock = asyncio.Lock()
        self._listen_lock = asyncio.Lock()

    @classmethod
    async def connect(
        cls, settings: Settings | None = None, *, timeout_s: float = 120.0, pool_size: int = 4
    ) -> Client:
        """Connect to the servers named by ``settings`` (default: the environment/stack);
        ``pool_size`` Postgres connections (a server such as the S3 gateway wants more).
        """
        client = cls(settings or Settings.from_env(), timeout_s=timeout_s, pool_size=pool_size)
        try:
            await client._open()
        except BaseException:
            await client.close()
            raise
        return client

    async def _open(self) -> None:
        self._pool = await connect_pool(self._pg, self.settings.namespace, max_size=self._pool_size)
        # The lineage processor owns the query tables and migrates them as it starts: a client
        # connecting meanwhile (right after `pachstream up`) waits for them rather than read
        # missing or older tables. One query when they are current (the usual case).
        deadline = time.monotonic() + self.timeout_s
        while not await queries.schema_ready(self._pool):
            if time.monotonic() >= deadline:
                version = await queries.schema_version(self._pool)
                found = "missing" if version is None else f"at version {version}"
                raise Unavailable(
                    f"the query tables of namespace '{self.settings.namespace}' are still "
                    f"{found} (this pachstream reads version {queries.SCHEMA_VERSION}) after "
                    f"{self.timeout_s:.0f}s; is the lineage processor running? "
                    "('pachstream status')",
                    namespace=self.settings.namespace,
                )
            await asyncio.sleep(SCHEMA_POLL_S)

    async def _listen(self) -> None:
        """LISTEN for the materializer's announcements, from the first wait on: a read-only
        call (a CLI read) never needs the second connection.
        """
        if self._listener is None and self._pool is not None:
            async with self._listen_lock:
                if self._listener is None:
                    listener = await self._pool.acquire()
                    await listener.add_listener(
                        queries.notify_channel(self.settings.namespace), self._on_notify
                    )
                    self._listener = listener

    def _on_notify(self, *_: Any) -> None:
        self._notices.notify()
        self._answers.poke()

    async def _lookup_answers(self, request_ids: list[str]) -> dict[str, queries.RequestAnswer]:
        return await queries.request_answers(self._pool, request_ids)

    async def close(self) -> None:
        """Release every connection. Idempotent."""
        await self._answers.close()
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.remove_listener(
                queries.notify_channel(self.settings.namespace), self._on_notify
            )
            await self._pool.release(listener)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._producer is not None:
            await self._producer.stop()
        if self._objects is not None:
            await self._objects.close()

    async def __aenter__(self) -> Client:
        return self

    @property
    def objects(self) -> ObjectStore:
        """The namespace's object store (content, trees, logs)."""
        if self._objects is None:
            from pachstream.objectstore import S3ObjectStore

            self._objects = S3ObjectStore(self._s3, self.settings.namespace)
        return self._objects

    @property
    def _trees(self) -> TreeStore:
        if self._tree_store is None:
            from pachstream.tree import TreeStore

            self._tree_store = TreeStore(self.objects)
        return self._tree_store

    @property
    def _writer(self) -> ContentWriter:
        if self._content_writer is None:
            from pachstream.content import ContentWriter

            self._content_writer = ContentWriter(self.objects, self._known_chunks)
        return self._content_writer

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ requests and answers

    @staticmethod
    def _rid() -> str:
        return uuid.uuid4().hex

    async def _send(self, requests: list[Any]) -> None:
        from pachstream.codec import encode
        from pachstream.kafka import Producer, Topics, ensure_topics

        topics = Topics(self.settings.namespace)
        if not self._producing:
            # Reads never touch the broker: connect on the first write only (CLI reads stay fast).
            async with self._producer_lock:
                if not self._producing:
                    # Before any metadata request: a broker that auto-creates (Tansu) would
                    # otherwise make the topic with its own partition count.
                    await ensure_topics(self._kafka, topics.all(self._kafka.partitions))
                    self._producer = Producer(self._kafka)
                    await self._producer.start()
                    self._producing = True
        assert self._producer is not None
        # Keyed by repo (pipeline requests: by pipeline) so that each stays ordered.
        await self._producer.send_all(
            (topics.requests, getattr(r, "repo", None) or r.pipeline, encode(r)) for r in requests
        )

    async def _wait_until(
        self, probe: Callable[[], Any], what: str, timeout_s: float | None = None
    ) -> Any:
        """Call ``probe`` whenever the materializer announces rows, until it returns non-None."""
        await self._listen()  # before the first probe: no announcement falls in between
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        while True:
            mark = self._notices.mark()  # before the look: a notice during it ends the wait
            result = await probe()
            if result is not None:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._no_answer(what)
            # NOTIFY wakes us at once; the short timeout is a fallback if a notice is lost.
            await self._notices.wait(mark, min(left, FALLBACK_S))

    def _no_answer(self, what: str) -> Unavailable:
        return Unavailable(
            f"no answer for {what} within {self.timeout_s:.0f}s; are the processors "
            "running? ('pachstream status')"
        )

    async def _answer(self, request_id: str, what: str) -> str | None:
        """Wait for a request's answer; its commit id, or the refusal raised. Concurrent
        waits share their lookups (:class:`Answers`).
        """
        await self._listen()  # before the first lookup: no announcement falls in between
        answer = await self._answers.wait(request_id, self.timeout_s)
        if answer is None:
            raise self._no_answer(what)
        if not answer.ok:
            raise from_code(
                answer.error_code or "", answer.error_message or "", answer.error_fields
            )
        return answer.commit_id

    async def _request(self, req: Any, what: str) -> str | None:
        await self._send([req])
        return await self._answer(req.request_id, what)

    # ------------------------------------------------------------------ repos

    async def create_repo(self, repo: str, description: str = "", *, update: bool = False) -> None:
        """Create a repo (or, with ``update``, change its description)."""
        from pachstream.commits.events import CreateRepo

        validate_repo_name(repo)
        req = CreateRepo(
            request_id=self._rid(),
            repo=repo,
            time=time.time(),
            description=description,
            update=update,
        )
        await self._request(req, f"create repo {repo}")

    async def delete_repo(self, repo: str, *, force: bool = False) -> list[str]:
        """Delete a repo with every branch and commit; what else it did, one line each.

        Refused while pipelines read it, unless ``force``: they are stopped (they must not
        run on nothing). A pipeline's output repo goes with its pipeline: refused, unless
        ``force``, which deletes the pipeline.
        """
        from pachstream.commits.events import DeleteRepo

        validate_repo_name(repo)
        owner = await queries.repo_owner(self._pool, repo)
        if owner is not None:
            if not force:
                raise OutputRepo(
                    f"repo '{repo}' is the output of pipeline '{owner}'; delete the pipeline "
                    f"('pachstream delete pipeline {owner}'), or pass --force to delete it "
                    "with its repo",
                    repo=repo,
                    pipeline=owner,
                )
            stopped = await self.delete_pipeline(owner, force=True)
            return [f"deleted pipeline {owner}"] + [f"stopped pipeline {s}" for s in stopped]
        readers = await self.readers_of(repo)
        if readers and not force:
            names = ", ".join(f"'{r}'" for r in readers)
            raise Conflict(
                f"repo '{repo}' is read by pipeline(s) {names}; delete or update them first, "
                "or pass --force to delete the repo and stop them",
                repo=repo,
            )
        req = DeleteRepo(request_id=self._rid(), repo=repo, time=time.time(), force=force)
        await self._request(req, f"delete repo {repo}")
        return [f"stopped pipeline {r}" for r in readers]

    async def list_repo(self) -> list[RepoInfo]:
        """Every repo, newest first."""
        return await queries.list_repos(self._pool)

    async def inspect_repo(self, repo: str) -> RepoInfo:
        """One repo; RepoNotFound when absent."""
        validate_repo_name(repo)
        repos = await self.list_repo()
        for info in repos:
            if info.name == repo:
                return info
        raise _repo_missing(repo, [r.name for r in repos])

    # ------------------------------------------------------------------ branches

    async def create_branch(self, branch_ref: str, head: str | None = None) -> None:
        """Create or move ``repo@branch`` to ``head`` (a ref such as ``master^`` or a commit id)."""
        from pachstream.commits.events import CreateBranch

        bref = parse_branch_ref(branch_ref)
        repo, branch = bref.repo, bref.branch
        head_id = None
        if head is not None:
            ref = head if "@" in head else f"{repo}@{head}"
            head_id = (await self.inspect_commit(ref)).id
        req = CreateBranch(
            request_id=self._rid(), repo=repo, branch=branch, time=time.time(), head=head_id
        )
        await self._request(req, f"create branch {branch_ref}")

    async def delete_branch(self, branch_ref: str, *, force: bool = False) -> None:
        """Delete a branch; its finished commits stay reachable by id.

        A branch with an open commit is refused (finish the commit first), unless ``force``,
        which drops that commit and its writes with the branch.
        """
        from pachstream.commits.events import DeleteBranch

        bref = parse_branch_ref(branch_ref)
        repo, branch = bref.repo, bref.branch
        req = DeleteBranch(
            request_id=self._rid(), repo=repo, branch=branch, time=time.time(), force=force
        )
        await self._request(req, f"delete branch {branch_ref}")

    async def list_branch(self, repo: str) -> list[BranchInfo]:
        """Branches of a repo."""
        await self._need_repo(repo)
        return await queries.list_branches(self._pool, repo)

    async def inspect_branch(self, branch_ref: str) -> BranchInfo:
        """One branch and its head; BranchNotFound when absent."""
        bref = parse_branch_ref(branch_ref)
        validate_repo_name(bref.repo)
        # The branch first: it exists on every S3 gateway request that names a bucket, so the
        # repo is looked up only to say which is missing (a branch row goes with its repo).
        found = await queries.branch(self._pool, bref.repo, bref.branch)
        if found is None:
            await self._need_repo(bref.repo)
            raise BranchNotFound(
                f"branch '{bref.branch}' does not exist in repo '{bref.repo}'; "
                f"see 'pachstream list branch {bref.repo}'",
                repo=bref.repo,
                branch=bref.branch,
            )
        return found

    async def _need_repo(self, repo: str) -> None:
        validate_repo_name(repo)
        if not await queries.repo_exists(self._pool, repo):
            raise _repo_missing(repo, await queries.repo_names(self._pool))

    # ------------------------------------------------------------------ commits

    async def start_commit(
        self, branch_ref: str, description: str = "", *, require_branch: bool = False
    ) -> str:
        """Open a commit on a branch (created if absent; with ``require_branch``, refused
        with ``BranchNotFound`` instead); its id.
        """
        from pachstream.commits.events import StartCommit

        bref = parse_branch_ref(branch_ref)
        repo, branch = bref.repo, bref.branch
        req = StartCommit(
            request_id=self._rid(),
            repo=repo,
            branch=branch,
            time=time.time(),
            description=description,
            require_branch=require_branch,
        )
        cid = await self._request(req, f"start commit {branch_ref}")
        assert cid is not None
        return cid

    async def finish_commit(self, branch_ref: str, description: str | None = None) -> str:
        """Finish the branch's open commit; returns when it is readable."""
        from pachstream.commits.events import FinishCommit

        bref = parse_branch_ref(branch_ref)
        repo, branch = bref.repo, bref.branch
        req = FinishCommit(
            request_id=self._rid(),
            repo=repo,
            branch=branch,
            time=time.time(),
            description=description,
        )
        cid = await self._request(req, f"finish commit {branch_ref}")
        assert cid is not None
        return cid

    async def delete_commit(self, commit_ref: str) -> CommitInfo:
        """Delete a commit without children (``repo@id``, ``repo@master``...): an open one is
        dropped with its writes; a finished one's branches go back to its parent, and the
        pipelines reading them run on it again. Returns the commit deleted.
        """
        from pachstream.commits.events import DeleteCommit

        info = await self.inspect_commit(commit_ref)
        req = DeleteCommit(
            request_id=self._rid(), repo=info.repo, commit_id=info.id, time=time.time()
        )
        await self._request(req, f"delete commit {commit_ref}")
        return info

    async def squash_commit(self, commit_ref: str) -> CommitInfo:
        """Take a finished commit with children out of history: its data stays in them (their
        trees are whole), and they follow its parent. Returns the commit squashed.
        """
        from pachstream.commits.events import SquashCommit

        info = await self.inspect_commit(commit_ref)
        req = SquashCommit(
            request_id=self._rid(), repo=info.repo, commit_id=info.id, time=time.time()
        )
        await self._request(req, f"squash commit {commit_ref}")
        return info

    @asynccontextmanager
    async def commit(self, branch_ref: str, description: str = "") -> AsyncIterator[OpenCommit]:
        """Open a commit; finish it on normal exit. On an exception the commit stays open and
        the exception carries a note naming it (finish or inspect it by hand).
        """
        cid = await self.start_commit(branch_ref, description)
        handle = OpenCommit(self, branch_ref, cid)
        try:
            yield handle
        except BaseException as exc:
            exc.add_note(
                f"commit {cid} on {branch_ref} was left open; finish it with "
                f"'pachstream finish commit {branch_ref}'"
            )
            raise
        await self.finish_commit(branch_ref)

    async def inspect_commit(self, commit_ref: str) -> CommitInfo:
        """The commit a reference names (``repo@master~2``...)."""
        ref = parse_commit_ref(commit_ref)
        await self._need_repo(ref.repo)
        on = await queries.branch(self._pool, ref.repo, ref.ref)
        info = None
        if on is not None and on.head is not None:
            info = await queries.commit(self._pool, on.head)
        elif on is not None:
            raise CommitNotFound(
                f"branch '{ref.ref}' of repo '{ref.repo}' has no commits yet; put a file first",
                repo=ref.repo,
                branch=ref.ref,
            )
        else:
            info = await queries.commit(self._pool, ref.ref, repo=ref.repo)
            if info is None:
                # repo@<commit set id>: the repo's commit of that set (Pachyderm's global ids).
                info = await queries.commitset_commit(self._pool, ref.repo, ref.ref)
            if info is None:
                branches = await queries.list_branches(self._pool, ref.repo)
                near = _close(ref.ref, [b.name for b in branches])
                raise BranchNotFound(
                    f"'{ref.ref}' is neither a branch nor a commit of repo '{ref.repo}'; "
                    + (f"did you mean the branch {near}? " if near else "")
                    + f"see 'pachstream list branch {ref.repo}'",
                    repo=ref.repo,
                    ref=ref.ref,
                )
        if info is not None and ref.from_start is not None:
            chain = await queries.ancestry(self._pool, info.id)
            if not 1 <= ref.from_start <= len(chain):
                raise CommitNotFound(
                    f"'{commit_ref}': the branch has only {len(chain)} commits",
                    repo=ref.repo,
                    ref=commit_ref,
                )
            info = await queries.commit(self._pool, chain[-ref.from_start])
        for step in range(ref.ancestry):
            if info is None or info.parent is None:
                raise CommitNotFound(
                    f"'{commit_ref}' goes back {ref.ancestry} commits but the history ends "
                    f"after {step}",
                    repo=ref.repo,
                    ref=commit_ref,
                )
            info = await queries.commit(self._pool, info.parent)
        if info is None:
            # A branch head or parent whose row is not materialized yet.
            raise CommitNotFound(
                f"'{commit_ref}' names a commit that is not readable yet; try again",
                repo=ref.repo,
                ref=commit_ref,
            )
        return info

    async def list_commit(self, repo_or_ref: str, *, limit: int | None = None) -> list[CommitInfo]:
        """Commits newest first: all of a repo, or the ancestry of ``repo@branch``."""
        if "@" not in repo_or_ref:
            parse_commit_ref(repo_or_ref)  # `images:master` is refused naming images@master
            await self._need_repo(repo_or_ref)
            return await queries.repo_commits(self._pool, repo_or_ref, limit)
        head = await self.inspect_commit(repo_or_ref)
        return await queries.commit_chain(self._pool, head.id, limit)

    async def list_open_commits(self, description: str | None = None) -> list[CommitInfo]:
        """Every commit not yet finished, in every repo, oldest first.

        Args:
            description: Only the open commits with this description (a server finding
                the commits it opened and left open when it stopped, say).

        """
        return await queries.open_commits(self._pool, description)

    async def wait_commit(self, commit_ref: str, timeout_s: float | None = None) -> CommitInfo:
        """Block until the commit a reference names (a branch head, say) is finished."""

        async def probe() -> CommitInfo | None:
            try:
                info = await self.inspect_commit(commit_ref)
            except CommitNotFound:
                return None
            except BranchNotFound:
                # A pipeline's output branch exists from its first output commit on: wait.
                ref = parse_commit_ref(commit_ref)
                owner = await queries.repo_owner(self._pool, ref.repo)
                if owner is None or ref.ref != "master":
                    raise
                return None
            return info if info.finished is not None else None

        info: CommitInfo = await self._wait_until(probe, f"wait commit {commit_ref}", timeout_s)
        return info

    # ------------------------------------------------------------------ writing files

    @property
    def trees(self) -> TreeStore:
        """The commit trees (for servers that read files of many commits, as the S3 gateway)."""
        return self._trees

    async def store_contents(self, contents: Iterable[bytes]) -> list[FileEntry]:
        """Store contents (deduplicated against what is stored) without writing any file yet:
        pass the entries to :meth:`modify_files`.
        """
        return await self._writer.store_many(contents)

    async def modify_files(self, branch_ref: str, ops: Iterable[FileOp], what: str = "") -> str:
        """One request of file ops: a commit of its own, or into the branch's open commit;
        the id of the commit they landed in. ``what`` names the call in a timeout's message.
        """
        request_id = await self.send_modify_files(branch_ref, ops)
        return await self.commit_of(request_id, what or f"put file {branch_ref}")

    async def send_modify_files(
        self, branch_ref: str, ops: Iterable[FileOp], *, require_branch: bool = False
    ) -> str:
        """Send one request of file ops (:meth:`modify_files` without the wait for its
        answer); returns once the broker has it, with its request id for :meth:`commit_of`.
        Requests sent one after the other to a repo are applied in that order. With
        ``require_branch``, a branch that does not exist is refused (``BranchNotFound``),
        not created.
        """
        from pachstream.commits.events import ModifyFiles

        bref = parse_branch_ref(branch_ref)
        req = ModifyFiles(
            request_id=self._rid(),
            repo=bref.repo,
            branch=bref.branch,
            time=time.time(),
            ops=tuple(ops),
            require_branch=require_branch,
        )
        await self._send([req])
        return req.request_id

    async def commit_of(self, request_id: str, what: str) -> str:
        """The id of the commit a sent request of file ops landed in, once it is applied (or
        the refusal, raised); ``what`` names the call in a timeout's message.
        """
        cid = await self._answer(request_id, what)
        assert cid is not None
        return cid

    async def _known_chunks(self, hashes: list[str]) -> dict[str, Chunk]:
        return await queries.known_chunks(self._pool, hashes)

    async def put_file(
        self, branch_ref: str, path: str, data: bytes | str, *, append: bool = False
    ) -> str:
        """Write one file (``str`` content is stored as UTF-8); returns the id of the commit it
        landed in (finished unless a commit was open on the branch).
        """
        return await self.put_files(branch_ref, [(path, data)], append=append)

    async def put_files(
        self,
        branch_ref: str,
        files: Iterable[tuple[str, bytes | str]],
        *,
        append: bool = False,
        progress: Progress | None = None,
    ) -> str:
        """Write many in-memory files as one commit (or into the branch's open commit);
        ``str`` content is stored as UTF-8.
        """
        named = (
            (validate_file_path(path), content.encode() if isinstance(content, str) else content)
            for path, content in files
        )
        stores = (functools.partial(self._store, group, append) for group in _groups(named))
        return await self._put_batches(branch_ref, _ahead(stores, STORE_AHEAD), progress)

    async def _store(self, pending: list[tuple[str, bytes]], append: bool) -> list[FileOp]:
        from pachstream.model import file_op

        entries = await self._writer.store_many(data for _, data in pending)
        kind: Literal["put", "append"] = "append" if append else "put"
        return [file_op(kind, p, e) for (p, _), e in zip(pending, entries, strict=True)]

    async def put_local(
        self,
        branch_ref: str,
        path: str,
        local: Path,
        *,
        recursive: bool = False,
        append: bool = False,
        progress: Progress | None = None,
    ) -> str:
        """Write a local file, or a directory's files with ``recursive``, under ``path``."""
        from pachstream.content import CHUNK_BYTES
        from pachstream.model import FileOp

        target = normalize_path(path)
        if local.is_dir():
            if not recursive:
                raise InvalidInput(
                    f"'{local}' is a directory; pass -r to put it recursively", local=str(local)
                )
            sources = sorted(p for p in local.rglob("*") if p.is_file())
            pairs = [
                (p, normalize_path(f"{target}/{p.relative_to(local).as_posix()}")) for p in sources
            ]
        elif local.is_file():
            pairs = [(local, target)]
        else:
            raise FileNotFound(f"local file '{local}' does not exist", local=str(local))
        for _, dest in pairs:
            validate_file_path(dest)
        kind: Literal["put", "append"] = "append" if append else "put"

        sized = [(src, dest, src.stat().st_size) for src, dest in pairs]
        big = [(src, dest) for src, dest, size in sized if size >= CHUNK_BYTES]
        # Read as their batch is taken (one ahead of the batch being sent), not all at once.
        small = ((dest, src.read_bytes()) for src, dest, size in sized if size < CHUNK_BYTES)

        async def stream(src: Path, dest: str) -> list[FileOp]:
            entry = await self._writer.store_stream(_read_pieces(src))
            return [FileOp(op=kind, path=dest, file=entry)]

        stores = itertools.chain(
            (functools.partial(self._store, group, append) for group in _groups(small)),
            (functools.partial(stream, src, dest) for src, dest in big),
        )
        return await self._put_batches(branch_ref, _ahead(stores, 1), progress)

    async def delete_file(self, branch_ref: str, path: str) -> str:
        """Delete a file, or a directory with everything under it."""
        from pachstream.model import FileOp

        op = FileOp(op="delete", path=normalize_path(path))
        return await self.modify_files(branch_ref, [op], f"delete file {branch_ref}:{path}")

    async def _put_batches(
        self, branch_ref: str, batches: AsyncIterator[list[FileOp]], progress: Progress | None
    ) -> str:
        """One batch: one request (auto-commit or into the open commit). More: one commit."""
        with held_objects_set_aside():
            return await self._put_batches_of(branch_ref, batches, progress)

    async def _put_batches_of(
        self, branch_ref: str, batches: AsyncIterator[list[FileOp]], progress: Progress | None
    ) -> str:
        from pachstream.commits.events import ModifyFiles

        bref = parse_branch_ref(branch_ref)
        repo, branch = bref.repo, bref.branch
        first = await anext(batches, None)
        if first is None:
            raise InvalidInput(f"nothing to put into {branch_ref}: no files given")
        second = await anext(batches, None)
        done_files = 0
        done_bytes = 0

        def tick(ops: list[FileOp]) -> None:
            nonlocal done_files, done_bytes
            done_files += len(ops)
            done_bytes += sum(op.file.size for op in ops if op.file)
            if progress:
                progress(done_files, done_bytes)

        def modify(ops: list[FileOp]) -> ModifyFiles:
            return ModifyFiles(
                request_id=self._rid(), repo=repo, branch=branch, time=time.time(), ops=tuple(ops)
            )

        if second is None:
            cid = await self._request(modify(first), f"put file {branch_ref}")
            tick(first)
            assert cid is not None
            return cid
        try:
            await self.start_commit(branch_ref)
            opened = True
        except CommitAlreadyOpen:
            opened = False  # the caller's open commit takes the files
        sent: list[str] = []
        for ops in (first, second):
            req = modify(ops)
            await self._send([req])
            sent.append(req.request_id)
            tick(ops)
        async for ops in batches:
            req = modify(ops)
            await self._send([req])
            sent.append(req.request_id)
            tick(ops)
        cid = None
        for rid in sent:
            cid = await self._answer(rid, f"put file {branch_ref}")
        if opened:
            return await self.finish_commit(branch_ref)
        assert cid is not None
        return cid

    # ------------------------------------------------------------------ reading files

    async def _finished(self, commit_ref: str) -> CommitInfo:
        info = await self.inspect_commit(commit_ref)
        if info.finished is None:
            raise Conflict(
                f"commit {info.id} ({commit_ref}) is still open; finish it, wait for it with "
                f"'pachstream wait commit {commit_ref}', or read its parent ({commit_ref}^)",
                repo=info.repo,
                commit_id=info.id,
            )
        return info

    async def _root(self, commit_ref: str) -> tuple[CommitInfo, Root]:
        info = await self._finished(commit_ref)
        return info, await self._trees.root(info.root)

    async def get_file(self, commit_ref: str, path: str) -> bytes:
        """A file's content."""
        return b"".join([piece async for piece in self.iter_file(commit_ref, path)])

    async def iter_file(self, commit_ref: str, path: str) -> AsyncIterator[bytes]:
        """A file's content, piece by piece (for large files)."""
        from pachstream.content import iter_file

        info, root = await self._root(commit_ref)
        target = normalize_path(path)
        entry = await self._trees.lookup(root, target)
        if entry is None:
            files, _ = await self._summary(info, target)
            if files:
                raise IsADirectory(
                    f"'{target}' is a directory in {commit_ref} ({files} files), not a file; "
                    f"use 'pachstream get file -r {commit_ref}:{target} -o DIR' or "
                    f"'pachstream list file {commit_ref}:{target}'",
                    repo=info.repo,
                    commit_id=info.id,
                    path=target,
                )
            raise await self._file_missing(commit_ref, info, target)
        async for piece in iter_file(self.objects, entry):
            yield piece

    async def _summary(self, info: CommitInfo, path: str) -> tuple[int, int]:
        """Files below a directory path as of a finished commit, and their bytes."""
        from ._listing import dir_prefix

        return await queries.dir_summary(self._pool, info.id, dir_prefix(path))

    async def _file_at(self, info: CommitInfo, path: str) -> FileInfo | None:
        found = await queries.file_at(self._pool, info.id, path)
        if found is None:
            return None
        return FileInfo(info.repo, info.id, path, "file", found.size, found.hash)

    async def _file_missing(self, commit_ref: str, info: CommitInfo, path: str) -> FileNotFound:
        """The error for a missing path, naming the closest entries of its directory."""
        from ._listing import dir_prefix

        parent = path.rsplit("/", 1)[0] or "/"
        entries = await queries.dir_entries(self._pool, info.id, dir_prefix(parent))
        near = _close(path, [dir_prefix(parent) + e.name for e in entries])
        return FileNotFound(
            f"file '{path}' does not exist in {commit_ref} (commit {info.id}); "
            + (f"did you mean {near}? " if near else "")
            + f"see 'pachstream list file {commit_ref}:{parent}'",
            repo=info.repo,
            commit_id=info.id,
            path=path,
        )

    async def list_file(self, commit_ref: str, path: str = "/") -> list[FileInfo]:
        """The entries of one directory level (or the one file ``path`` names).

        One Postgres query that returns one row per entry: the tree's shards are keyed by the
        hash of each path, so a directory's files lie in all of them.
        """
        from ._listing import children, dir_prefix

        info = await self._finished(commit_ref)
        target = normalize_path(path)
        if target != "/" and (file := await self._file_at(info, target)) is not None:
            return [file]
        entries = await queries.dir_entries(self._pool, info.id, dir_prefix(target))
        if not entries and target != "/":
            raise await self._file_missing(commit_ref, info, target)
        return children(info.repo, info.id, target, entries)

    async def glob_file(self, commit_ref: str, pattern: str) -> list[FileInfo]:
        """Files and directories that a Pachyderm glob pattern matches."""
        from pachstream.glob import glob_paths

        info = await self._finished(commit_ref)
        files = await queries.live_files(self._pool, info.id, "/")
        out = []
        for p in glob_paths(pattern, files):
            if p in files:
                out.append(FileInfo(info.repo, info.id, p, "file", files[p][1], files[p][0]))
            else:
                prefix = "/" if p == "/" else p + "/"
                size = sum(raw[1] for q, raw in files.items() if q.startswith(prefix))
                out.append(FileInfo(info.repo, info.id, p, "dir", size, None))
        return out

    async def inspect_file(self, commit_ref: str, path: str) -> FileInfo:
        """One file or directory."""
        info = await self._finished(commit_ref)
        target = normalize_path(path)
        if target != "/" and (file := await self._file_at(info, target)) is not None:
            return file
        files, size = await self._summary(info, target)
        if not files and target != "/":
            raise await self._file_missing(commit_ref, info, target)
        return FileInfo(info.repo, info.id, target, "dir", size, None)

    async def diff_file(self, new_ref: str, old_ref: str | None = None) -> list[DiffInfo]:
        """What changed from ``old_ref`` (default: the parent of ``new_ref``) to ``new_ref``."""
        new_info, new_root = await self._root(new_ref)
        if old_ref is None:
            old_root = await self._trees.root(None)
            if new_info.parent is not None:
                _, old_root = await self._root(f"{new_info.repo}@{new_info.parent}")
        else:
            _, old_root = await self._root(old_ref)
        diff = await self._trees.diff(old_root, new_root)
        return [
            DiffInfo(
                path,
                change,  # type: ignore[arg-type]
                cur[1] if cur else None,
                old[1] if old else None,
                cur[0] if cur else None,
            )
            for path, change, cur, old in diff
        ]


class OpenCommit:
    """The handle :meth:`Client.commit` yields: writes go into that commit."""

    def __init__(self, client: Client, branch_ref: str, commit_id: str) -> None:
        self.client = client
        self.branch_ref = branch_ref
        self.id = commit_id
        """The open commit's id."""

    async def put_file(self, path: str, data: bytes | str, *, append: bool = False) -> None:
        """Write a file into the open commit."""
        await self.client.put_file(self.branch_ref, path, data, append=append)

    async def put_files(self, files: Iterable[tuple[str, bytes | str]]) -> None:
        """Write many files into the open commit."""
        await self.client.put_files(self.branch_ref, files)

    async def delete_file(self, path: str) -> None:
        """Delete a file or directory in the open commit."""
        await self.client.delete_file(self.branch_ref, path)


def _groups(files: Iterable[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
    """``(path, content)`` pairs in batches of at most :data:`BATCH_OPS` files, each closed
    once it holds :data:`BATCH_BYTES` bytes or more; taken from ``files`` as they are asked for.
    """
    pending: list[tuple[str, bytes]] = []
    size = 0
    for path, data in files:
        pending.append((path, data))
        size += len(data)
        if len(pending) >= BATCH_OPS or size >= BATCH_BYTES:
            yield pending
            pending, size = [], 0
    if pending:
        yield pending


async def _ahead(jobs: Iterable[Callable[[], Awaitable[T]]], depth: int) -> AsyncIterator[T]:
    """The results of ``jobs``, in order, with up to ``depth`` of the next jobs running while
    the caller works on a result: a put's next batches are hashed, packed and uploaded while
    the last one's request is acknowledged (one after the other, the round trips added up:
    bench ingest). A job is taken from ``jobs`` only when it is started.
    """
    running: collections.deque[asyncio.Future[T]] = collections.deque()
    try:
        for job in jobs:
            running.append(asyncio.ensure_future(job()))
            if len(running) > depth:
                yield await running.popleft()
        while running:
            yield await running.popleft()
    finally:
        # The caller left first (or a job failed): its error is the one that counts.
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _read_pieces(path: Path) -> AsyncIterator[bytes]:
    from pachstream.content import CHUNK_BYTES

    with path.open("rb") as fh:
        while piece := fh.read(CHUNK_BYTES):
            yield piece


def _close(word: str, candidates: Iterable[str]) -> str:
    """The candidates close to a mistyped name, quoted, for "did you mean ...?"; '' if none."""
    return " or ".join(f"'{m}'" for m in difflib.get_close_matches(word, list(candidates), n=3))


def _repo_missing(repo: str, repos: Iterable[str] = ()) -> RepoNotFound:
    near = _close(repo, repos)
    hint = f"did you mean {near}? Or create it" if near else "create it"
    return RepoNotFound(
        f"repo '{repo}' does not exist; {hint} with 'pachstream create repo {repo}'", repo=repo
    )


__all__ = ["Client", "OpenCommit", "BranchNotFound"]
