"""Which rows of a lineage batch are loaded apart from its transaction (a table of cases):
only the blob index, only when there are many of its rows, and the other statements keep
their order."""

from __future__ import annotations

import pytest

from pachstream.lineage._materializer import APART_ROWS, set_apart
from pachstream.lineage._rows import (
    INSERT_BLOB,
    INSERT_COMMIT_FILE,
    UPSERT_BRANCH,
    UPSERT_FINISHED,
    Statement,
)

MANY = APART_ROWS + 1


def _blobs(n: int, start: int = 0) -> list[Statement]:
    return [(INSERT_BLOB, (f"h{k}", 1, "packs/p", k)) for k in range(start, start + n)]


def _files(n: int) -> list[Statement]:
    return [(INSERT_COMMIT_FILE, ("c", "r", f"/f{k}", "added", f"h{k}", 1)) for k in range(n)]


FINISHED: Statement = (UPSERT_FINISHED, ("c",))
BRANCH: Statement = (UPSERT_BRANCH, ("r", "master", "c", 1.0))

CASES = [
    # (what, statements, rows set apart, statements left)
    ("nothing", [], 0, []),
    ("no blob rows", [FINISHED, *_files(MANY), BRANCH], 0, [FINISHED, *_files(MANY), BRANCH]),
    ("few blob rows stay in the batch", [FINISHED, *_blobs(APART_ROWS)], 0,
     [FINISHED, *_blobs(APART_ROWS)]),
    ("many blob rows go apart", [FINISHED, *_blobs(MANY), BRANCH], MANY, [FINISHED, BRANCH]),
    ("counted over the whole batch, several facts", [*_blobs(3), FINISHED, *_blobs(MANY - 3)],
     MANY, [FINISHED]),
    ("file rows stay with their commit", [FINISHED, *_blobs(MANY), *_files(MANY)], MANY,
     [FINISHED, *_files(MANY)]),
]  # fmt: skip


@pytest.mark.parametrize(("what", "statements", "apart_rows", "rest"), CASES)
def test_set_apart(what, statements, apart_rows, rest) -> None:
    apart, left = set_apart(statements)
    assert left == rest, what
    assert sum(len(rows) for rows in apart.values()) == apart_rows, what
    if apart_rows:
        assert list(apart) == [INSERT_BLOB], what
        # Every blob row, in the order the facts gave them.
        assert apart[INSERT_BLOB] == [args for sql, args in statements if sql == INSERT_BLOB]
