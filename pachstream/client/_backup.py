"""``extract`` and ``restore``: a namespace's repos, branches, commits, content and pipeline
specs to an archive, and back through the ordinary request path.

The archive (a folder, or a tar, gzipped when named ``.tar.gz``/``.tgz``) holds:

- ``manifest.json``: format and version, then per repo its description, branches (name and
  head) and finished commits, parents first, each with its message and its changes against
  its parent (path, change, and for a put the file's hash, size and chunk hashes); then the
  pipelines (name, state, spec).
- ``chunks/<sha256>``: each stored chunk's bytes, once, after the manifest (so a tar can be
  read as a stream).

Restore stores the chunks first, then replays each commit as ``start commit`` on its branch
(moving the branch to the replayed parent first when needed), the file ops, and ``finish
commit`` with the original message; then it sets every branch head and creates the pipelines
in dependency order (stopped ones are stopped again). Because files are rebuilt from the same
chunks, their hashes are the same. **Commit ids and times are new**: ids derive from the
requests that make them. Output repos of pipelines are not archived: the re-created pipelines
compute them again from the restored inputs. Open commits are skipped (a branch whose head is
open is archived at the last finished commit).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from pachstream.errors import Conflict, InvalidInput, RepoNotFound
from pachstream.lineage import queries

if TYPE_CHECKING:
    from pachstream.client._dag import Dag
    from pachstream.client._info import BranchInfo, PipelineInfo, RepoInfo
    from pachstream.content import ContentWriter
    from pachstream.model import Chunk, FileOp
    from pachstream.objectstore import ObjectStore
    from pachstream.tree import TreeStore

FORMAT = "pachstream-extract"
"""``manifest.json``'s ``format``."""
VERSION = 1
"""``manifest.json``'s ``version``: restore refuses newer ones."""
MANIFEST = "manifest.json"
"""The first member of an archive."""
CHUNKS_AT_ONCE = 16
"""Chunks read concurrently while extracting."""
STORE_BYTES = 32 * 1024 * 1024
"""Chunk bytes gathered before one store call while restoring."""
OPS_PER_REQUEST = 2000
"""File ops per request while restoring."""


# ----------------------------------------------------------------------------- pure parts


def order_commits(commits: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Commits with every parent before its children (ties: started, then id). A parent
    that is not among them counts as none. Pure.
    """
    items = sorted(commits, key=lambda c: (c["started"], c["id"]))
    ids = {c["id"] for c in items}
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    pending = items
    while pending:
        later = []
        for c in pending:
            parent = c.get("parent")
            if parent is None or parent not in ids or parent in done:
                out.append(c)
                done.add(c["id"])
            else:
                later.append(c)
        if len(later) == len(pending):  # a parent cycle cannot happen; never loop forever
            out.extend(later)
            break
        pending = later
    return out


def check_manifest(manifest: Any) -> dict[str, Any]:
    """The manifest, or InvalidInput saying what is wrong with it. Pure."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"not a pachstream extract: {MANIFEST} has no format {FORMAT!r}")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise InvalidInput(
            f"extract version {manifest.get('version')!r} is newer than this pachstream reads "
            f"({VERSION}); upgrade pachstream to restore it"
        )
    return manifest


@dataclass(frozen=True, slots=True)
class ExtractSummary:
    """What ``extract`` wrote."""

    repos: int
    """Repos with their commits."""
    commits: int
    """Finished commits."""
    chunks: int
    """Distinct chunks of content."""
    bytes: int
    """Their total size."""
    pipelines: int
    """Pipeline specs."""
    open_skipped: list[str] = field(default_factory=list)
    """``repo@id`` of open commits that were left out."""


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """What ``restore`` made."""

    repos: int
    """Repos created."""
    commits: int
    """Commits replayed."""
    pipelines: int
    """Pipelines created."""
    commit_ids: dict[str, str] = field(default_factory=dict)
    """Original commit id → the restored commit's id."""


# ----------------------------------------------------------------------------- archives


class _Writer(Protocol):
    def add(self, name: str, data: bytes) -> None: ...

    def close(self) -> None: ...


class _FolderWriter:
    def __init__(self, folder: Path) -> None:
        if folder.exists() and any(folder.iterdir()):
            raise InvalidInput(
                f"'{folder}' is not empty; extract into a new folder or a .tar file",
                path=str(folder),
            )
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder

    def add(self, name: str, data: bytes) -> None:
        dest = self._folder / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)

    def close(self) -> None:
        pass


class _TarWriter:
    def __init__(self, target: Path | IO[bytes], gzip: bool) -> None:
        import tarfile

        self._tarfile = tarfile
        if isinstance(target, Path):
            self._tar = tarfile.open(target, "w:gz" if gzip else "w")
        else:
            self._tar = tarfile.open(fileobj=target, mode="w|")

    def add(self, name: str, data: bytes) -> None:
        info = self._tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(time.time())
        self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()


def _is_tar(path: Path) -> bool:
    return path.name.endswith((".tar", ".tar.gz", ".tgz"))


def _writer(target: Path | IO[bytes]) -> _Writer:
    if not isinstance(target, Path):
        return _TarWriter(target, gzip=False)
    if _is_tar(target):
        return _TarWriter(target, gzip=not target.name.endswith(".tar"))
    return _FolderWriter(target)


def _members(source: Path | IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of an archive in order: the manifest first."""
    if isinstance(source, Path) and source.is_dir():
        manifest = source / MANIFEST
        if not manifest.is_file():
            raise InvalidInput(f"'{source}' has no {MANIFEST}; is it a pachstream extract?")
        yield MANIFEST, manifest.read_bytes()
        chunks = source / "chunks"
        for p in sorted(chunks.iterdir()) if chunks.is_dir() else []:
            yield f"chunks/{p.name}", p.read_bytes()
        return
    import tarfile

    if isinstance(source, Path) and not source.is_file():
        raise InvalidInput(f"'{source}' does not exist; give an extract's folder or tar file")
    try:
        tar = (
            tarfile.open(source, "r|*")
            if isinstance(source, Path)
            else tarfile.open(fileobj=source, mode="r|*")
        )
    except tarfile.TarError as exc:
        raise InvalidInput(f"'{source}' is not a tar file: {exc}") from exc
    with tar:
        for member in tar:
            if not member.isfile():
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            yield member.name.removeprefix("./"), fh.read()


# ----------------------------------------------------------------------------- the verbs


class BackupVerbs:
    """extract and restore."""

    # Provided by Client.
    _pool: Any
    if TYPE_CHECKING:

        @property
        def objects(self) -> ObjectStore: ...

        @property
        def _writer(self) -> ContentWriter: ...

        @property
        def _trees(self) -> TreeStore: ...

        async def list_repo(self) -> list[RepoInfo]: ...

        async def list_branch(self, repo: str) -> list[BranchInfo]: ...

        async def list_pipeline(self) -> list[PipelineInfo]: ...

        async def create_repo(
            self, repo: str, description: str = "", *, update: bool = False
        ) -> None: ...

        async def create_branch(self, branch_ref: str, head: str | None = None) -> None: ...

        async def delete_branch(self, branch_ref: str) -> None: ...

        async def start_commit(self, branch_ref: str, description: str = "") -> str: ...

        async def finish_commit(self, branch_ref: str, description: str | None = None) -> str: ...

        async def modify_files(
            self, branch_ref: str, ops: Iterable[FileOp], what: str = ""
        ) -> str: ...

        async def create_pipeline(
            self, spec: str | dict[str, Any], *, update: bool = False, reprocess: bool = False
        ) -> list[str]: ...

        async def stop_pipeline(self, name: str) -> None: ...

        async def pipeline_dag(self) -> Dag: ...

    # ------------------------------------------------------------------ extract

    async def extract(
        self, target: Path | IO[bytes], repos: Iterable[str] | None = None
    ) -> ExtractSummary:
        """Write the namespace's repos (or only ``repos``, with the pipelines of those names)
        to ``target``: a folder, a ``.tar``/``.tar.gz`` path, or a binary stream (a tar).
        """
        all_repos = {r.name: r for r in await self.list_repo()}
        pipelines = [p for p in await self.list_pipeline() if p.state != "deleted"]
        wanted = sorted(all_repos) if repos is None else list(dict.fromkeys(repos))
        for name in wanted:
            if name not in all_repos:
                raise RepoNotFound(
                    f"repo '{name}' does not exist; see 'pachstream list repo'", repo=name
                )
        outputs = {p.name for p in pipelines}
        chosen = [p for p in pipelines if repos is None or p.name in wanted]
        chunks: dict[str, Chunk] = {}
        open_skipped: list[str] = []
        manifest_repos = []
        commits_total = 0
        for name in wanted:
            repo = all_repos[name]
            entry: dict[str, Any] = {
                "name": name,
                "description": repo.description,
                "output_of": name if name in outputs else None,
                "branches": [],
                "commits": [],
            }
            manifest_repos.append(entry)
            if name in outputs:
                continue
            commits = await queries.repo_commits(self._pool, name)
            finished = {c.id: c for c in commits if c.finished is not None}
            open_skipped += [
                f"{name}@{c.id}"
                for c in sorted(commits, key=lambda c: (c.started, c.id))
                if c.finished is None
            ]
            for b in await self.list_branch(name):
                head = b.head
                while head is not None and head not in finished:
                    # An open head: the branch as of its last finished commit.
                    row = next((c for c in commits if c.id == head), None)
                    head = row.parent if row is not None else None
                entry["branches"].append({"name": b.name, "head": head})
            ordered = order_commits(
                {"id": c.id, "parent": c.parent, "started": c.started} for c in finished.values()
            )
            for o in ordered:
                done = finished[o["id"]]
                parent = done.parent if done.parent in finished else None
                entry["commits"].append(
                    {
                        "id": done.id,
                        "branch": done.branch,
                        "parent": parent,
                        "description": done.description,
                        "changes": await self._commit_changes(
                            done.root, finished[parent].root if parent else None, chunks
                        ),
                    }
                )
            commits_total += len(ordered)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created": time.time(),
            "repos": manifest_repos,
            "pipelines": [{"name": p.name, "state": p.state, "spec": p.spec} for p in chosen],
        }
        out = _writer(target)
        try:
            out.add(MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            await self._write_chunks(out, list(chunks.values()))
        finally:
            out.close()
        return ExtractSummary(
            repos=sum(1 for r in manifest_repos if r["output_of"] is None),
            commits=commits_total,
            chunks=len(chunks),
            bytes=sum(c.size for c in chunks.values()),
            pipelines=len(chosen),
            open_skipped=open_skipped,
        )

    async def _commit_changes(
        self, root_key: str | None, parent_key: str | None, chunks: dict[str, Chunk]
    ) -> list[dict[str, Any]]:
        from pachstream.model import Chunk

        new, old = await asyncio.gather(self._trees.root(root_key), self._trees.root(parent_key))
        changes: list[dict[str, Any]] = []
        for path, change, cur, _ in await self._trees.diff(old, new):
            if cur is None:
                changes.append({"path": path, "change": change})
                continue
            for c in cur[2]:
                chunks.setdefault(c[0], Chunk(hash=c[0], size=c[1], pack=c[2], offset=c[3]))
            changes.append(
                {
                    "path": path,
                    "change": change,
                    "hash": cur[0],
                    "size": cur[1],
                    "chunks": [c[0] for c in cur[2]],
                }
            )
        return changes

    async def _write_chunks(self, out: _Writer, chunks: list[Chunk]) -> None:
        from pachstream.content import read_chunk

        for start in range(0, len(chunks), CHUNKS_AT_ONCE):
            group = chunks[start : start + CHUNKS_AT_ONCE]
            datas = await asyncio.gather(*(read_chunk(self.objects, c) for c in group))
            for c, data in zip(group, datas, strict=True):
                out.add(f"chunks/{c.hash}", data)

    # ------------------------------------------------------------------ restore

    async def restore(self, source: Path | IO[bytes]) -> RestoreSummary:
        """Replay an extract into this namespace, which must not have its repos or
        pipelines yet. Commit contents, messages and branch heads match; ids are new.
        """
        members = _members(source)
        first = next(members, None)
        if first is None or first[0] != MANIFEST:
            raise InvalidInput(f"not a pachstream extract: it does not start with {MANIFEST}")
        try:
            manifest = check_manifest(orjson.loads(first[1]))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{MANIFEST} is not JSON: {exc}") from exc
        existing = {r.name for r in await self.list_repo()}
        for r in manifest["repos"]:
            if r["name"] in existing:
                raise Conflict(
                    f"repo '{r['name']}' already exists here; restore into an empty "
                    f"namespace (PACHSTREAM_NAMESPACE) or delete it with "
                    f"'pachstream delete repo {r['name']}'",
                    repo=r["name"],
                )
        stored = await self._store_chunks(members)
        ids: dict[str, str] = {}
        repos = 0
        for r in manifest["repos"]:
            if r["output_of"] is not None:
                continue
            await self._restore_repo(r, stored, ids)
            repos += 1
        pipelines = await self._restore_pipelines(manifest["pipelines"])
        return RestoreSummary(repos=repos, commits=len(ids), pipelines=pipelines, commit_ids=ids)

    async def _store_chunks(self, members: Iterator[tuple[str, bytes]]) -> dict[str, Chunk]:
        stored: dict[str, Chunk] = {}
        batch: list[bytes] = []
        size = 0

        async def flush() -> None:
            nonlocal batch, size
            for entry in await self._writer.store_many(batch):
                stored[entry.hash] = entry.chunks[0]
            batch, size = [], 0

        for name, data in members:
            if not name.startswith("chunks/"):
                continue
            expected = name.removeprefix("chunks/")
            if hashlib.sha256(data).hexdigest() != expected:
                raise InvalidInput(
                    f"chunk {expected} of the extract is damaged: its sha256 differs"
                )
            batch.append(data)
            size += len(data)
            if size >= STORE_BYTES:
                await flush()
        if batch:
            await flush()
        return stored

    async def _restore_repo(
        self, repo: dict[str, Any], stored: dict[str, Chunk], ids: dict[str, str]
    ) -> None:
        name = repo["name"]
        await self.create_repo(name, repo["description"])
        heads: dict[str, str | None] = {}
        for c in repo["commits"]:
            branch_ref = f"{name}@{c['branch']}"
            want = ids[c["parent"]] if c["parent"] else None
            if heads.get(c["branch"]) != want:
                if want is None:
                    await self.delete_branch(branch_ref)
                else:
                    await self.create_branch(branch_ref, want)
            await self.start_commit(branch_ref, c["description"])
            ops = [_op(ch, stored) for ch in c["changes"]]
            for start in range(0, len(ops), OPS_PER_REQUEST):
                await self.modify_files(
                    branch_ref, ops[start : start + OPS_PER_REQUEST], f"restore {branch_ref}"
                )
            ids[c["id"]] = heads[c["branch"]] = await self.finish_commit(branch_ref)
        for b in repo["branches"]:
            want = ids.get(b["head"]) if b["head"] else None
            if b["name"] not in heads or heads[b["name"]] != want:
                await self.create_branch(f"{name}@{b['name']}", want)
            heads[b["name"]] = want
        kept = {b["name"] for b in repo["branches"]}
        for branch in set(heads) - kept:
            await self.delete_branch(f"{name}@{branch}")

    async def _restore_pipelines(self, pipelines: list[dict[str, Any]]) -> int:
        from pachstream.client._dag import build_dag, topological
        from pachstream.dispatch.spec import parse_spec

        by_name = {p["name"]: p for p in pipelines}
        dag = build_dag(
            [], [(p["name"], p["state"], parse_spec(p["spec"]).repos()) for p in pipelines]
        )
        for name in topological(dag):
            await self.create_pipeline(by_name[name]["spec"])
            if by_name[name]["state"] == "stopped":
                await self.stop_pipeline(name)
        return len(pipelines)


def _op(change: dict[str, Any], stored: dict[str, Chunk]) -> FileOp:
    from pachstream.model import FileEntry, FileOp, file_hash

    if change["change"] == "deleted":
        return FileOp(op="delete", path=change["path"])
    try:
        chunks = tuple(stored[h] for h in change["chunks"])
    except KeyError as exc:
        raise InvalidInput(
            f"the extract lacks chunk {exc.args[0]} of {change['path']}; it is incomplete"
        ) from exc
    entry = FileEntry(hash=file_hash(chunks), size=sum(c.size for c in chunks), chunks=chunks)
    return FileOp(op="put", path=change["path"], file=entry)


__all__ = [
    "BackupVerbs",
    "ExtractSummary",
    "RestoreSummary",
    "check_manifest",
    "order_commits",
]
