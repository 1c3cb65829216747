"""The gateway's writes: content stored, file ops sent, commits opened and finished.

Concurrent writes share round trips (:class:`~._batch.Batcher`): small bodies arriving
together go into one pack object, and the ops of writes to one branch go in one request.
A PutObject is one step for its whole batch (:meth:`Writer.put`): the batch's bodies in one
pack, their records in one statement, then their ops in one request.
A batch is done once its request is sent; its writers then wait for the answer while the
next batch is stored and sent (requests to a branch still go in the order they were
batched). Waiting for the answer inside the batch kept one batch in flight per branch, so
a PUT's wait was its batch's store plus the whole round trip through the broker, the commit
processor and lineage, and the PUTs arriving meanwhile queued behind it. Were content and ops
two batchers, the PUTs in flight would split between them, each batch half the size, with
twice the requests, packs and statements for the processors, the broker and Postgres to
handle per PUT; and a PUT would wait for a batch of each kind before its own.
Whether those ops are a commit of their own or go into a commit the gateway holds open,
and when that commit finishes, is decided by the pure state machine of
:mod:`~._open_commit`; this shell feeds it what happened (a batch, a write, the timer, a
read, the outcome of a start or finish) and performs the one step each decision asks for.

Invariant: a branch's lock is held from a decision to the outcome of its step, so the
machine never sees an event in OPENING or FINISHING other than that outcome. A request is
sent under the lock (after its Write), and its Written is fed under the lock once answered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pachstream.client import Client
from pachstream.content import BLOB_MIN
from pachstream.errors import CommitAlreadyOpen, NoOpenCommit, NotFound, PachstreamError
from pachstream.gateway._batch import Batcher
from pachstream.gateway._core import CommitTiming, branch_required
from pachstream.gateway._open_commit import (
    GATEWAY_DESCRIPTION,
    Action,
    AlreadyOpen,
    BranchCommit,
    Event,
    Finished,
    FinishFailed,
    Gone,
    Settle,
    Started,
    StartFailed,
    Tick,
    Write,
    Written,
    decide,
)
from pachstream.model import FileEntry, FileOp

log = logging.getLogger("pachstream.s3gateway")


@dataclass(frozen=True, slots=True)
class Put:
    """One object to store and write (a PutObject)."""

    path: str
    """Its file path."""
    body: bytes
    """Its bytes."""
    record: Callable[[], Awaitable[None]]
    """Writes what is kept beside the bytes; done before the file op is sent."""


@dataclass
class _Branch:
    """The gateway's writes to one branch."""

    ref: str
    """``repo@branch``."""
    ops: Batcher[list[FileOp], asyncio.Task[str]] = field(init=False)
    """Groups the ops of concurrent writes into one request (each gets its answer to await)."""
    puts: Batcher[Put, tuple[FileEntry, asyncio.Task[str]]] = field(init=False)
    """Groups concurrent PutObjects: one pack, one records statement, one request."""
    answers: set[asyncio.Task[str]] = field(default_factory=set)
    """Requests sent and not answered yet: each task ends with its commit's id."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held from a decision of the open-commit machine to the outcome of its step."""
    conditional: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held across the check and the write of a conditional write."""
    commit: BranchCommit = field(default_factory=BranchCommit)
    """The state of the commit the gateway holds open on the branch."""

    confirmed: bool = False
    """Whether a request of this gateway to the branch was applied, and none refused as not
    found since: its bucket existed a moment ago. The processor still refuses every later
    request if the repo, or a required branch, is gone since (see :meth:`Writer.confirmed`)."""

    @property
    def required(self) -> bool:
        """Whether its requests ask for the branch to exist (:func:`branch_required`): a
        branch deleted meanwhile is refused, never made again by a write to its bucket.
        """
        return branch_required(self.ref.partition("@")[2])


class Writer:
    """Stores content and writes file ops to branches, holding commits open under load."""

    def __init__(
        self,
        client: Client,
        timing: Callable[[str], CommitTiming],
        observe: Callable[[str, float], None] = lambda stage, seconds: None,
    ) -> None:
        """Write through ``client``; ``timing(repo)`` says when an open commit finishes;
        ``observe(stage, seconds)`` is told how long each PutObject spent in each stage of
        :data:`~pachstream.metrics.PUT_STAGES` (the ``received`` one by the caller).
        """
        self._client = client
        self._timing = timing
        self.observe = observe
        self._branches: dict[str, _Branch] = {}
        self._contents: Batcher[bytes, FileEntry] = Batcher(client.store_contents, "s3gw-content")

    def state(self, branch_ref: str) -> BranchCommit:
        """The open-commit state of a branch (IDLE for one the gateway has not written)."""
        branch = self._branches.get(branch_ref)
        return branch.commit if branch is not None else BranchCommit()

    async def store(self, body: bytes) -> FileEntry:
        """Store one body; small ones arriving together share one pack object."""
        if len(body) >= BLOB_MIN:
            [entry] = await self._client.store_contents([body])  # its own object anyway
            return entry
        return await self._contents.submit(body)

    async def write(self, branch_ref: str, ops: list[FileOp]) -> str:
        """Write ``ops`` to the branch; the id of the commit they went into."""
        answer = await self._branch(branch_ref).ops.submit(ops)
        return await asyncio.shield(answer)  # shared with the batch: one writer gone stops none

    async def put(self, branch_ref: str, put: Put) -> tuple[FileEntry, str]:
        """Store ``put``'s body, run its ``record``, then write the file: its entry, and the
        id of the commit it went into. Concurrent puts to the branch go together.
        """
        start = time.monotonic()
        entry, answer = await self._branch(branch_ref).puts.submit(put)
        sent = time.monotonic()
        cid = await asyncio.shield(answer)
        self.observe("sent", sent - start)
        self.observe("applied", time.monotonic() - sent)
        return entry, cid

    def confirmed(self, branch_ref: str) -> bool:
        """Whether a write of this gateway to the branch was applied lately, and none was
        refused as not found since (:attr:`_Branch.confirmed`). A write's own check of its
        bucket may then be skipped: every request of the gateway asks the commit processor
        for the repo, and for the branch unless it is master (:func:`branch_required`), so
        a bucket deleted since is still refused (NoSuchBucket), by the write itself.
        """
        branch = self._branches.get(branch_ref)
        return branch is not None and branch.confirmed

    def conditional(self, branch_ref: str) -> asyncio.Lock:
        """The lock conditional writes to the branch hold across their check and write."""
        return self._branch(branch_ref).conditional

    async def settle(self, branch_ref: str) -> None:
        """Wait for the branch's queued writes and finish its open commit: a read that
        follows sees every write answered before it.
        """
        branch = self._branches.get(branch_ref)
        if branch is None:
            return
        await branch.puts.idle()
        await branch.ops.idle()
        while branch.answers:
            await asyncio.wait(list(branch.answers))
        async with branch.lock:
            await self._step(branch, Settle())

    def forget(self, branch_ref: str) -> None:
        """Drop what the gateway knows of a deleted branch (settled before)."""
        self._branches.pop(branch_ref, None)

    async def tick(self) -> None:
        """The timer: finish the open commits that are due (full, old or quiet)."""
        now = time.monotonic()
        for branch in list(self._branches.values()):
            if branch.lock.locked():
                continue  # a write or a read is driving it
            async with branch.lock:
                try:
                    busy = branch.ops.busy or branch.puts.busy or bool(branch.answers)
                    await self._step(branch, Tick(now, busy=busy))
                except NotFound:
                    pass  # the repo or branch is gone, and the commit with it
                except PachstreamError as err:
                    # Tried again in a while (a restart would finish it too); the gateway
                    # keeps serving meanwhile.
                    log.warning("could not finish the commit on %s: %s", branch.ref, err.message)

    async def settle_all(self) -> None:
        """Finish every open commit (on stop); a failure is logged, not raised."""
        for ref in list(self._branches):
            try:
                await self.settle(ref)
            except PachstreamError as err:
                log.warning("could not finish the open commit on %s: %s", ref, err.message)

    async def finish_left_behind(self) -> None:
        """Finish the open commits a previous gateway process left (it died holding them)."""
        for info in await self._client.list_open_commits(GATEWAY_DESCRIPTION):
            ref = f"{info.repo}@{info.branch}"
            try:
                await self._client.finish_commit(ref)
                log.info("finished the gateway commit left open on %s", ref)
            except PachstreamError as err:
                log.warning("left-behind commit on %s: %s", ref, err.message)

    # ------------------------------------------------------------------ the shell

    def _branch(self, branch_ref: str) -> _Branch:
        branch = self._branches.get(branch_ref)
        if branch is None:
            branch = _Branch(branch_ref)
            branch.ops = Batcher(functools.partial(self._send, branch), f"s3gw-{branch_ref}")
            branch.puts = Batcher(functools.partial(self._put, branch), f"s3gw-puts-{branch_ref}")
            self._branches[branch_ref] = branch
        return branch

    async def _send(self, branch: _Branch, batch: list[list[FileOp]]) -> list[asyncio.Task[str]]:
        """One request for the ops of concurrent writes (one batch)."""
        answer = await self._request(branch, [op for group in batch for op in group], len(batch))
        return [answer] * len(batch)

    async def _put(
        self, branch: _Branch, puts: list[Put]
    ) -> list[tuple[FileEntry, asyncio.Task[str]]]:
        """One batch of PutObjects: the bodies stored (one pack for the small ones) while
        their records are written, then their ops in one request.
        """
        entries, _ = await asyncio.gather(
            self._client.store_contents([p.body for p in puts]),
            asyncio.gather(*(p.record() for p in puts)),
        )
        ops = [FileOp(op="put", path=p.path, file=e) for p, e in zip(puts, entries, strict=True)]
        answer = await self._request(branch, ops, len(puts))
        return [(e, answer) for e in entries]

    async def _request(self, branch: _Branch, ops: list[FileOp], writes: int) -> asyncio.Task[str]:
        """Send ``ops`` (``writes`` writes') to the branch in one request; the task that
        awaits its answer, then tells the machine.
        """
        async with branch.lock:
            try:
                await self._step(branch, Write(writes, time.monotonic()))
            except NotFound:  # starting or finishing the branch's commit found no repo or branch
                branch.confirmed = False
                raise
            request_id = await self._client.send_modify_files(
                branch.ref, ops, require_branch=branch.required
            )
        answer = asyncio.create_task(self._answered(branch, request_id, len(ops)))
        branch.answers.add(answer)
        answer.add_done_callback(_forget(branch.answers))
        return answer

    async def _answered(self, branch: _Branch, request_id: str, ops: int) -> str:
        try:
            cid = await self._client.commit_of(request_id, f"put file {branch.ref}")
        except NotFound:
            branch.confirmed = False
            raise
        branch.confirmed = True
        async with branch.lock:
            await self._step(branch, Written(ops, time.monotonic()))
        return cid

    def _decide(self, branch: _Branch, event: Event) -> Action:
        decision = decide(branch.commit, event, self._timing(branch.ref.partition("@")[0]))
        branch.commit = decision.state
        return decision.action

    async def _step(self, branch: _Branch, event: Event) -> None:
        """Feed ``event`` to the machine and perform the step it asks for (the lock held).

        A failed start or finish is reported to the machine, then raised to the caller.
        """
        action = self._decide(branch, event)
        if action is Action.START:
            outcome: Event
            try:
                cid = await self._client.start_commit(
                    branch.ref, GATEWAY_DESCRIPTION, require_branch=branch.required
                )
                outcome = Started(cid, time.monotonic())
            except CommitAlreadyOpen:
                try:
                    info = await self._client.inspect_commit(branch.ref)
                except BaseException:
                    self._decide(branch, StartFailed())
                    raise
                outcome = AlreadyOpen(info.id, info.description, time.monotonic())
            except BaseException:
                self._decide(branch, StartFailed())
                raise
            self._decide(branch, outcome)
        elif action is Action.FINISH:
            try:
                await self._client.finish_commit(branch.ref)
            except NoOpenCommit:
                pass  # finished by someone else; the writes are in it
            except NotFound:
                self._decide(branch, Gone())
                raise
            except BaseException:
                self._decide(branch, FinishFailed(time.monotonic()))
                raise
            self._decide(branch, Finished())


def _forget(answers: set[asyncio.Task[str]]) -> Callable[[asyncio.Task[str]], None]:
    """Done callback: the answer leaves ``answers``; its error counts as seen (each writer
    that waits for it gets it; if all of them left, no one is there to see it).
    """

    def done(task: asyncio.Task[str]) -> None:
        answers.discard(task)
        if not task.cancelled():
            task.exception()

    return done


__all__ = ["Put", "Writer"]
