"""Facts → SQL statements: the pure row mapping of the lineage materializer."""

from __future__ import annotations

import orjson
import pytest

from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    CommitFinished,
    CommitStarted,
    RepoCreated,
    RepoDeleted,
    RequestDone,
)
from pachstream.errors import EventDecodeError
from pachstream.lineage._rows import (
    DELETE_BRANCH,
    DELETE_REPO,
    DELETE_REPO_BRANCHES,
    DELETE_REPO_COMMITS,
    DELETE_REPO_FILES,
    INSERT_BLOB,
    INSERT_COMMIT_FILE,
    INSERT_REQUEST,
    UPSERT_BRANCH,
    UPSERT_FINISHED,
    UPSERT_REPO,
    UPSERT_STARTED,
    blob_rows,
    commit_file_rows,
    rows_for,
    stored_diff_rows,
)
from pachstream.model import Chunk, DiffEntry, FileEntry
from pachstream.tree import entry_to_raw, pack_diff

C1 = Chunk(hash="a" * 64, size=3, pack="packs/p", offset=7)
C2 = Chunk(hash="b" * 64, size=2_000_000)
ONE = FileEntry(hash=C1.hash, size=3, chunks=(C1,))
TWO = FileEntry(hash="c" * 64, size=2_000_003, chunks=(C1, C2))
CID, PARENT = "1" * 32, "2" * 32


def finished(**kw) -> CommitFinished:
    fields = dict(
        event_id="e",
        request_id="req",
        repo="r",
        branch="master",
        commit_id=CID,
        parent=PARENT,
        started=1.0,
        finished=2.0,
        description="msg",
        root="manifests/x",
        file_count=10,
        size_bytes=100,
        added=1,
        modified=1,
        deleted=1,
        diff_ref="diffs/" + CID,
        diff=None,
    )
    return CommitFinished(**(fields | kw))


FINISHED_ARGS = (CID, "r", "master", PARENT, "msg", 1.0, 2.0, "manifests/x", 10, 100, 1, 1, 1)
FINISHED_ARGS += ("diffs/" + CID, "req", CID)  # a commit of no set is a set of its own

CASES = [
    (
        "repo created",
        RepoCreated(event_id="e", request_id="q", repo="r", time=1.5, description="d"),
        [(UPSERT_REPO, ("r", "d", 1.5, None))],
    ),
    (
        "repo deleted: branches, commit files, commits, then the repo",
        RepoDeleted(event_id="e", request_id="q", repo="r", time=2.0),
        [
            (DELETE_REPO_BRANCHES, ("r",)),
            (DELETE_REPO_FILES, ("r",)),
            (DELETE_REPO_COMMITS, ("r",)),
            (DELETE_REPO, ("r",)),
        ],
    ),
    (
        "branch set",
        BranchSet(event_id="e", request_id="q", repo="r", branch="dev", head=CID, time=3.0),
        [(UPSERT_BRANCH, ("r", "dev", CID, 3.0))],
    ),
    (
        "empty branch set",
        BranchSet(event_id="e", request_id="q", repo="r", branch="dev", head=None, time=3.0),
        [(UPSERT_BRANCH, ("r", "dev", None, 3.0))],
    ),
    (
        "branch deleted",
        BranchDeleted(event_id="e", request_id="q", repo="r", branch="dev", time=4.0),
        [(DELETE_BRANCH, ("r", "dev"))],
    ),
    (
        "commit started: the commit row and the branch head",
        CommitStarted(
            event_id="e",
            request_id="q",
            repo="r",
            branch="master",
            commit_id=CID,
            parent=PARENT,
            time=5.0,
            description="m",
        ),
        [
            (UPSERT_STARTED, (CID, "r", "master", PARENT, "m", 5.0, "q", CID)),
            (UPSERT_BRANCH, ("r", "master", CID, 5.0)),
        ],
    ),
    ("commit finished, no diff", finished(), [(UPSERT_FINISHED, FINISHED_ARGS)]),
    (
        "commit finished with an empty root",
        finished(root="", file_count=0, size_bytes=0),
        [(UPSERT_FINISHED, (*FINISHED_ARGS[:7], None, 0, 0, *FINISHED_ARGS[10:]))],
    ),
    (
        "commit finished: inline diff gives blob rows of new content, and every changed path",
        finished(
            diff=(
                DiffEntry(path="/a", change="added", file=ONE, old=None),
                DiffEntry(path="/b", change="modified", file=TWO, old=ONE),
                DiffEntry(path="/c", change="deleted", file=None, old=TWO),
            )
        ),
        [
            (UPSERT_FINISHED, FINISHED_ARGS),
            (INSERT_BLOB, (C1.hash, 3, "packs/p", 7)),
            (INSERT_BLOB, (C1.hash, 3, "packs/p", 7)),
            (INSERT_BLOB, (C2.hash, 2_000_000, None, 0)),
            (INSERT_COMMIT_FILE, (CID, "r", "/a", "added", ONE.hash, 3)),
            (INSERT_COMMIT_FILE, (CID, "r", "/b", "modified", TWO.hash, 2_000_003)),
            (INSERT_COMMIT_FILE, (CID, "r", "/c", "deleted", None, None)),
        ],
    ),
    (
        "request applied",
        RequestDone(event_id="e", request_id="q", repo="r", ok=True, commit_id=CID),
        [(INSERT_REQUEST, ("q", "r", True, CID, None, None, None))],
    ),
    (
        "request refused: fields as JSON text",
        RequestDone(
            event_id="e",
            request_id="q",
            repo="r",
            ok=False,
            error_code="RepoExists",
            error_message="repo 'r' already exists",
            error_fields={"repo": "r", "n": 1},
        ),
        [
            (
                INSERT_REQUEST,
                (
                    "q",
                    "r",
                    False,
                    None,
                    "RepoExists",
                    "repo 'r' already exists",
                    '{"repo":"r","n":1}',
                ),
            )
        ],
    ),
    (
        "request refused with empty fields",
        RequestDone(
            event_id="e", request_id="q", repo="r", ok=False, error_code="X", error_fields={}
        ),
        [(INSERT_REQUEST, ("q", "r", False, None, "X", None, None))],
    ),
]


@pytest.mark.parametrize(("name", "fact", "statements"), CASES, ids=[c[0] for c in CASES])
def test_rows_for(name, fact, statements):
    assert rows_for(fact) == statements
    assert rows_for(fact) == rows_for(fact)  # pure: the same fact, the same rows


def test_full_diff_replaces_the_inline_one():
    raw = [
        ["/a", "added", entry_to_raw(ONE), None],
        ["/b", "modified", entry_to_raw(TWO), entry_to_raw(ONE)],
        ["/c", "deleted", None, entry_to_raw(TWO)],
    ]
    fact = finished(diff=(DiffEntry(path="/z", change="added", file=TWO, old=None),))
    assert rows_for(fact, raw) == [
        (UPSERT_FINISHED, FINISHED_ARGS),
        (INSERT_BLOB, (C1.hash, 3, "packs/p", 7)),
        (INSERT_BLOB, (C1.hash, 3, "packs/p", 7)),
        (INSERT_BLOB, (C2.hash, 2_000_000, None, 0)),
        (INSERT_COMMIT_FILE, (CID, "r", "/a", "added", ONE.hash, 3)),
        (INSERT_COMMIT_FILE, (CID, "r", "/b", "modified", TWO.hash, 2_000_003)),
        (INSERT_COMMIT_FILE, (CID, "r", "/c", "deleted", None, None)),
    ]
    assert rows_for(fact, raw)[1:4] == blob_rows(raw)
    assert blob_rows(orjson.loads(orjson.dumps(raw))) == blob_rows(raw)  # as read from the store
    assert rows_for(fact, []) == [(UPSERT_FINISHED, FINISHED_ARGS)]


THREE = FileEntry(hash="d" * 64, size=9, chunks=(Chunk(hash="d" * 64, size=9, offset=4),))
"""One chunk, the whole file, in no pack: packed in the short form, with None for its pack."""

DIFFS = {
    "added, modified, deleted": [
        ["/a", "added", entry_to_raw(ONE), None],
        ["/b", "modified", entry_to_raw(TWO), entry_to_raw(ONE)],
        ["/c", "deleted", None, entry_to_raw(TWO)],
    ],
    "one chunk in no pack": [["/d", "added", entry_to_raw(THREE), None]],
    "one content at two paths": [
        ["/e", "added", entry_to_raw(ONE), None],
        ["/f", "added", entry_to_raw(ONE), None],
    ],
    "deletes only": [["/g", "deleted", None, entry_to_raw(ONE)]],
    "nothing": [],
}


@pytest.mark.parametrize("raw", DIFFS.values(), ids=DIFFS.keys())
def test_a_stored_diff_gives_the_rows_of_its_raw_rows(raw):
    """Packed (as stored since version 4) or a plain list (before): straight to the rows the
    raw rows give, as written and as read back from the store."""
    want = blob_rows(raw) + commit_file_rows(CID, "r", raw)
    for stored in (pack_diff(raw), raw):
        read_back = orjson.loads(orjson.dumps(stored))
        assert stored_diff_rows(CID, "r", stored) == want
        assert stored_diff_rows(CID, "r", read_back) == want
        assert stored_diff_rows(CID, "r", read_back, blobs=False) == want[len(blob_rows(raw)) :]
        assert rows_for(finished(), read_back) == [(UPSERT_FINISHED, FINISHED_ARGS), *want]


NOT_DIFFS = {
    "a number": 7,
    "no packs": {"rows": []},
    "no rows": {"packs": []},
    "rows not a list": {"packs": [], "rows": 3},
    "a row too short": {"packs": ["p"], "rows": [["/a", "added", ["h", 1, 0, 0]]]},
    "an entry of two fields": {"packs": ["p"], "rows": [["/a", "added", ["h", 1], None]]},
    "a pack index out of range": {"packs": ["p"], "rows": [["/a", "added", ["h", 1, 5, 0], None]]},
    "a chunk too short": {"packs": ["p"], "rows": [["/a", "added", ["h", 1, [["h", 1]]], None]]},
    "a plain row without chunks": [["/a", "added", ["h", 1], None]],
}


@pytest.mark.parametrize("stored", NOT_DIFFS.values(), ids=NOT_DIFFS.keys())
def test_what_is_no_diff_is_refused_naming_the_commit(stored):
    with pytest.raises(
        EventDecodeError, match=f"diff object 'diffs/x' is not a diff .commit {CID}"
    ):
        stored_diff_rows(CID, "r", stored, key="diffs/x")


def test_unknown_facts_give_no_rows():
    assert rows_for(object()) == []


PLACEHOLDER_CASES = [
    (UPSERT_REPO, 4),
    (DELETE_REPO, 1),
    (DELETE_REPO_BRANCHES, 1),
    (DELETE_REPO_COMMITS, 1),
    (UPSERT_BRANCH, 4),
    (DELETE_BRANCH, 2),
    (UPSERT_STARTED, 8),
    (UPSERT_FINISHED, 16),
    (INSERT_REQUEST, 7),
    (INSERT_BLOB, 4),
    (INSERT_COMMIT_FILE, 6),
    (DELETE_REPO_FILES, 1),
]


@pytest.mark.parametrize(
    ("sql", "count"), PLACEHOLDER_CASES, ids=[c[0][:30] for c in PLACEHOLDER_CASES]
)
def test_statements_take_as_many_arguments_as_they_have_placeholders(sql, count):
    assert [f"${i}" in sql for i in range(1, count + 2)] == [True] * count + [False]


IDEMPOTENCE_CASES = [
    # first wins: a retried request's later answer must not replace the real one
    (INSERT_REQUEST, "ON CONFLICT (request_id) DO NOTHING"),
    # the same content in two places, met in any order: the smallest location wins
    (
        INSERT_BLOB,
        "WHERE (COALESCE(EXCLUDED.pack, ''), EXCLUDED.pack_offset) < "
        "(COALESCE(blobs.pack, ''), blobs.pack_offset)",
    ),
    (INSERT_COMMIT_FILE, "ON CONFLICT DO NOTHING"),
    # a CommitStarted replayed after its CommitFinished must not reopen the commit
    (UPSERT_STARTED, "ON CONFLICT (id) DO NOTHING"),
    (UPSERT_FINISHED, "ON CONFLICT (id) DO UPDATE SET"),
    (UPSERT_REPO, "ON CONFLICT (name) DO UPDATE SET"),
    (UPSERT_BRANCH, "ON CONFLICT (repo, name) DO UPDATE SET"),
]


@pytest.mark.parametrize(
    ("sql", "clause"), IDEMPOTENCE_CASES, ids=[c[1] for c in IDEMPOTENCE_CASES]
)
def test_inserts_are_idempotent(sql, clause):
    if clause.endswith("DO NOTHING"):
        assert sql.endswith(clause) and "DO UPDATE" not in sql
    else:
        assert clause in sql


def test_finished_upsert_keeps_the_started_columns():
    updated = UPSERT_FINISHED.split("DO UPDATE SET", 1)[1]
    assert "request_id" not in updated and "started" not in updated and "parent" not in updated
