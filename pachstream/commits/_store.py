"""The commit processor's checkpoint: repos, commits and offsets in one statement.

A batch's changes (:func:`checkpoint_rows`, pure) are columns of arrays, and
:data:`CHECKPOINT` writes them all at once: one statement is one transaction and one round
trip, where a transaction of a statement per table was five to eight, paid after every batch
of requests.

One statement sees one snapshot, and Postgres does not define the outcome when two of its
parts change one row. So the deletes leave alone every row the batch writes again: a repo
deleted and created again in one batch (or a commit removed and made again) is upserted, not
deleted and inserted; the final rows are those a delete-then-write transaction left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from pachstream.commits._core import CommitInfo, RepoState
from pachstream.processor import columns, offsets_columns, offsets_cte

FORGET_ALL = 2**62
"""A ``forget`` bound past every sequence number: a deleted repo's ids all go (but those its
namesake created again in the batch writes)."""


@dataclass
class CheckpointRows:
    """What one batch changed in the commit processor's tables."""

    dropped: list[str] = field(default_factory=list)
    """Repos deleted in the batch: their old rows go (all but those written again)."""
    removed: list[tuple[str, str]] = field(default_factory=list)
    """(repo, commit id) of commits removed (squashed, deleted)."""
    repos: list[tuple[str, str]] = field(default_factory=list)
    """(repo, state JSON) to upsert."""
    commits: list[tuple[str, str, str, str | None, str | None, bool]] = field(default_factory=list)
    """(repo, commit id, branch, parent, root, finished) to upsert."""
    recent: list[tuple[str, int, str]] = field(default_factory=list)
    """(repo, sequence number, request id) of request ids remembered in the batch."""
    forget: list[tuple[str, int]] = field(default_factory=list)
    """(repo, sequence number): that repo's recent ids up to it are forgotten (their rows go)."""


def checkpoint_rows(
    repos: dict[str, RepoState], touched: set[str], deleted: set[str]
) -> CheckpointRows:
    """The rows a batch that touched ``touched`` (of which ``deleted`` were deleted, maybe
    created again) leaves to write; clears each repo's dirty and removed marks. Pure but for
    those marks.
    """
    out = CheckpointRows()
    for name in sorted(touched):
        repo = repos.get(name)
        if name in deleted:
            out.dropped.append(name)
            out.forget.append((name, FORGET_ALL))
            if repo is not None:
                # Created again after its delete: every commit it has is new.
                repo.dirty_commits = set(repo.commits)
                repo.recent_unsaved = len(repo.recent)
        if repo is None:
            continue
        out.removed += [(name, cid) for cid in sorted(repo.removed_commits)]
        repo.removed_commits.clear()
        out.repos.append((name, orjson.dumps(repo.to_json()).decode()))
        for cid in sorted(repo.dirty_commits):
            c = repo.commits[cid]
            out.commits.append((name, cid, c.branch, c.parent, c.root, c.finished))
        repo.dirty_commits.clear()
        if repo.recent_unsaved:
            out.recent += [(name, seq, rid) for seq, rid in repo.unsaved_recent()]
            if name not in deleted:
                out.forget.append((name, repo.recent_seq - len(repo.recent)))
            repo.recent_unsaved = 0
    return out


def _checkpoint_sql() -> str:
    dropped = "$1::text[]"
    removed = "$2::text[], $3::text[]"
    repos = "$4::text[], $5::jsonb[]"
    commits = "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[]"
    recent = "$12::text[], $13::bigint[], $14::text[]"
    forget = "$15::text[], $16::bigint[]"
    return (
        "WITH "
        f"new_repos AS (SELECT * FROM unnest({repos}) AS n(repo, state)), "
        f"new_commits AS (SELECT * FROM unnest({commits}) "
        "AS n(repo, commit_id, branch, parent, root, finished)), "
        "drop_repos AS (DELETE FROM commits_repos r "
        f"WHERE r.repo = ANY({dropped}) "
        "AND NOT EXISTS (SELECT 1 FROM new_repos n WHERE n.repo = r.repo)), "
        # Two deletes, each a lookup of the primary key (a repo's range, or a pair): as one
        # with OR, Postgres scanned every commit of every repo at every checkpoint (72 ms
        # with a million commits). They never share a row: the pairs skip dropped repos.
        "drop_repo_commits AS (DELETE FROM commits_commits c "
        f"WHERE c.repo = ANY({dropped}) "
        "AND NOT EXISTS (SELECT 1 FROM new_commits n "
        "WHERE n.repo = c.repo AND n.commit_id = c.commit_id)), "
        "drop_commits AS (DELETE FROM commits_commits c "
        f"USING unnest({removed}) AS d(repo, commit_id) "
        "WHERE c.repo = d.repo AND c.commit_id = d.commit_id "
        f"AND NOT c.repo = ANY({dropped}) "
        "AND NOT EXISTS (SELECT 1 FROM new_commits n "
        "WHERE n.repo = c.repo AND n.commit_id = c.commit_id)), "
        "put_repos AS (INSERT INTO commits_repos SELECT * FROM new_repos "
        "ON CONFLICT (repo) DO UPDATE SET state = EXCLUDED.state), "
        "put_commits AS (INSERT INTO commits_commits SELECT * FROM new_commits "
        "ON CONFLICT (repo, commit_id) DO UPDATE SET root = EXCLUDED.root, "
        "finished = EXCLUDED.finished, parent = EXCLUDED.parent), "
        f"new_recent AS (SELECT * FROM unnest({recent}) AS n(repo, seq, request_id)), "
        # The forgotten rows of a repo are a range of its primary key: an index scan.
        f"drop_recent AS (DELETE FROM commits_recent r USING unnest({forget}) AS f(repo, upto) "
        "WHERE r.repo = f.repo AND r.seq <= f.upto "
        "AND NOT EXISTS (SELECT 1 FROM new_recent n WHERE n.repo = r.repo AND n.seq = r.seq)), "
        "put_recent AS (INSERT INTO commits_recent SELECT * FROM new_recent "
        "ON CONFLICT (repo, seq) DO UPDATE SET request_id = EXCLUDED.request_id), "
        f"{offsets_cte('commits', 17)} SELECT 1"
    )


CHECKPOINT = _checkpoint_sql()
"""A batch's rows (:func:`checkpoint_args`) and its offsets in one statement."""


def checkpoint_args(rows: CheckpointRows, offsets: dict[tuple[str, int], int]) -> list[Any]:
    """The parameters of :data:`CHECKPOINT`, in order."""
    return [
        rows.dropped,
        *columns(rows.removed, 2),
        *columns(rows.repos, 2),
        *columns(rows.commits, 6),
        *columns(rows.recent, 3),
        *columns(rows.forget, 2),
        *offsets_columns(offsets),
    ]


_PAIRS = "unnest($1::text[], $2::text[]) AS n(repo, commit_id)"
"""The (repo, commit id) pairs of a load as a relation ``n``; its parameters are the pairs'
:func:`~pachstream.processor.columns`."""

LOAD_COMMITS = f"SELECT c.* FROM commits_commits c JOIN {_PAIRS} USING (repo, commit_id)"
"""The rows of (repo, commit id) pairs: the live commits a restart brings back to memory."""

LOAD_NAMED = (
    f"WITH n AS (SELECT * FROM {_PAIRS}), named AS ({LOAD_COMMITS}) "
    "SELECT * FROM named "
    # Children by the (repo, parent) index, not a scan of the repo's history.
    "UNION SELECT c.* FROM commits_commits c JOIN n ON c.repo = n.repo AND c.parent = n.commit_id "
    "UNION SELECT c.* FROM commits_commits c JOIN named m "
    "ON c.repo = m.repo AND c.commit_id = m.parent"
)
"""The rows of the commits a batch names (:func:`._core.commit_named`), of their children and
of their parents: all a history request reads (its children, its parent's root)."""


def commit_infos(rows: Sequence[Any]) -> dict[str, dict[str, CommitInfo]]:
    """``commits_commits`` rows → repo → commit id → info. Pure."""
    out: dict[str, dict[str, CommitInfo]] = {}
    for row in rows:
        out.setdefault(row["repo"], {})[row["commit_id"]] = CommitInfo(
            branch=row["branch"], parent=row["parent"], root=row["root"], finished=row["finished"]
        )
    return out


async def load_commits(
    conn: Any, query: str, pairs: Sequence[tuple[str, str]]
) -> dict[str, dict[str, CommitInfo]]:
    """The commits ``query`` (:data:`LOAD_COMMITS`, :data:`LOAD_NAMED`) finds for ``pairs``
    of (repo, commit id).
    """
    if not pairs:
        return {}
    return commit_infos(await conn.fetch(query, *columns(pairs, 2)))


async def checkpoint(conn: Any, rows: CheckpointRows, offsets: dict[tuple[str, int], int]) -> None:
    """Commit a batch: its repos and commits and the offsets it read to."""
    await conn.execute(CHECKPOINT, *checkpoint_args(rows, offsets))
