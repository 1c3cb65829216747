"""Every read of the lineage tables: the one place that knows their SQL.

The lineage processor (:class:`~pachstream.lineage.Materializer`) owns the tables it
materializes from the events topic (``repos``, ``branches``, ``commits``, ``requests``,
``blobs``, ``pipelines``, ``pipeline_states``, ``jobs``, ``datums``, ``commit_files``,
``commit_provenance``, ``datum_inputs``, ``datum_outputs``), and it alone migrates them. Other
components (the SDK, the workers, the ingest consumer) read them only through the functions
here, which return the frozen records of this module; so a schema change is a change of this
package.

Each function takes a :class:`Database` (an asyncpg pool or connection whose ``search_path``
is the namespace's schema) and runs one statement. None writes. Importing this module loads
neither the materializer nor asyncpg: the CLI imports it for its records and defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import orjson

from pachstream.errors import ConfigError
from pachstream.lineage._graph import (
    CommitEdge,
    CommitLineage,
    FileVersion,
    Lineage,
    LineageEdge,
    TreeNode,
    commit_edges,
    edges_from_rows,
    lineage,
    tree,
)
from pachstream.lineage._records import (
    BranchInfo,
    CommitInfo,
    DatumInfo,
    DatumLog,
    DirEntry,
    FileChange,
    JobInfo,
    PipelineVersion,
    RepoInfo,
    RequestAnswer,
    StoredFile,
    commit_info,
    datum_info,
    job_info,
)
from pachstream.lineage._schema import MIGRATIONS
from pachstream.model import Chunk

SCHEMA_VERSION = len(MIGRATIONS)
"""The version of the lineage tables that these queries read."""
DEFAULT_DEPTH = 100
"""Levels of lineage followed when no depth is given: more than any real DAG has."""
FINISHED_JOB_STATES = ("success", "failure", "killed")
"""The states a job ends in."""


class Database(Protocol):
    """What the queries need of an asyncpg pool or connection."""

    async def fetch(self, query: str, *args: Any) -> Any:
        """Every row."""

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """The first row, or None."""

    async def fetchval(self, query: str, *args: Any) -> Any:
        """The first column of the first row, or None."""


def notify_channel(namespace: str) -> str:
    """The Postgres channel on which the lineage processor announces new rows."""
    return f"{namespace}_changes"


# ----------------------------------------------------------------------------- the schema


async def schema_version(db: Database) -> int | None:
    """The version of the namespace's lineage tables; None before the lineage processor has
    created them.
    """
    from pachstream.pg import UndefinedTable  # asyncpg: only once a database is at hand

    try:
        version: int | None = await db.fetchval(
            "SELECT version FROM schema_migrations WHERE component = 'lineage'"
        )
    except UndefinedTable:
        return None
    return version


async def schema_ready(db: Database) -> bool:
    """Whether the lineage tables are at :data:`SCHEMA_VERSION` (False while the lineage
    processor has not migrated them yet); ConfigError when they are newer than this code.
    """
    version = await schema_version(db)
    if version is not None and version > SCHEMA_VERSION:
        raise ConfigError(
            f"the database schema of 'lineage' is at version {version}, newer than this "
            f"pachstream knows ({SCHEMA_VERSION}); upgrade pachstream to use this database"
        )
    return version == SCHEMA_VERSION


# ----------------------------------------------------------------------------- requests


async def request_answers(db: Database, request_ids: list[str]) -> dict[str, RequestAnswer]:
    """The answers there are of ``request_ids``, by request id (one query for all)."""
    rows = await db.fetch("SELECT * FROM requests WHERE request_id = ANY($1::text[])", request_ids)
    return {
        r["request_id"]: RequestAnswer(
            request_id=r["request_id"],
            ok=r["ok"],
            commit_id=r["commit_id"],
            error_code=r["error_code"],
            error_message=r["error_message"],
            error_fields=orjson.loads(r["error_fields"]) if r["error_fields"] else {},
        )
        for r in rows
    }


# ----------------------------------------------------------------------------- repos


async def list_repos(db: Database) -> list[RepoInfo]:
    """Every repo, newest first."""
    rows = await db.fetch(
        "SELECT r.*, (SELECT count(*) FROM branches b WHERE b.repo = r.name) AS branch_count, "
        "coalesce((SELECT c.size_bytes FROM branches b JOIN commits c ON c.id = b.head "
        "WHERE b.repo = r.name AND b.name = 'master'), 0) AS size_bytes "
        "FROM repos r ORDER BY r.created DESC, r.name"
    )
    return [
        RepoInfo(r["name"], r["description"], r["created"], r["size_bytes"], r["branch_count"])
        for r in rows
    ]


async def repo_exists(db: Database, repo: str) -> bool:
    """Whether the repo exists."""
    return await db.fetchval("SELECT 1 FROM repos WHERE name = $1", repo) is not None


async def repo_names(db: Database) -> list[str]:
    """Every repo's name."""
    return [r["name"] for r in await db.fetch("SELECT name FROM repos")]


async def events_applied(db: Database, topic: str) -> tuple[tuple[int, int], ...]:
    """How far these tables reflect the events topic ``topic``: (partition, next offset)."""
    rows = await db.fetch(
        "SELECT partition, next_offset FROM lineage_offsets WHERE topic = $1 ORDER BY partition",
        topic,
    )
    return tuple((int(r["partition"]), int(r["next_offset"])) for r in rows)


async def repo_owner(db: Database, repo: str) -> str | None:
    """The pipeline whose output the repo is; None for a repo users write (or none)."""
    owner: str | None = await db.fetchval("SELECT pipeline FROM repos WHERE name = $1", repo)
    return owner


# ----------------------------------------------------------------------------- branches


async def list_branches(db: Database, repo: str) -> list[BranchInfo]:
    """A repo's branches, by name."""
    rows = await db.fetch("SELECT * FROM branches WHERE repo = $1 ORDER BY name", repo)
    return [BranchInfo(r["repo"], r["name"], r["head"]) for r in rows]


async def branch(db: Database, repo: str, name: str) -> BranchInfo | None:
    """One branch (its head is None before its first commit); None when absent."""
    r = await db.fetchrow("SELECT * FROM branches WHERE repo = $1 AND name = $2", repo, name)
    return None if r is None else BranchInfo(r["repo"], r["name"], r["head"])


# ----------------------------------------------------------------------------- commits


async def commit(db: Database, commit_id: str, *, repo: str | None = None) -> CommitInfo | None:
    """The commit with this id (of ``repo`` when given); None when absent."""
    if repo is None:
        r = await db.fetchrow("SELECT * FROM commits WHERE id = $1", commit_id)
    else:
        r = await db.fetchrow("SELECT * FROM commits WHERE id = $1 AND repo = $2", commit_id, repo)
    return None if r is None else commit_info(r)


async def commitset_commit(db: Database, repo: str, commitset: str) -> CommitInfo | None:
    """A repo's newest commit of a commit set (``repo@<set id>``); None when it has none."""
    r = await db.fetchrow(
        "SELECT * FROM commits WHERE commitset = $1 AND repo = $2 ORDER BY started DESC LIMIT 1",
        commitset,
        repo,
    )
    return None if r is None else commit_info(r)


async def ancestry(db: Database, commit_id: str) -> list[str]:
    """The ids of a commit and its ancestors, the commit first, the root last."""
    rows = await db.fetch(
        "WITH RECURSIVE chain AS (SELECT id, parent FROM commits WHERE id = $1 "
        "UNION ALL SELECT c.id, c.parent FROM commits c JOIN chain ON c.id = chain.parent) "
        "SELECT id FROM chain",
        commit_id,
    )
    return [r["id"] for r in rows]


async def repo_commits(db: Database, repo: str, limit: int | None = None) -> list[CommitInfo]:
    """A repo's commits, newest first (``limit`` at most), open ones included."""
    rows = await db.fetch(
        "SELECT * FROM commits WHERE repo = $1 ORDER BY started DESC, id LIMIT $2", repo, limit
    )
    return [commit_info(r) for r in rows]


async def commit_chain(db: Database, head_id: str, limit: int | None = None) -> list[CommitInfo]:
    """A commit and its ancestors, the commit first (``limit`` commits at most)."""
    rows = await db.fetch(
        "WITH RECURSIVE chain AS (SELECT *, 0 AS depth FROM commits WHERE id = $1 "
        "UNION ALL SELECT c.*, chain.depth + 1 FROM commits c JOIN chain ON c.id = chain.parent "
        "WHERE $2::int IS NULL OR chain.depth + 1 < $2) "
        "SELECT * FROM chain ORDER BY depth",
        head_id,
        limit,
    )
    return [commit_info(r) for r in rows]


async def open_commits(db: Database, description: str | None = None) -> list[CommitInfo]:
    """Every commit not finished yet, in every repo (only those with this description when
    given), oldest first.
    """
    rows = await db.fetch(
        "SELECT * FROM commits WHERE finished IS NULL "
        "AND ($1::text IS NULL OR description = $1) ORDER BY started, id",
        description,
    )
    return [commit_info(r) for r in rows]


async def finished_commits(
    db: Database,
    repo: str,
    branch: str,
    *,
    started_after: float = float("-inf"),
    finished_since: float = float("-inf"),
) -> list[CommitInfo]:
    """A branch's finished commits started after ``started_after`` and finished at
    ``finished_since`` or later, in the order they finished.
    """
    rows = await db.fetch(
        "SELECT * FROM commits WHERE repo = $1 AND branch = $2 AND finished IS NOT NULL "
        "AND started > $3 AND finished >= $4 ORDER BY finished, started, id",
        repo,
        branch,
        started_after,
        finished_since,
    )
    return [commit_info(r) for r in rows]


async def file_changes(
    db: Database, head_id: str, path: str, limit: int | None = None
) -> list[FileChange]:
    """The commits along a commit's ancestry (itself included) that changed the canonical
    ``path`` or anything below it, nearest first: one query of ``commit_files``.
    """
    prefix = "/" if path == "/" else path + "/"
    rows = await db.fetch(
        "WITH RECURSIVE chain AS (SELECT id, parent, 0 AS depth FROM commits WHERE id = $1 "
        "UNION ALL SELECT c.id, c.parent, chain.depth + 1 FROM commits c "
        "JOIN chain ON c.id = chain.parent) "
        "SELECT c.*, f.path AS f_path, f.change AS f_change, f.size AS f_size, "
        "f.hash AS f_hash FROM chain JOIN commit_files f ON f.commit_id = chain.id "
        "JOIN commits c ON c.id = chain.id "
        "WHERE f.path = $2 OR starts_with(f.path, $3) "
        "ORDER BY chain.depth, f.path LIMIT $4",
        head_id,
        path,
        prefix,
        limit,
    )
    return [
        FileChange(commit_info(r), r["f_path"], r["f_change"], r["f_size"], r["f_hash"])
        for r in rows
    ]


async def last_changed(
    db: Database, commit_id: str, path: str | None = None, *, paths: Sequence[str] | None = None
) -> dict[str, float]:
    """When files last changed as of a commit: path → the finish time of the nearest commit
    on its ancestry whose diff names the path (only ``path`` when given: the walk stops at
    the first commit naming it; only ``paths`` when given, each looked up by the
    ``(repo, path)`` index). Paths no finished commit names are absent.
    """
    if path is None and paths is not None:
        rows = await db.fetch(
            "WITH RECURSIVE chain AS (SELECT id, parent, finished, 0 AS depth FROM commits "
            "WHERE id = $1 UNION ALL SELECT c.id, c.parent, c.finished, chain.depth + 1 "
            "FROM commits c JOIN chain ON c.id = chain.parent) "
            "SELECT DISTINCT ON (f.path) f.path, chain.finished "
            "FROM chain JOIN commit_files f ON f.commit_id = chain.id "
            "WHERE f.repo = (SELECT repo FROM commits WHERE id = $1) "
            "AND f.path = ANY($2::text[]) ORDER BY f.path, chain.depth",
            commit_id,
            list(paths),
        )
    elif path is not None:
        rows = await db.fetch(
            "WITH RECURSIVE chain AS ("
            "SELECT c.id, c.parent, c.finished, EXISTS (SELECT 1 FROM commit_files f "
            "WHERE f.commit_id = c.id AND f.path = $2) AS hit FROM commits c WHERE c.id = $1 "
            "UNION ALL SELECT c.id, c.parent, c.finished, EXISTS (SELECT 1 FROM commit_files f "
            "WHERE f.commit_id = c.id AND f.path = $2) FROM commits c "
            "JOIN chain ON c.id = chain.parent WHERE NOT chain.hit) "
            "SELECT $2::text AS path, finished FROM chain WHERE hit LIMIT 1",
            commit_id,
            path,
        )
    else:
        rows = await db.fetch(
            "WITH RECURSIVE chain AS (SELECT id, parent, finished, 0 AS depth FROM commits "
            "WHERE id = $1 UNION ALL SELECT c.id, c.parent, c.finished, chain.depth + 1 "
            "FROM commits c JOIN chain ON c.id = chain.parent) "
            "SELECT DISTINCT ON (f.path) f.path, chain.finished "
            "FROM chain JOIN commit_files f ON f.commit_id = chain.id "
            "ORDER BY f.path, chain.depth",
            commit_id,
        )
    return {r["path"]: float(r["finished"]) for r in rows if r["finished"] is not None}


# ----------------------------------------------------------------------------- commit sets


async def commit_commitset(db: Database, repo: str, commit_id: str) -> str | None:
    """The commit set a commit belongs to; None when the commit is unknown."""
    found: str | None = await db.fetchval(
        "SELECT commitset FROM commits WHERE id = $1 AND repo = $2", commit_id, repo
    )
    return found


async def commitset_commits(db: Database, commitset: str) -> list[CommitInfo]:
    """A commit set's commits, in the order they started (the origin first)."""
    rows = await db.fetch(
        "SELECT * FROM commits WHERE commitset = $1 ORDER BY started, id", commitset
    )
    return [commit_info(r) for r in rows]


async def commitset_jobs(db: Database, commitset: str) -> list[JobInfo]:
    """The started jobs that ran for a commit set, in the order they started."""
    rows = await db.fetch(
        "SELECT * FROM started_jobs WHERE commitset = $1 ORDER BY started, id", commitset
    )
    return [job_info(r) for r in rows]


async def recent_commitsets(db: Database, limit: int) -> list[str]:
    """The ids of the newest commit sets (by their first commit), newest first."""
    rows = await db.fetch(
        "SELECT commitset, min(started) AS started FROM commits GROUP BY commitset "
        "ORDER BY min(started) DESC, commitset LIMIT $1",
        limit,
    )
    return [r["commitset"] for r in rows]


# ----------------------------------------------------------------------------- content and files


async def known_chunks(db: Database, hashes: Sequence[str]) -> dict[str, Chunk]:
    """The stored chunks among ``hashes``, by hash."""
    rows = await db.fetch("SELECT * FROM blobs WHERE hash = ANY($1::text[])", list(hashes))
    return {
        r["hash"]: Chunk(hash=r["hash"], size=r["size"], pack=r["pack"], offset=r["pack_offset"])
        for r in rows
    }


# A finished commit's live files under a prefix: the nearest change of each path along its
# ancestry that is not a delete (``commit_files`` holds each commit's changed paths, written
# with the commit's finish). A tree is sharded by path hash, so a directory lies in every
# shard: one grouped query beats reading them all (about 900 reads for 2,000 files).
_LIVE = """
WITH RECURSIVE chain(id, n) AS (
    SELECT $1::text, 0
    UNION ALL
    SELECT c.parent, chain.n + 1 FROM chain JOIN commits c ON c.id = chain.id
    WHERE c.parent IS NOT NULL
), latest AS (
    SELECT DISTINCT ON (f.path) f.path, f.change, f.hash, f.size
    FROM chain JOIN commit_files f ON f.commit_id = chain.id
    WHERE starts_with(f.path, $2::text)
    ORDER BY f.path, chain.n
), live AS (
    SELECT path, substr(path, length($2::text) + 1) AS rest, hash, size
    FROM latest WHERE change <> 'deleted'
)
"""

_CHILDREN_SQL = (
    _LIVE
    + """
SELECT split_part(rest, '/', 1) AS name,
       bool_or(strpos(rest, '/') > 0) AS is_dir,
       coalesce(sum(size), 0)::bigint AS size,
       max(hash) FILTER (WHERE strpos(rest, '/') = 0) AS hash
FROM live GROUP BY 1
"""
)
_SUMMARY_SQL = _LIVE + "SELECT count(*) AS files, coalesce(sum(size), 0)::bigint AS size FROM live"
_FILES_SQL = _LIVE + "SELECT path, hash, size FROM live"


async def file_at(db: Database, commit_id: str, path: str) -> StoredFile | None:
    """The file at a canonical path as of a commit; None when absent or deleted (or a
    directory).
    """
    r = await db.fetchrow("SELECT * FROM file_at($1, $2)", commit_id, path)
    return None if r is None else StoredFile(r["commit_id"], r["hash"], r["size"])


async def dir_entries(db: Database, commit_id: str, prefix: str) -> list[DirEntry]:
    """The entries directly under ``prefix`` (a directory path ending in ``/``) as of a
    finished commit, unordered.
    """
    rows = await db.fetch(_CHILDREN_SQL, commit_id, prefix)
    return [DirEntry(r["name"], r["is_dir"], r["size"], r["hash"]) for r in rows]


async def dir_summary(db: Database, commit_id: str, prefix: str) -> tuple[int, int]:
    """How many files lie under ``prefix`` as of a finished commit, and their bytes."""
    r = await db.fetchrow(_SUMMARY_SQL, commit_id, prefix)
    return r["files"], r["size"]


async def live_files(db: Database, commit_id: str, prefix: str) -> dict[str, tuple[str, int]]:
    """Every file under ``prefix`` as of a finished commit: path → (hash, size)."""
    rows = await db.fetch(_FILES_SQL, commit_id, prefix)
    return {r["path"]: (r["hash"], r["size"]) for r in rows}


# ----------------------------------------------------------------------------- pipelines


_LAST_JOB = (
    ", (SELECT j.id FROM started_jobs j WHERE j.pipeline = s.name "
    "ORDER BY j.started DESC, j.id LIMIT 1) AS last_job, "
    "(SELECT j.state FROM started_jobs j WHERE j.pipeline = s.name "
    "ORDER BY j.started DESC, j.id LIMIT 1) AS last_state "
)


async def current_pipelines(db: Database, *, last_jobs: bool = False) -> list[PipelineVersion]:
    """Every pipeline that is not deleted, at its current version, by name; with each one's
    newest job when ``last_jobs``.
    """
    rows = await db.fetch(
        "SELECT s.name, s.version, s.state, p.created, p.spec, "
        "(SELECT min(created) FROM pipelines o WHERE o.name = s.name) AS first_created"
        + (_LAST_JOB if last_jobs else " ")
        + "FROM pipeline_states s JOIN pipelines p ON p.name = s.name AND p.version = s.version "
        "WHERE s.state <> 'deleted' ORDER BY s.name"
    )
    return [
        PipelineVersion(
            name=r["name"],
            version=r["version"],
            state=r["state"],
            created=r["created"],
            first_created=r["first_created"],
            spec=orjson.loads(r["spec"]),
            last_job=r["last_job"] if last_jobs else None,
            last_job_state=r["last_state"] if last_jobs else None,
        )
        for r in rows
    ]


# ----------------------------------------------------------------------------- jobs


async def list_jobs(db: Database, pipeline: str | None = None) -> list[JobInfo]:
    """Started jobs (of one pipeline when given), newest first."""
    if pipeline is None:
        rows = await db.fetch("SELECT * FROM started_jobs ORDER BY started DESC, id")
    else:
        rows = await db.fetch(
            "SELECT * FROM started_jobs WHERE pipeline = $1 ORDER BY started DESC, id", pipeline
        )
    return [job_info(r) for r in rows]


async def job(db: Database, job_id: str) -> JobInfo | None:
    """A started job; None when unknown (or its end overtook its start)."""
    r = await db.fetchrow("SELECT * FROM started_jobs WHERE id = $1", job_id)
    return None if r is None else job_info(r)


async def ended_job(db: Database, job_id: str) -> JobInfo | None:
    """A started job once it has ended; None before."""
    r = await db.fetchrow(
        "SELECT * FROM started_jobs WHERE id = $1 AND state = ANY($2::text[])",
        job_id,
        list(FINISHED_JOB_STATES),
    )
    return None if r is None else job_info(r)


async def ended_job_reading(
    db: Database, pipeline: str, repo: str, commit_id: str
) -> JobInfo | None:
    """The first ended job of a pipeline that read ``repo@commit_id`` or a later commit of
    its branch; None while there is none.

    The commits first (the branch's index from the commit on), then the jobs that read each
    (the ``jobs_inputs`` index): O(commits since), not O(jobs of the pipeline). Both steps
    are fenced (MATERIALIZED, OFFSET 0): left to itself, the planner walked the pipeline's
    jobs in start order, guessing a third of the commits to come after any commit.
    """
    r = await db.fetchrow(
        "WITH c AS MATERIALIZED (SELECT repo, branch, started FROM commits WHERE id = $3), "
        "ids AS MATERIALIZED (SELECT $3::text AS id UNION ALL SELECT later.id FROM commits "
        "  later WHERE later.repo = (SELECT repo FROM c) AND later.branch = (SELECT branch "
        "  FROM c) AND later.started > (SELECT started FROM c)), "
        "hits AS MATERIALIZED (SELECT j.* FROM ids CROSS JOIN LATERAL (SELECT * FROM "
        "  started_jobs j WHERE j.inputs @> jsonb_build_array(jsonb_build_object("
        "  'repo', $2::text, 'commit', ids.id)) AND j.pipeline = $1 "
        "  AND j.state = ANY($4::text[]) OFFSET 0) j) "
        "SELECT * FROM hits ORDER BY started LIMIT 1",
        pipeline,
        repo,
        commit_id,
        list(FINISHED_JOB_STATES),
    )
    return None if r is None else job_info(r)


async def newest_job_id(db: Database, pipeline: str) -> str | None:
    """The id of a pipeline's newest started job; None before its first."""
    found: str | None = await db.fetchval(
        "SELECT id FROM started_jobs WHERE pipeline = $1 ORDER BY started DESC, id LIMIT 1",
        pipeline,
    )
    return found


async def job_ids_since(db: Database, pipeline: str, job_id: str) -> list[str]:
    """The ids of a pipeline's started jobs from ``job_id``'s start on (every one when it is
    unknown), oldest first.
    """
    rows = await db.fetch(
        "SELECT id FROM started_jobs WHERE pipeline = $1 AND started >= "
        "coalesce((SELECT started FROM started_jobs WHERE id = $2), 0) "
        "ORDER BY started, id",
        pipeline,
        job_id,
    )
    return [r["id"] for r in rows]


async def job_state(db: Database, job_id: str) -> str | None:
    """A job's state as the tables know it (started or not); None when unknown."""
    state: str | None = await db.fetchval("SELECT state FROM jobs WHERE id = $1", job_id)
    return state


async def jobs_active(db: Database, since: float) -> bool:
    """Whether a job has started and not ended, or ended after ``since`` (epoch seconds);
    both by the index ``jobs_finished``.
    """
    active: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE finished IS NULL AND started IS NOT NULL) "
        "OR EXISTS (SELECT 1 FROM jobs WHERE finished > $1)",
        since,
    )
    return active


async def pipelines_at_work(db: Database, since: float) -> set[str]:
    """The pipelines with a job started and not ended, or ended after ``since`` (epoch
    seconds); by the index ``jobs_finished``, as :func:`jobs_active`.
    """
    rows = await db.fetch(
        "SELECT DISTINCT pipeline FROM jobs WHERE finished IS NULL OR finished > $1", since
    )
    return {r["pipeline"] for r in rows}


# ----------------------------------------------------------------------------- datums


async def datums(db: Database, job_id: str) -> list[DatumInfo]:
    """The datums workers ran in a job, by id."""
    rows = await db.fetch("SELECT * FROM datums WHERE job_id = $1 ORDER BY datum_id", job_id)
    return [datum_info(r) for r in rows]


async def datum(db: Database, job_id: str, datum_id: str) -> DatumInfo | None:
    """One datum of a job; None when it did not run there."""
    r = await db.fetchrow(
        "SELECT * FROM datums WHERE job_id = $1 AND datum_id = $2", job_id, datum_id
    )
    return None if r is None else datum_info(r)


async def datum_keys(
    db: Database, job_ids: Sequence[str], datum_id: str | None = None
) -> list[tuple[str, str]]:
    """(job id, datum id) of the datums run in these jobs (only ``datum_id`` when given), in
    that order.
    """
    rows = await db.fetch(
        "SELECT job_id, datum_id FROM datums WHERE job_id = ANY($1::text[]) "
        "AND ($2::text IS NULL OR datum_id = $2) ORDER BY job_id, datum_id",
        list(job_ids),
        datum_id,
    )
    return [(r["job_id"], r["datum_id"]) for r in rows]


async def datum_logs(db: Database, job_id: str, datum_id: str | None = None) -> list[DatumLog]:
    """The log columns of a job's datums (only ``datum_id`` when given), by datum id."""
    sql = (
        "SELECT datum_id, state, tries, stdout_tail, stderr_tail, log_ref FROM datums "
        "WHERE job_id = $1"
    )
    args: list[Any] = [job_id]
    if datum_id is not None:
        sql += " AND datum_id = $2"
        args.append(datum_id)
    rows = await db.fetch(sql + " ORDER BY datum_id", *args)
    return [
        DatumLog(
            r["datum_id"], r["state"], r["tries"], r["stdout_tail"], r["stderr_tail"], r["log_ref"]
        )
        for r in rows
    ]


# ----------------------------------------------------------------------------- lineage


async def file_lineage(
    db: Database,
    direction: Literal["upstream", "downstream"],
    file: FileVersion,
    depth: int = DEFAULT_DEPTH,
) -> Lineage:
    """Everything upstream (datums, jobs, pipeline versions, input files behind it) or
    downstream (every output derived from its content) of a file, ``depth`` levels at most:
    one call of the SQL function ``lineage_upstream``/``lineage_downstream``, so a user with
    psql gets the same rows.
    """
    fn = "lineage_upstream" if direction == "upstream" else "lineage_downstream"
    rows = await db.fetch(
        f"SELECT * FROM {fn}($1, $2, $3, $4)", file.repo, file.commit, file.path, depth
    )
    return lineage(direction, file, edges_from_rows(rows))


async def commit_lineage(
    db: Database, repo: str, commit_id: str, depth: int = DEFAULT_DEPTH
) -> CommitLineage:
    """A commit's provenance and subvenance (``commit_upstream``/``commit_downstream``)."""
    up = await db.fetch("SELECT * FROM commit_upstream($1, $2)", commit_id, depth)
    down = await db.fetch("SELECT * FROM commit_downstream($1, $2)", commit_id, depth)
    return CommitLineage(repo, commit_id, commit_edges(up), commit_edges(down))


__all__ = [
    "DEFAULT_DEPTH",
    "FINISHED_JOB_STATES",
    "SCHEMA_VERSION",
    "BranchInfo",
    "CommitEdge",
    "CommitInfo",
    "CommitLineage",
    "Database",
    "DatumInfo",
    "DatumLog",
    "DirEntry",
    "FileChange",
    "FileVersion",
    "JobInfo",
    "Lineage",
    "LineageEdge",
    "PipelineVersion",
    "RepoInfo",
    "RequestAnswer",
    "StoredFile",
    "TreeNode",
    "ancestry",
    "branch",
    "commit",
    "commit_chain",
    "commit_commitset",
    "commit_lineage",
    "commitset_commit",
    "commitset_commits",
    "commitset_jobs",
    "current_pipelines",
    "datum",
    "datum_keys",
    "datum_logs",
    "datums",
    "dir_entries",
    "dir_summary",
    "ended_job",
    "ended_job_reading",
    "events_applied",
    "file_at",
    "file_changes",
    "file_lineage",
    "finished_commits",
    "job",
    "job_ids_since",
    "job_state",
    "jobs_active",
    "known_chunks",
    "last_changed",
    "list_branches",
    "list_jobs",
    "list_repos",
    "live_files",
    "newest_job_id",
    "notify_channel",
    "open_commits",
    "pipelines_at_work",
    "recent_commitsets",
    "repo_commits",
    "repo_exists",
    "repo_names",
    "repo_owner",
    "request_answers",
    "schema_ready",
    "schema_version",
    "tree",
]
